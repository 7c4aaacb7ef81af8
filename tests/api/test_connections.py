"""``GET /v1/mgmt/outbound/connections``: status, filters, keyset pages stable under inserts,
clear 400s, no secrets, one project only."""

from __future__ import annotations

import secrets
from typing import Any

import httpx
import pytest

from tests.support.database import execute
from tests.support.server import LiveServer

PATH = "/v1/mgmt/outbound/connections"


def _app(http: httpx.Client) -> str:
    response = http.post(
        "/v1/mgmt/outbound/app/create",
        json={"name": "conn-" + secrets.token_hex(4), "tokenUrl": "https://provider.example/t"},
    )
    assert response.status_code == 200, response.text
    return str(response.json()["app"]["id"])


def _upload(http: httpx.Client, app_id: str, user: str, **fields: Any) -> None:
    response = http.post(
        "/v1/mgmt/outbound/app/user/oauthtoken/upload",
        json={"appId": app_id, "userId": user, **fields},
    )
    assert response.status_code == 200, response.text


def _all_pages(http: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    cursor = ""
    while True:
        response = http.get(PATH, params={**params, **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200, response.text
        found += response.json()["connections"]
        cursor = response.json()["nextCursor"]
        if not cursor:
            return found


def test_connections_show_status_and_never_a_secret(live_server: LiveServer) -> None:
    with live_server.client() as http:
        app_id = _app(http)
        canaries = {}
        for user in ("alice", "bob", "carol"):
            canaries[user] = (
                "access-canary-" + secrets.token_hex(8),
                "refresh-canary-" + secrets.token_hex(8),
            )
            _upload(
                http,
                app_id,
                user,
                accessToken=canaries[user][0],
                refreshToken=canaries[user][1],
                accessTokenExpiry=1893456000,
                scopes=["read", "write"],
                tenantId="acme" if user == "carol" else None,
            )
        # bob's provider refused him; carol's keeps failing transiently
        execute(
            live_server.store,
            "UPDATE tokens SET needs_reconnect = 1, last_refresh_error = 'invalid_grant'"
            " WHERE app_id = ? AND user_id = 'bob'",
            (app_id,),
        )
        execute(
            live_server.store,
            "UPDATE tokens SET failing_since = 1767225600, failure_count = 3,"
            " last_refresh_error = 'server_error' WHERE app_id = ? AND user_id = 'carol'",
            (app_id,),
        )
        response = http.get(PATH, params={"appId": app_id})
        assert response.status_code == 200
        body = response.json()
        assert body["nextCursor"] == ""
        by_user = {c["userId"]: c for c in body["connections"]}
        assert set(by_user) == {"alice", "bob", "carol"}
        alice = by_user["alice"]
        assert set(alice) == {
            "id",
            "appId",
            "userId",
            "tenantId",
            "status",
            "scopes",
            "accessTokenExpiry",
            "lastRefreshTime",
            "lastRefreshError",
            "failingSince",
            "failureCount",
            "createdTime",
            "metadata",
        }
        assert alice["status"] == "active"
        assert alice["scopes"] == ["read", "write"]
        assert alice["accessTokenExpiry"] == "1893456000"
        assert by_user["bob"]["status"] == "reconnect_required"
        assert by_user["bob"]["lastRefreshError"] == "invalid_grant"
        assert by_user["carol"]["status"] == "refresh_failing"
        assert by_user["carol"]["failingSince"] == "1767225600"
        assert by_user["carol"]["failureCount"] == 3
        assert by_user["carol"]["tenantId"] == "acme"
        for access, refresh in canaries.values():
            assert access not in response.text and refresh not in response.text

        for status, users in (
            ("active", ["alice"]),
            ("reconnect_required", ["bob"]),
            ("refresh_failing", ["carol"]),
        ):
            found = http.get(PATH, params={"appId": app_id, "status": status}).json()
            assert [c["userId"] for c in found["connections"]] == users
        assert [c["userId"] for c in _all_pages(http, userId="bob", appId=app_id)] == ["bob"]
        assert [c["userId"] for c in _all_pages(http, tenantId="acme", appId=app_id)] == ["carol"]


def test_keyset_pages_neither_repeat_nor_skip_while_rows_are_inserted(
    live_server: LiveServer,
) -> None:
    with live_server.client() as http:
        app_id = _app(http)
        before = [f"u{i:02d}" for i in range(25)]
        http.post(
            "/v1/mgmt/outbound/app/user/oauthtoken/batch/upload",
            json={"tokens": [{"appId": app_id, "userId": u, "accessToken": "a"} for u in before]},
        ).raise_for_status()
        seen: list[str] = []
        inserted: list[str] = []
        cursor = ""
        while True:
            params = {"appId": app_id, "limit": "4", **({"cursor": cursor} if cursor else {})}
            page = http.get(PATH, params=params).json()
            seen += [c["userId"] for c in page["connections"]]
            # someone connects while we page
            extra = f"late{len(inserted):02d}"
            _upload(http, app_id, extra, accessToken="a")
            inserted.append(extra)
            cursor = page["nextCursor"]
            if not cursor or len(inserted) > 40:
                break
        assert len(seen) == len(set(seen)), "a row came twice"
        assert set(before) <= set(seen), "a row that existed all along was skipped"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "broken"}, "status"),
        ({"limit": "0"}, "limit"),
        ({"limit": "1001"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": "WzEsMl0"}, "cursor"),  # [1,2]: well-formed base64, not ours
        ({"appId": "x" * 300}, "appId"),
    ],
)
def test_bad_parameters_are_400s_naming_the_parameter(
    live_server: LiveServer, params: dict[str, str], field: str
) -> None:
    with live_server.client() as http:
        response = http.get(PATH, params=params)
    assert response.status_code == 400
    assert response.json()["errorCode"] == "E011003"
    assert repr(field) in response.json()["errorMessage"]


def test_a_project_sees_only_its_own_connections(live_server: LiveServer) -> None:
    with live_server.client() as http:
        app_id = _app(http)
        _upload(http, app_id, "mine", accessToken="a")
    project, key = live_server.new_project()
    with httpx.Client(
        base_url=live_server.base_url, headers={"Authorization": f"Bearer {project}:{key}"}
    ) as other:
        assert other.get(PATH).json() == {"connections": [], "nextCursor": ""}
        assert other.get(PATH, params={"appId": app_id}).json()["connections"] == []
    with httpx.Client(base_url=live_server.base_url) as anonymous:
        assert anonymous.get(PATH).status_code == 401
