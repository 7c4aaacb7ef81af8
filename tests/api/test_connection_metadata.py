"""Connection metadata: set at upload (single, batch, API key), replaced by its own endpoint,
kept by writes that do not name it, shown in the list and filtered by one key — on both
backends; bad metadata is a 400 that changes nothing."""

from __future__ import annotations

import secrets
from typing import Any

import httpx
import pytest

from tests.support.database import raw_dump
from tests.support.server import LiveServer

PATH = "/v1/mgmt/outbound/connections"
UPLOAD = "/v1/mgmt/outbound/app/user/oauthtoken/upload"


def _app(http: httpx.Client, **fields: Any) -> str:
    response = http.post(
        "/v1/mgmt/outbound/app/create",
        json={
            "name": "meta-" + secrets.token_hex(4),
            "tokenUrl": "https://provider.example/t",
            **fields,
        },
    )
    assert response.status_code == 200, response.text
    return str(response.json()["app"]["id"])


def _connections(http: httpx.Client, **params: str) -> list[dict[str, Any]]:
    response = http.get(PATH, params=params)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["connections"]
    return found


def _one(http: httpx.Client, app_id: str, user: str) -> dict[str, Any]:
    (connection,) = _connections(http, appId=app_id, userId=user)
    return connection


def test_metadata_set_at_upload_kept_by_writes_without_it_and_replaced(
    live_server: LiveServer,
) -> None:
    with live_server.client() as http:
        app_id = _app(http)
        metadata = {"plan": "pro", "seats": 5, "beta": True, "owner": {"team": "ünïcode"}}
        response = http.post(
            UPLOAD,
            json={"appId": app_id, "userId": "alice", "accessToken": "a1", "metadata": metadata},
        )
        assert response.status_code == 200, response.text
        assert _one(http, app_id, "alice")["metadata"] == metadata
        # a new token without metadata (what the official SDKs send) keeps it; null too
        for extra in ({}, {"metadata": None}):
            response = http.post(
                UPLOAD, json={"appId": app_id, "userId": "alice", "accessToken": "a2", **extra}
            )
            assert response.status_code == 200, response.text
            assert _one(http, app_id, "alice")["metadata"] == metadata
        # a user without any has {}
        http.post(UPLOAD, json={"appId": app_id, "userId": "bob", "accessToken": "b1"})
        assert _one(http, app_id, "bob")["metadata"] == {}
        # replaced whole by the update endpoint; {} clears it
        connection_id = _one(http, app_id, "alice")["id"]
        response = http.post(
            f"{PATH}/{connection_id}/metadata", json={"metadata": {"plan": "free"}}
        )
        assert response.status_code == 200, response.text
        assert response.json()["connection"]["metadata"] == {"plan": "free"}
        assert response.json()["connection"]["id"] == connection_id
        assert _one(http, app_id, "alice")["metadata"] == {"plan": "free"}
        response = http.post(f"{PATH}/{connection_id}/metadata", json={"metadata": {}})
        assert response.status_code == 200, response.text
        assert _one(http, app_id, "alice")["metadata"] == {}
        # audited, without the metadata itself
        events = http.get(
            "/v1/mgmt/outbound/audit", params={"action": "connection.metadata", "appId": app_id}
        ).json()["events"]
        assert len(events) == 2
        assert "free" not in str(events)


def test_metadata_on_api_keys_and_batches(live_server: LiveServer) -> None:
    with live_server.client() as http:
        app_id = _app(http)
        response = http.post(
            "/v1/mgmt/outbound/app/tenant/apikey/upload",
            json={"appId": app_id, "tenantId": "acme", "apiKey": "k", "metadata": {"env": "prod"}},
        )
        assert response.status_code == 200, response.text
        (tenant,) = _connections(http, appId=app_id, tenantId="acme")
        assert tenant["metadata"] == {"env": "prod"}
        response = http.post(
            "/v1/mgmt/outbound/app/user/oauthtoken/batch/upload",
            json={
                "tokens": [
                    {"appId": app_id, "userId": f"u{i}", "accessToken": "t", "metadata": {"i": i}}
                    for i in range(3)
                ]
            },
        )
        assert response.status_code == 200, response.text
        assert response.json()["failures"] == []
        assert [_one(http, app_id, f"u{i}")["metadata"] for i in range(3)] == [
            {"i": 0},
            {"i": 1},
            {"i": 2},
        ]


def test_the_list_filters_by_one_metadata_key(live_server: LiveServer) -> None:
    with live_server.client() as http:
        app_id = _app(http)
        rows = {
            "s1": {"plan": "pro", "seats": 5},
            "s2": {"plan": "free", "seats": "5"},
            "s3": {"plan": "pro", "beta": True, "a.b": "dotted", "ünï": "cödé"},
            "s4": {"nested": {"plan": "pro"}},
            "s5": {},
        }
        for user, metadata in rows.items():
            http.post(
                UPLOAD,
                json={"appId": app_id, "userId": user, "accessToken": "t", "metadata": metadata},
            )

        def users(**params: str) -> list[str]:
            return sorted(c["userId"] for c in _connections(http, appId=app_id, **params))

        assert users(**{"metadata.plan": "pro"}) == ["s1", "s3"]
        assert users(**{"metadata[plan]": "pro"}) == ["s1", "s3"]  # OpenAPI's deepObject form
        assert users(**{"metadata.plan": "free"}) == ["s2"]
        assert users(**{"metadata.plan": "enterprise"}) == []
        # a value that reads as a JSON number matches the number and the string
        assert users(**{"metadata.seats": "5"}) == ["s1", "s2"]
        assert users(**{"metadata.beta": "true"}) == ["s3"]
        assert users(**{"metadata.a.b": "dotted"}) == ["s3"]  # the key is all after "metadata."
        assert users(**{"metadata.ünï": "cödé"}) == ["s3"]
        # top-level keys only
        assert users(**{"metadata.nested": "pro"}) == []
        # together with the other filters, and paged
        page = http.get(PATH, params={"appId": app_id, "metadata.plan": "pro", "limit": "1"})
        first = page.json()
        assert len(first["connections"]) == 1 and first["nextCursor"]
        second = http.get(
            PATH,
            params={
                "appId": app_id,
                "metadata.plan": "pro",
                "limit": "1",
                "cursor": first["nextCursor"],
            },
        ).json()
        assert {first["connections"][0]["userId"], second["connections"][0]["userId"]} == {
            "s1",
            "s3",
        }


