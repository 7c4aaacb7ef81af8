"""Least-privilege keys: ``outbound keys create --fetch-only [--app ID …]`` makes a key that
fetches tokens (of the named apps) and gets 403 E130403 for everything else — on the fast fetch
path and on the Starlette routes alike — and a revocation still stops it at once."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator

import httpx
import pytest

from outbound.server.api.endpoints import ENDPOINTS, Endpoint
from tests.support.database import execute
from tests.support.recording_provider import RecordingProvider
from tests.support.server import LiveServer, outbound_cli

FETCH = "/v1/mgmt/outbound/app/user/token/latest"


def auth(project_id: str, key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {project_id}:{key}"}


def new_key(live_server: LiveServer, *args: str) -> str:
    store = live_server.store
    created = json.loads(
        outbound_cli(
            "keys",
            "create",
            "--project",
            live_server.project_id,
            *args,
            *store.args,
            env=store.env,
        )
    )
    key: str = created["managementKey"]
    return key


@pytest.fixture(scope="module")
def apps(live_server: LiveServer) -> Iterator[tuple[str, str]]:
    """Two apps, each holding a token for user ``u``."""
    allowed, other = ("fo-" + secrets.token_hex(3) for _ in range(2))
    with live_server.client() as http:
        for app_id in (allowed, other):
            assert http.post(
                "/v1/mgmt/outbound/app/create", json={"id": app_id, "name": app_id}
            ).is_success
            assert http.post(
                "/v1/mgmt/outbound/app/user/apikey/upload",
                json={"appId": app_id, "userId": "u", "apiKey": f"secret-of-{app_id}"},
            ).is_success
    yield allowed, other


def snapshot(live_server: LiveServer) -> list[object]:
    return [
        execute(live_server.store, "SELECT id, name, config FROM apps ORDER BY id"),
        execute(live_server.store, "SELECT id, access_token FROM tokens ORDER BY id"),
        execute(live_server.store, "SELECT id, url FROM webhooks ORDER BY id"),
        execute(live_server.store, "SELECT link_hash FROM connect_sessions ORDER BY link_hash"),
        execute(live_server.store, "SELECT id, revoked_at FROM management_keys ORDER BY id"),
    ]


# Every request a fetch-only key must not make (method, path, body or query).
FORBIDDEN: list[tuple[str, str, object]] = [
    ("GET", "/v1/mgmt/outbound/apps", None),
    ("GET", "/v1/mgmt/outbound/app/{allowed}", None),
    ("POST", "/v1/mgmt/outbound/app/create", {"id": "fo-new", "name": "fo-new"}),
    ("POST", "/v1/mgmt/outbound/app/update", {"app": {"id": "{allowed}", "name": "renamed"}}),
    ("POST", "/v1/mgmt/outbound/app/delete", {"id": "{allowed}"}),
    ("POST", "/v1/mgmt/outbound/app/connect", {"appId": "{allowed}", "userId": "u"}),
    (
        "POST",
        "/v1/mgmt/outbound/app/user/apikey/upload",
        {"appId": "{allowed}", "userId": "u", "apiKey": "overwritten"},
    ),
    ("DELETE", "/v1/mgmt/outbound/user/tokens?appId={allowed}", None),
    ("GET", "/v1/mgmt/outbound/apps-with-user-token?userId=u", None),
    ("GET", "/v1/mgmt/outbound/templates", None),
]


def test_a_fetch_only_key_fetches_and_does_nothing_else(
    live_server: LiveServer, apps: tuple[str, str]
) -> None:
    allowed, _ = apps
    key = new_key(live_server, "--fetch-only")
    headers = auth(live_server.project_id, key)
    with httpx.Client(base_url=live_server.base_url, headers=headers) as http:
        for app_id in apps:  # any app: no --app given
            response = http.post(FETCH, json={"appId": app_id, "userId": "u"})
            assert response.status_code == 200, response.text
            assert response.json()["token"]["token"] == f"secret-of-{app_id}"
        before = snapshot(live_server)
        for method, path, body in FORBIDDEN:
            path = path.format(allowed=allowed)
            if isinstance(body, dict):
                body = json.loads(json.dumps(body).replace("{allowed}", allowed))
            response = http.request(method, path, json=body)
            assert response.status_code == 403, (method, path, response.text)
            error = response.json()
            assert error["errorCode"] == "E130403"
            assert "fetch tokens" in error["errorMessage"]
            assert "secret-of" not in response.text
        assert snapshot(live_server) == before


def _request_for(endpoint: Endpoint, app_id: str) -> tuple[str, str, object]:
    """A well-formed request to ``endpoint`` that names ``app_id`` wherever it takes an app:
    what a full key would be answered for, so only the key's rights can refuse it."""
    path = (
        endpoint.path.replace("{id}", app_id)
        .replace("{webhook_id}", "wh_fetchonly")
        .replace("{delivery_id}", "dl_fetchonly")
    )
    if endpoint.query is not None:
        fields = set(endpoint.query.__struct_encode_fields__)
        query = {"id": app_id, "appId": app_id, "userId": "u"}
        pairs = [f"{name}={value}" for name, value in query.items() if name in fields]
        path += "?" + "&".join(pairs) if pairs else ""
    body = endpoint.example
    if body is not None:
        body = json.loads(json.dumps(body).replace('"app-id"', json.dumps(app_id)))
    return endpoint.method, path, body


