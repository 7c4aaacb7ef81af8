"""Management keys: strong, shown once, stored as a digest, revocable at once; and one
project never sees anything of another (its ids answer 404 like ids that don't exist)."""

from __future__ import annotations

import base64
import json
import secrets

import httpx
import pytest

from tests.support.database import execute, raw_dump
from tests.support.server import LiveServer, outbound_cli, running_server


def auth(project_id: str, key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {project_id}:{key}"}


def key_secret_bits(key: str) -> int:
    # obk_<id>_<secret>: the secret part is URL-safe base64
    secret = key.split("_", 2)[2]
    return len(base64.urlsafe_b64decode(secret + "=" * (-len(secret) % 4))) * 8


def test_keys_are_strong_unique_and_stored_only_as_digests(live_server: LiveServer) -> None:
    keys = [live_server.new_project()[1] for _ in range(3)]
    assert len(set(keys)) == 3
    for key in keys:
        assert key_secret_bits(key) >= 128
    dump = raw_dump(live_server.store)
    for key in keys:
        assert key.encode() not in dump
        assert key.split("_", 2)[2].encode() not in dump


@pytest.mark.parametrize(
    "header",
    [
        None,
        "Bearer",
        "Bearer nothing",
        "Basic dXNlcjpwYXNz",
        "Bearer {project}:obk_000000000000_" + "A" * 43,
        "Bearer {project}:{key}x",
        "Bearer otherproject:{key}",
        "Bearer {project}:",
        "Bearer :{key}",
    ],
)
def test_bad_credentials_are_401(live_server: LiveServer, header: str | None) -> None:
    headers = {}
    if header is not None:
        headers["Authorization"] = header.format(
            project=live_server.project_id, key=live_server.management_key
        )
    response = httpx.get(live_server.base_url + "/v1/mgmt/outbound/apps", headers=headers)
    assert response.status_code == 401
    assert response.json()["errorCode"] == "E130401"
    assert live_server.management_key not in response.text


def test_key_of_one_project_does_not_open_another(live_server: LiveServer) -> None:
    other_project, other_key = live_server.new_project()
    response = httpx.get(
        live_server.base_url + "/v1/mgmt/outbound/apps",
        headers=auth(live_server.project_id, other_key),
    )
    assert response.status_code == 401
    response = httpx.get(
        live_server.base_url + "/v1/mgmt/outbound/apps",
        headers=auth(other_project, live_server.management_key),
    )
    assert response.status_code == 401


def test_a_revoked_key_stops_working_at_once(live_server: LiveServer) -> None:
    store = live_server.store
    created = json.loads(
        outbound_cli(
            "keys",
            "create",
            "--project",
            live_server.project_id,
            *store.args,
            env=store.env,
        )
    )
    assert created["projectId"] == live_server.project_id
    headers = auth(live_server.project_id, created["managementKey"])
    url = live_server.base_url + "/v1/mgmt/outbound/apps"
    assert httpx.get(url, headers=headers).status_code == 200

    listed = [
        json.loads(line)
        for line in outbound_cli(
            "keys", "list", "--project", live_server.project_id, *store.args, env=store.env
        ).splitlines()
    ]
    key_id = created["managementKey"].split("_")[1]
    entry = next(k for k in listed if k["id"] == key_id)
    assert entry["revoked"] is False
    assert created["managementKey"] not in json.dumps(listed)

    outbound_cli(
        "keys", "revoke", key_id, "--project", live_server.project_id, *store.args, env=store.env
    )
    # the very next request, on the running server, is refused
    assert httpx.get(url, headers=headers).status_code == 401
    # the server's own key is unaffected
    assert httpx.get(url, headers=live_server.auth_header).status_code == 200


def test_a_revoked_key_stops_on_every_server_at_once(live_server: LiveServer) -> None:
    """Two servers on one store, both having just accepted the key (so both hold it in their
    key caches): a revocation through the store stops it on both, on the very next request."""
    store = live_server.store
    project = (live_server.project_id, live_server.management_key)
    created = json.loads(
        outbound_cli("keys", "create", "--project", project[0], *store.args, env=store.env)
    )
    headers = auth(project[0], created["managementKey"])
    fetch = "/v1/mgmt/outbound/app/user/token/latest"  # the hot path keeps a cache of its own
    with running_server(store, project=project) as other:
        servers = [live_server.base_url, other.base_url]
        for base in servers:
            assert httpx.get(base + "/v1/mgmt/outbound/apps", headers=headers).status_code == 200
            assert (
                httpx.post(
                    base + fetch, json={"appId": "x", "userId": "u"}, headers=headers
                ).status_code
                != 401
            )
        key_id = created["managementKey"].split("_")[1]
        outbound_cli("keys", "revoke", key_id, "--project", project[0], *store.args, env=store.env)
        for base in servers:
            assert httpx.get(base + "/v1/mgmt/outbound/apps", headers=headers).status_code == 401
            assert (
                httpx.post(
                    base + fetch, json={"appId": "x", "userId": "u"}, headers=headers
                ).status_code
                == 401
            )
            ok = httpx.get(base + "/v1/mgmt/outbound/apps", headers=live_server.auth_header)
            assert ok.status_code == 200


def test_projects_are_isolated(live_server: LiveServer) -> None:
    mine = live_server.client()
    other_project, other_key = live_server.new_project()
    theirs = httpx.Client(base_url=live_server.base_url, headers=auth(other_project, other_key))
    with mine, theirs:
        app_id = "shared-" + secrets.token_hex(4)
        created = mine.post(
            "/v1/mgmt/outbound/app/create",
            json={"id": app_id, "name": "Mine", "tokenUrl": "https://p.example/token"},
        )
        assert created.status_code == 200
        assert (
            mine.post(
                "/v1/mgmt/outbound/app/user/oauthtoken/upload",
                json={"appId": app_id, "userId": "u1", "accessToken": "mine-secret"},
            ).status_code
            == 200
        )
        token_id = mine.post(
            "/v1/mgmt/outbound/app/user/token/latest", json={"appId": app_id, "userId": "u1"}
        ).json()["token"]["id"]

        # The other project sees none of it, and its 404s look exactly like a missing id.
        missing = theirs.get("/v1/mgmt/outbound/app/never-existed")
        found = theirs.get(f"/v1/mgmt/outbound/app/{app_id}")
        assert found.status_code == missing.status_code == 404
        assert found.json()["errorCode"] == missing.json()["errorCode"]
        assert theirs.get("/v1/mgmt/outbound/apps").json()["apps"] == []
        response = theirs.post(
            "/v1/mgmt/outbound/app/user/token/latest", json={"appId": app_id, "userId": "u1"}
        )
        assert response.status_code == 404 and "mine-secret" not in response.text
        assert (
            theirs.get("/v1/mgmt/outbound/apps-with-user-token", params={"userId": "u1"}).json()[
                "appIds"
            ]
            == []
        )
        assert (
            theirs.post(
                "/v1/mgmt/outbound/app/user/oauthtoken/upload",
                json={"appId": app_id, "userId": "u1", "accessToken": "overwrite"},
            ).status_code
            == 404
        )
        assert (
            theirs.post(
                "/v1/mgmt/outbound/app/update", json={"app": {"id": app_id, "name": "Stolen"}}
            ).status_code
            == 404
        )

        # Deleting through the other project removes nothing of ours.
        theirs.delete("/v1/mgmt/outbound/token", params={"id": token_id})
        theirs.delete("/v1/mgmt/outbound/user/tokens", params={"userId": "u1"})
        theirs.post("/v1/mgmt/outbound/app/delete", json={"id": app_id})
        token = mine.post(
            "/v1/mgmt/outbound/app/user/token/latest", json={"appId": app_id, "userId": "u1"}
        ).json()["token"]
        assert token["accessToken"] == "mine-secret"
        assert mine.get(f"/v1/mgmt/outbound/app/{app_id}").json()["app"]["name"] == "Mine"

        # The same app id may exist in both projects, independently.
        assert (
            theirs.post(
                "/v1/mgmt/outbound/app/create", json={"id": app_id, "name": "Theirs"}
            ).status_code
            == 200
        )
        assert mine.get(f"/v1/mgmt/outbound/app/{app_id}").json()["app"]["name"] == "Mine"

    rows = execute(live_server.store, "SELECT COUNT(*) FROM apps WHERE id = ?", (app_id,))
    assert rows[0][0] == 2


def test_fetching_a_token_checks_the_key_like_every_endpoint(live_server: LiveServer) -> None:
    other_project, other_key = live_server.new_project()
    url = live_server.base_url + "/v1/mgmt/outbound/app/user/token/latest"
    with live_server.client() as mine:
        app_id = "fetchkey-" + secrets.token_hex(4)
        mine.post("/v1/mgmt/outbound/app/create", json={"id": app_id, "name": app_id})
        mine.post(
            "/v1/mgmt/outbound/app/user/apikey/upload",
            json={"appId": app_id, "userId": "u", "apiKey": "the-secret-key"},
        )
        body = {"appId": app_id, "userId": "u"}
        assert mine.post(url, json=body).json()["token"]["token"] == "the-secret-key"
    wrong_secret = live_server.management_key[:-4] + "AAAA"
    for headers in (
        auth(live_server.project_id, wrong_secret),
        auth(live_server.project_id, other_key),  # a live key, of another project
        auth(other_project, live_server.management_key),
        {"Authorization": "Bearer nonsense"},
        {},
    ):
        for payload in (body, {"appId": 5}):  # bad credentials come before a bad body
            response = httpx.post(url, json=payload, headers=headers)
            assert response.status_code == 401, (headers, payload, response.text)
            assert response.json()["errorCode"] == "E130401"
            assert "the-secret-key" not in response.text