@pytest.mark.parametrize(
    "params",
    [
        {"metadata.a": "1", "metadata.b": "2"},
        {"metadata.": "x"},
        {'metadata.a"b': "x"},
        {"metadata.a\\b": "x"},
    ],
)
def test_bad_metadata_filters_are_400s(live_server: LiveServer, params: dict[str, str]) -> None:
    with live_server.client() as http:
        response = http.get(PATH, params=params)
        assert response.status_code == 400, response.text
        assert response.json()["errorCode"] == "E011003"


@pytest.mark.parametrize(
    ("metadata", "says"),
    [
        ([1, 2], "Expected `object"),
        ("text", "Expected `object"),
        (5, "Expected `object"),
        ({"big": "x" * 4090}, "at most 4096"),
    ],
)
def test_bad_metadata_is_a_400_and_nothing_is_lost(
    live_server: LiveServer, metadata: Any, says: str
) -> None:
    with live_server.client() as http:
        app_id = _app(http)
        kept = {"plan": "pro"}
        http.post(
            UPLOAD, json={"appId": app_id, "userId": "alice", "accessToken": "a1", "metadata": kept}
        )
        connection_id = _one(http, app_id, "alice")["id"]
        for path, body in (
            (
                UPLOAD,
                {"appId": app_id, "userId": "alice", "accessToken": "a2", "metadata": metadata},
            ),
            (
                "/v1/mgmt/outbound/app/user/oauthtoken/batch/upload",
                {
                    "tokens": [
                        {
                            "appId": app_id,
                            "userId": "alice",
                            "accessToken": "a3",
                            "metadata": metadata,
                        }
                    ]
                },
            ),
            (f"{PATH}/{connection_id}/metadata", {"metadata": metadata}),
            (
                "/v1/mgmt/outbound/app/connect",
                {"appId": app_id, "userId": "alice", "options": {"metadata": metadata}},
            ),
        ):
            response = http.post(path, json=body)
            assert response.status_code == 400, (path, response.text)
            assert response.json()["errorCode"] == "E011003"
            assert "metadata" in response.json()["errorMessage"]
            assert says in response.json()["errorMessage"]
        assert _one(http, app_id, "alice")["metadata"] == kept
        fetched = http.post(
            "/v1/mgmt/outbound/app/user/token/latest", json={"appId": app_id, "userId": "alice"}
        )
        assert fetched.json()["token"]["accessToken"] == "a1"


def test_metadata_of_exactly_4096_bytes_is_kept(live_server: LiveServer) -> None:
    with live_server.client() as http:
        app_id = _app(http)
        metadata = {"big": "x" * (4096 - len('{"big":""}'))}
        response = http.post(
            UPLOAD,
            json={"appId": app_id, "userId": "alice", "accessToken": "a", "metadata": metadata},
        )
        assert response.status_code == 200, response.text
        assert _one(http, app_id, "alice")["metadata"] == metadata


def test_updating_metadata_of_an_unknown_or_foreign_connection_is_404(
    live_server: LiveServer,
) -> None:
    with live_server.client() as http:
        app_id = _app(http)
        http.post(UPLOAD, json={"appId": app_id, "userId": "alice", "accessToken": "a"})
        connection_id = _one(http, app_id, "alice")["id"]
        response = http.post(f"{PATH}/tok_nope/metadata", json={"metadata": {}})
        assert response.status_code == 404
        assert response.json()["errorCode"] == "E111504"
        response = http.post(f"{PATH}/{connection_id}/metadata", json={})
        assert response.status_code == 400
        assert response.json()["errorCode"] == "E011002"
    project, key = live_server.new_project()
    with httpx.Client(
        base_url=live_server.base_url, headers={"Authorization": f"Bearer {project}:{key}"}
    ) as other:
        response = other.post(f"{PATH}/{connection_id}/metadata", json={"metadata": {"x": 1}})
        assert response.status_code == 404


def test_metadata_is_plain_data_stored_unsealed_and_audited_without_it(
    live_server: LiveServer,
) -> None:
    marker = "metadata-marker-" + secrets.token_hex(6)
    with live_server.client() as http:
        app_id = _app(http)
        response = http.post(
            UPLOAD,
            json={
                "appId": app_id,
                "userId": "alice",
                "accessToken": "a",
                "metadata": {"m": marker},
            },
        )
        assert response.status_code == 200, response.text
        connection_id = _one(http, app_id, "alice")["id"]
        http.post(f"{PATH}/{connection_id}/metadata", json={"metadata": {"m": marker + "-2"}})
        events = http.get("/v1/mgmt/outbound/audit", params={"appId": app_id}).json()["events"]
        assert {e["action"] for e in events} >= {"token.upload", "connection.metadata"}
        assert marker not in str(events)
    # what the docs say: it is not sealed, so it is readable (and searchable) as written
    assert (marker + "-2").encode() in raw_dump(live_server.store)