# Derived from the table of every endpoint: a new management route is covered the day it is
# added, not when someone remembers to list it.
KEY_ONLY = [e for e in ENDPOINTS if e.auth == "key"]


@pytest.fixture(scope="module")
def fetch_only_key(live_server: LiveServer, apps: tuple[str, str]) -> str:
    return new_key(live_server, "--fetch-only", "--app", apps[0])


@pytest.mark.parametrize("endpoint", KEY_ONLY, ids=[e.operation_id for e in KEY_ONLY])
def test_a_fetch_only_key_is_refused_on_every_management_endpoint(
    live_server: LiveServer, apps: tuple[str, str], fetch_only_key: str, endpoint: Endpoint
) -> None:
    allowed, _ = apps
    key = fetch_only_key
    method, path, body = _request_for(endpoint, allowed)
    before = snapshot(live_server)
    with httpx.Client(
        base_url=live_server.base_url, headers=auth(live_server.project_id, key)
    ) as http:
        response = http.request(method, path, json=body)
    assert response.status_code == 403, (method, path, response.text)
    assert response.json()["errorCode"] == "E130403"
    assert "secret-of" not in response.text
    assert snapshot(live_server) == before


def test_every_fetch_endpoint_is_one_of_the_four_fetch_paths() -> None:
    """The other half of the table's rule: only the fetch paths (and the provider-API proxy,
    which calls the provider with an access token and hands none out) let a fetch-only key in."""
    fetch = {e.path for e in ENDPOINTS if e.auth == "fetch"}
    assert fetch == {
        "/v1/mgmt/outbound/app/user/token",
        "/v1/mgmt/outbound/app/user/token/latest",
        "/v1/mgmt/outbound/app/tenant/token",
        "/v1/mgmt/outbound/app/tenant/token/latest",
        "/v1/outbound/proxy/{appId}/{path}",
    }


def test_a_key_for_named_apps_fetches_only_theirs(
    live_server: LiveServer, apps: tuple[str, str]
) -> None:
    allowed, other = apps
    key = new_key(live_server, "--fetch-only", "--app", allowed)
    headers = auth(live_server.project_id, key)
    with httpx.Client(base_url=live_server.base_url, headers=headers) as http:
        assert http.post(FETCH, json={"appId": allowed, "userId": "u"}).status_code == 200
        for path, body in (
            (FETCH, {"appId": other, "userId": "u"}),
            ("/v1/mgmt/outbound/app/user/token", {"appId": other, "userId": "u", "scopes": ["a"]}),
            (FETCH, {"appId": "no-such-app", "userId": "u"}),  # no hint whether it exists
        ):
            response = http.post(path, json=body)
            assert response.status_code == 403, response.text
            assert response.json()["errorCode"] == "E130403"
            assert "secret-of" not in response.text


def test_fetch_only_keys_are_listed_as_such_and_revoked_at_once(
    live_server: LiveServer, apps: tuple[str, str]
) -> None:
    allowed, _ = apps
    store = live_server.store
    key = new_key(live_server, "--fetch-only", "--app", allowed)
    key_id = key.split("_")[1]
    listed = [
        json.loads(line)
        for line in outbound_cli(
            "keys", "list", "--project", live_server.project_id, *store.args, env=store.env
        ).splitlines()
    ]
    entry = next(k for k in listed if k["id"] == key_id)
    assert entry["fetchOnly"] is True and entry["appIds"] == [allowed]
    headers = auth(live_server.project_id, key)
    url = live_server.base_url + FETCH
    assert httpx.post(url, json={"appId": allowed, "userId": "u"}, headers=headers).is_success

    outbound_cli(
        "keys", "revoke", key_id, "--project", live_server.project_id, *store.args, env=store.env
    )
    response = httpx.post(url, json={"appId": allowed, "userId": "u"}, headers=headers)
    assert response.status_code == 401


def test_app_ids_need_fetch_only(live_server: LiveServer) -> None:
    with pytest.raises(RuntimeError, match="--fetch-only"):
        new_key(live_server, "--app", "x")


# -- what a fetch-only key gets (issue 25, item 6) --------------------------------------------


@pytest.fixture
def provider() -> Iterator[RecordingProvider]:
    with RecordingProvider() as provider:
        yield provider


def _oauth_token(live_server: LiveServer, provider: RecordingProvider) -> tuple[str, str]:
    """An app at ``provider`` with a user's token (valid for an hour, refreshable)."""
    app_id = "fo-oauth-" + secrets.token_hex(3)
    refresh_token = "rt-" + secrets.token_hex(8)
    with live_server.client() as http:
        created = http.post(
            "/v1/mgmt/outbound/app/create",
            json={
                "id": app_id,
                "name": app_id,
                "clientId": "cid",
                "clientSecret": "cs-" + secrets.token_hex(8),
                "discoveryUrl": provider.discovery_url,
            },
        )
        assert created.status_code == 200, created.text
        uploaded = http.post(
            "/v1/mgmt/outbound/app/user/oauthtoken/upload",
            json={
                "appId": app_id,
                "userId": "u",
                "accessToken": "at-" + secrets.token_hex(8),
                "refreshToken": refresh_token,
                "accessTokenExpiry": int(time.time()) + 3600,
            },
        )
        assert uploaded.status_code == 200, uploaded.text
    return app_id, refresh_token


def test_a_fetch_only_key_never_gets_a_refresh_token(
    live_server: LiveServer, provider: RecordingProvider
) -> None:
    app_id, refresh_token = _oauth_token(live_server, provider)
    key = new_key(live_server, "--fetch-only")
    body = {"appId": app_id, "userId": "u", "options": {"withRefreshToken": True}}
    with httpx.Client(base_url=live_server.base_url) as http:
        for path in (FETCH, "/v1/mgmt/outbound/app/user/token"):
            sent = {**body, "scopes": ["read"]} if path.endswith("/token") else body
            refused = http.post(path, json=sent, headers=auth(live_server.project_id, key))
            assert refused.status_code == 403, refused.text
            assert refused.json()["errorCode"] == "E130403"
            assert "withRefreshToken" in refused.json()["errorMessage"]
            assert refresh_token not in refused.text
        # the access token, as before
        plain = http.post(
            FETCH, json={"appId": app_id, "userId": "u"}, headers=auth(live_server.project_id, key)
        )
        assert plain.status_code == 200, plain.text
        assert "refreshToken" not in plain.json()["token"]
    # a full key still gets it
    with live_server.client() as http:
        full = http.post(FETCH, json=body)
        assert full.json()["token"]["refreshToken"] == refresh_token


def test_a_fetch_only_keys_forced_refreshes_are_limited_per_token(
    live_server: LiveServer, provider: RecordingProvider
) -> None:
    app_id, _ = _oauth_token(live_server, provider)
    key = new_key(live_server, "--fetch-only")
    body = {"appId": app_id, "userId": "u", "options": {"forceRefresh": True}}
    with httpx.Client(base_url=live_server.base_url) as http:
        answers = [
            http.post(FETCH, json=body, headers=auth(live_server.project_id, key)) for _ in range(5)
        ]
    assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
    # the token was uploaded moments ago: none of the five reached the provider
    assert provider.posts() == []
    assert len({a.json()["token"]["accessToken"] for a in answers}) == 1
    # once the token is older than the interval, one forced refresh goes through, then none
    execute(
        live_server.store,
        "UPDATE tokens SET last_refresh_time = last_refresh_time - 60 WHERE app_id = ?",
        (app_id,),
    )
    with httpx.Client(base_url=live_server.base_url) as http:
        for _ in range(5):
            answer = http.post(FETCH, json=body, headers=auth(live_server.project_id, key))
            assert answer.status_code == 200, answer.text
    assert len(provider.posts()) == 1
    # a full key is not limited
    with live_server.client() as http:
        for _ in range(2):
            assert http.post(FETCH, json=body).status_code == 200
    assert len(provider.posts()) == 3
