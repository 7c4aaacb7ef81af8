"""Bad input gets a clear 4xx that names the field, never a 500, and changes nothing stored."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.support.database import execute
from tests.support.server import LiveServer

APP = "badinput-app"
# An app holding a client secret: moving its endpoints needs the secret again.
SECRET_APP = "badinput-secret-app"


@pytest.fixture(scope="module")
def client(live_server: LiveServer) -> Iterator[httpx.Client]:
    with live_server.client() as client:
        if client.get(f"/v1/mgmt/outbound/app/{APP}").status_code == 404:
            assert (
                client.post(
                    "/v1/mgmt/outbound/app/create",
                    json={"id": APP, "name": "Bad input", "tokenUrl": "https://p.example/token"},
                ).status_code
                == 200
            )
            assert (
                client.post(
                    "/v1/mgmt/outbound/app/user/oauthtoken/upload",
                    json={"appId": APP, "userId": "keeper", "accessToken": "keep-me"},
                ).status_code
                == 200
            )
        if client.get(f"/v1/mgmt/outbound/app/{SECRET_APP}").status_code == 404:
            created = client.post(
                "/v1/mgmt/outbound/app/create",
                json={
                    "id": SECRET_APP,
                    "name": "Bad input, with a secret",
                    "clientId": "cid",
                    "clientSecret": "the-stored-client-secret",
                    "tokenUrl": "https://idp.example/token",
                    "authorizationUrl": "https://idp.example/authorize",
                },
            )
            assert created.status_code == 200, created.text
        yield client


def snapshot(live_server: LiveServer) -> list[Any]:
    store = live_server.store
    return [
        execute(store, "SELECT id, name, config, client_secret FROM apps ORDER BY id"),
        execute(store, "SELECT id, access_token, refresh_token, version FROM tokens ORDER BY id"),
    ]


BIG = "x" * 20_000
BAD_NEW_IDS = [
    "   ",
    "a/b?c#d",
    "../../etc/passwd",
    "\u202eexe.txt",
    ".hidden",
    "x" * 65,
    "tab\tid",
    "caf\u00e9",
    "nl\n",
]
# user ids: any text of 1-256 characters but control characters and bidi overrides/isolates
BAD_USER_IDS = ["\u202egnp.exe", "a\u2066b", "a\x85b", "a\x7fb", "x" * 257]
CASES: list[tuple[str, str, Any, str, str]] = [
    # (path, method, body, expected errorCode, text the message must contain)
    ("/v1/mgmt/outbound/app/create", "POST", b"{not json", "E011001", "JSON"),
    ("/v1/mgmt/outbound/app/create", "POST", b"", "E011001", "empty"),
    ("/v1/mgmt/outbound/app/create", "POST", b"[1, 2]", "E011001", "object"),
    ("/v1/mgmt/outbound/app/create", "POST", {}, "E011002", "name"),
    ("/v1/mgmt/outbound/app/create", "POST", {"name": ""}, "E011003", "name"),
    ("/v1/mgmt/outbound/app/create", "POST", {"name": 5}, "E011003", "name"),
    ("/v1/mgmt/outbound/app/create", "POST", {"name": "n", "pkce": "yes"}, "E011003", "pkce"),
    ("/v1/mgmt/outbound/app/create", "POST", {"name": "n", "useDcr": True}, "E011002", "resource"),
    ("/v1/mgmt/outbound/app/create", "POST", {"name": "n", "useDcr": 1}, "E011003", "useDcr"),
    (
        "/v1/mgmt/outbound/app/create",
        "POST",
        {"name": "n", "resource": "https://mcp.example/mcp#frag"},
        "E011003",
        "resource",
    ),
    (
        "/v1/mgmt/outbound/app/create",
        "POST",
        {"name": "n", "useDcr": True, "resource": "mcp.example/mcp"},
        "E011003",
        "resource",
    ),
    (
        "/v1/mgmt/outbound/app/create",
        "POST",
        {"name": "n", "dcrUrl": "javascript:alert(1)"},
        "E011003",
        "dcrUrl",
    ),
    (
        "/v1/mgmt/outbound/app/create",
        "POST",
        {"name": "n", "defaultScopes": "a b"},
        "E011003",
        "defaultScopes",
    ),
    (
        "/v1/mgmt/outbound/app/create",
        "POST",
        {"name": "n", "tokenUrl": "javascript:alert(1)"},
        "E011003",
        "tokenUrl",
    ),
    (
        "/v1/mgmt/outbound/app/create",
        "POST",
        {"name": "n", "accessType": "forever"},
        "E011003",
        "accessType",
    ),
    (
        "/v1/mgmt/outbound/app/create",
        "POST",
        {"name": "n", "prompt": ["always"]},
        "E011003",
        "prompt",
    ),
    ("/v1/mgmt/outbound/app/create", "POST", {"name": BIG}, "E011003", "name"),
    ("/v1/mgmt/outbound/app/create", "POST", {"name": "n", "id": "a\x00b"}, "E011003", "id"),
    # App and tenant ids are created in one shape: letters, digits, '.', '_', '-'; <= 64.
    *(
        ("/v1/mgmt/outbound/app/create", "POST", {"name": "n", "id": bad}, "E011003", "id")
        for bad in BAD_NEW_IDS
    ),
    (
        "/v1/mgmt/outbound/app/create",
        "POST",
        {"name": "n", "id": "ok-id", "tenantId": "a/b"},
        "E011003",
        "tenantId",
    ),
    (
        "/v1/mgmt/outbound/app/create/bytemplate",
        "POST",
        {"templateId": "github", "id": "../../etc/passwd", "clientId": "c"},
        "E011003",
        "id",
    ),
    (
        "/v1/mgmt/outbound/app/create",
        "POST",
        b'{"name": "n", "x": ' + b"[" * 5000 + b"]" * 5000 + b"}",
        "E011001",
        "nests",
    ),
    ("/v1/mgmt/outbound/app/create", "POST", {"name": "Bad input"}, "E131002", "name"),
    (
        "/v1/mgmt/outbound/app/create",
        "POST",
        {"name": "n", "authorizationUrlParams": [{"value": "v"}]},
        "E011002",
        "key",
    ),
    ("/v1/mgmt/outbound/app/update", "POST", {}, "E011002", "app"),
    ("/v1/mgmt/outbound/app/update", "POST", {"app": {"name": "x"}}, "E011002", "id"),
    ("/v1/mgmt/outbound/app/update", "POST", {"app": {"id": APP, "name": None}}, "E011002", "name"),
    (
        "/v1/mgmt/outbound/app/update",
        "POST",
        {"app": {"id": "nope", "name": "x"}},
        "E131001",
        "nope",
    ),
    ("/v1/mgmt/outbound/app/delete", "POST", {"id": 7}, "E011003", "id"),
    ("/v1/mgmt/outbound/app/delete", "POST", {}, "E011002", "id"),
    (
        "/v1/mgmt/outbound/app/user/token",
        "POST",
        {"appId": APP, "userId": "keeper"},
        "E011002",
        "scopes",
    ),
    (
        "/v1/mgmt/outbound/app/user/token",
        "POST",
        {"appId": APP, "userId": "keeper", "scopes": [""]},
        "E011003",
        "scopes",
    ),
    ("/v1/mgmt/outbound/app/user/token/latest", "POST", {"userId": "keeper"}, "E011002", "appId"),
    ("/v1/mgmt/outbound/app/user/token/latest", "POST", {"appId": APP}, "E011002", "userId"),
    (
        "/v1/mgmt/outbound/app/user/token/latest",
        "POST",
        {"appId": APP, "userId": "keeper", "options": {"forceRefresh": "please"}},
        "E011003",
        "forceRefresh",
    ),
    (
        "/v1/mgmt/outbound/app/user/token/latest",
        "POST",
        {"appId": "ghost", "userId": "keeper"},
        "E131001",
        "ghost",
    ),
    ("/v1/mgmt/outbound/app/tenant/token/latest", "POST", {"appId": APP}, "E011002", "tenantId"),
    (
        "/v1/mgmt/outbound/app/user/oauthtoken/upload",
        "POST",
        {"appId": APP, "userId": "keeper"},
        "E011002",
        "accessToken",
    ),
    (
        "/v1/mgmt/outbound/app/user/oauthtoken/upload",
        "POST",
        {"appId": APP, "userId": "keeper", "accessToken": "new", "accessTokenExpiry": "soon"},
        "E011003",
        "accessTokenExpiry",
    ),
    (
        "/v1/mgmt/outbound/app/user/oauthtoken/upload",
        "POST",
        {"appId": APP, "userId": "keeper", "accessToken": "new", "accessTokenExpiry": -5},
        "E011003",
        "accessTokenExpiry",
    ),
    (
        "/v1/mgmt/outbound/app/user/oauthtoken/upload",
        "POST",
        {"appId": APP, "userId": "keeper", "accessToken": BIG},
        "E011003",
        "accessToken",
    ),
    (
        "/v1/mgmt/outbound/app/user/oauthtoken/upload",
        "POST",
        {"appId": APP, "userId": "keeper", "accessToken": "new", "scopes": ["a b"]},
        "E011003",
        "scopes",
    ),
    (
        "/v1/mgmt/outbound/app/user/oauthtoken/upload",
        "POST",
        {"appId": "ghost", "userId": "keeper", "accessToken": "new"},
        "E131001",
        "ghost",
    ),
    (
        "/v1/mgmt/outbound/app/user/apikey/upload",
        "POST",
        {"appId": APP, "userId": "keeper"},
        "E011002",
        "apiKey",
    ),
    (
        "/v1/mgmt/outbound/app/tenant/apikey/upload",
        "POST",
        {"appId": APP, "apiKey": "k"},
        "E011002",
        "tenantId",
    ),
    (
        "/v1/mgmt/outbound/app/user/oauthtoken/batch/upload",
        "POST",
        {"tokens": "all"},
        "E011003",
        "tokens",
    ),
    (
        "/v1/mgmt/outbound/app/user/oauthtoken/batch/upload",
        "POST",
        {"tokens": [{"appId": 1}]},
        "E011003",
        "tokens[0].appId",
    ),
    (
        "/v1/mgmt/outbound/app/user/oauthtoken/batch/upload",
        "POST",
        {"tokens": [{"appId": APP, "userId": "u", "accessToken": "a"}] * 1001},
        "E011003",
        "tokens",
    ),
    *(
        (
            "/v1/mgmt/outbound/app/user/oauthtoken/upload",
            "POST",
            {"appId": APP, "userId": bad, "accessToken": "new"},
            "E011003",
            "userId",
        )
        for bad in BAD_USER_IDS
    ),
    (
        "/v1/mgmt/outbound/app/tenant/apikey/upload",
        "POST",
        {"appId": APP, "tenantId": "../t", "apiKey": "k"},
        "E011003",
        "tenantId",
    ),
    (
        "/v1/mgmt/outbound/app/tenant/oauthtoken/upload",
        "POST",
        {"appId": APP, "tenantId": "t t", "accessToken": "new"},
        "E011003",
        "tenantId",
    ),
    (
        "/v1/mgmt/outbound/app/user/token/latest",
        "POST",
        b'{"appId": "'
        + APP.encode()
        + b'", "userId": "keeper", "x": '
        + b"[" * 5000
        + b"]" * 5000
        + b"}",
        "E011001",
        "nests",
    ),
    # connect requests: bounded scopes, well-formed tenant ids
    (
        "/v1/mgmt/outbound/app/connect",
        "POST",
        {"appId": APP, "userId": "u", "options": {"scopes": [f"s{i}" for i in range(65)]}},
        "E011003",
        "options.scopes",
    ),
    (
        "/v1/mgmt/outbound/app/connect",
        "POST",
        {"appId": APP, "userId": "u", "options": {"scopes": ["s" * 257]}},
        "E011003",
        "options.scopes",
    ),
    (
        "/v1/mgmt/outbound/app/connect",
        "POST",
        {"appId": APP, "tenantId": "a?b", "tenantLevel": True},
        "E011003",
        "tenantId",
    ),
    (
        "/v1/mgmt/outbound/app/connect",
        "POST",
        {"appId": APP, "userId": "\u202eu"},
        "E011003",
        "userId",
    ),
    ("/v1/mgmt/outbound/user/tokens", "DELETE", None, "E011002", "appId"),
    ("/v1/mgmt/outbound/token", "DELETE", None, "E011002", "id"),
    ("/v1/mgmt/outbound/apps-with-user-token", "GET", None, "E011002", "userId"),
    ("/v1/mgmt/outbound/apps", "PUT", None, "E130405", "PUT"),
    ("/v1/mgmt/outbound/no-such-thing", "POST", {}, "E130404", "no-such-thing"),
    # provider URLs the network guard refuses (issue 11): each a 400 naming the field
    *[
        ("/v1/mgmt/outbound/app/create", "POST", {"name": "n", field: url}, "E011003", field)
        for field, url in (
            ("tokenUrl", "https://169.254.169.254/latest/meta-data"),
            ("tokenUrl", "https://[::ffff:a9fe:a9fe]/token"),
            ("discoveryUrl", "https://10.0.0.1/.well-known/openid-configuration"),
            ("revocationUrl", "https://192.168.1.1/revoke"),
            ("tokenUrl", "https://metadata.google.internal/computeMetadata/v1/"),
            ("tokenUrl", "https://[fd00::1]/token"),
            ("tokenUrl", "https://user:pass@idp.example/token"),
            ("authorizationUrl", "https://idp.example\\@evil.example/authorize"),
            ("tokenUrl", "http://idp.example/token"),
            ("tokenUrl", "javascript://idp.example/%0aalert(1)"),
            ("authorizationUrl", "ftp://idp.example/authorize"),
            ("defaultRedirectUrl", "javascript://app.example/%0aalert(1)"),
            ("defaultRedirectUrl", "https://user@app.example/done"),
            ("defaultRedirectUrl", "https://app.example\\@evil.example/done"),
            ("defaultRedirectUrl", "http://app.example/done"),
            ("defaultRedirectUrl", "com.example.app://done"),
        )
    ],
    (
        "/v1/mgmt/outbound/app/create/bytemplate",
        "POST",
        {"templateId": "oidc", "values": {"issuer": "https://10.1.2.3"}},
        "E011003",
        "discoveryUrl",
    ),
    (
        "/v1/mgmt/outbound/app/create/bytemplate",
        "POST",
        {"templateId": "google", "overrides": {"tokenUrl": "https://169.254.169.254/token"}},
        "E011003",
        "tokenUrl",
    ),
    (
        "/v1/mgmt/outbound/app/update",
        "POST",
        {"app": {"id": APP, "name": "Bad input", "tokenUrl": "https://100.64.0.1/token"}},
        "E011003",
        "app.tokenUrl",
    ),
    # a stored client secret stays with its host: moving an endpoint needs the secret again
    (
        "/v1/mgmt/outbound/app/update",
        "POST",
        {
            "app": {
                "id": SECRET_APP,
                "name": "Bad input, with a secret",
                "clientId": "cid",
                "tokenUrl": "https://collector.example/token",
                "authorizationUrl": "https://idp.example/authorize",
            }
        },
        "E011002",
        "app.clientSecret",
    ),
    (
        "/v1/mgmt/outbound/app/update",
        "POST",
        {
            "app": {
                "id": SECRET_APP,
                "name": "Bad input, with a secret",
                "clientId": "cid",
                "tokenUrl": "https://idp.example/token",
                "authorizationUrl": "https://idp.example/authorize",
                "revocationUrl": "https://idp.example:8443/revoke",
            }
        },
        "E011002",
        "app.clientSecret",
    ),
    (
        "/v1/mgmt/outbound/app/update",
        "POST",
        {
            "app": {
                "id": SECRET_APP,
                "name": "Bad input, with a secret",
                "templateId": "google",
            }
        },
        "E011002",
        "app.clientSecret",
    ),
]


@pytest.mark.parametrize(("path", "method", "body", "code", "mentions"), CASES)
def test_bad_input_is_a_clear_4xx_and_changes_nothing(
    live_server: LiveServer,
    client: httpx.Client,
    path: str,
    method: str,
    body: Any,
    code: str,
    mentions: str,
) -> None:
    before = snapshot(live_server)
    if isinstance(body, bytes):
        response = client.request(
            method, path, content=body, headers={"Content-Type": "application/json"}
        )
    elif body is None:
        response = client.request(method, path)
    else:
        response = client.request(method, path, json=body)
    if not code:
        # a legal but odd value: accepted as data, not an error
        assert response.status_code == 200, response.text
        client.post("/v1/mgmt/outbound/app/delete", json={"id": body["id"]})
        return
    assert 400 <= response.status_code < 500, response.text
    error = response.json()
    assert error["errorCode"] == code
    assert error["errorDescription"]
    assert mentions in error["errorMessage"], error
    assert snapshot(live_server) == before


# A final newline (Python's `$` matches before it), zero-width space and joiner, line and
# paragraph separators, BOM, soft hyphen, a bidi mark, an invisible tag character: each makes
# an id that looks like (or logs as) another.
INVISIBLE = [
    "alice\n",
    "ali\u200bce",
    "ali\u200dce",
    "alice\u2028",
    "a\u2029b",
    "\ufeffalice",
    "ali\u00adce",
    "alice\u200e",
    "alice\U000e0041",
    "alice\u2060",
]
M = "/v1/mgmt/outbound"
# Every place an id (or a scope) is taken: request bodies, query parameters.
# fmt: off
ID_PLACES: list[tuple[str, str, Any]] = [
    ("POST", f"{M}/app/create", lambda v: {"name": "n", "id": v}),
    ("POST", f"{M}/app/create", lambda v: {"name": "n", "id": "ok-" + secrets.token_hex(3), "tenantId": v}),  # noqa: E501
    ("POST", f"{M}/app/user/oauthtoken/upload", lambda v: {"appId": APP, "userId": v, "accessToken": "a"}),  # noqa: E501
    ("POST", f"{M}/app/user/oauthtoken/upload", lambda v: {"appId": APP, "userId": "u", "accessToken": "a", "scopes": [v]}),  # noqa: E501
    ("POST", f"{M}/app/tenant/oauthtoken/upload", lambda v: {"appId": APP, "tenantId": v, "accessToken": "a"}),  # noqa: E501
    ("POST", f"{M}/app/user/apikey/upload", lambda v: {"appId": APP, "userId": v, "apiKey": "k"}),
    ("POST", f"{M}/app/user/oauthtoken/batch/upload", lambda v: {"tokens": [{"appId": APP, "userId": v, "accessToken": "a"}]}),  # noqa: E501
    ("POST", f"{M}/app/user/token/latest", lambda v: {"appId": APP, "userId": v}),
    ("POST", f"{M}/app/user/token", lambda v: {"appId": APP, "userId": "keeper", "scopes": [v]}),
    ("POST", f"{M}/app/connect", lambda v: {"appId": APP, "userId": v}),
    ("POST", f"{M}/app/connect", lambda v: {"appId": APP, "userId": "u", "options": {"scopes": [v]}}),  # noqa: E501
    ("GET", f"{M}/connections", lambda v: {"userId": v}),
    ("GET", f"{M}/audit", lambda v: {"appId": v}),
    ("GET", f"{M}/apps-with-user-token", lambda v: {"userId": v}),
    ("DELETE", f"{M}/user/tokens", lambda v: {"appId": APP, "userId": v}),
    ("GET", f"{M}/app", lambda v: {"id": v}),
]
# fmt: on


@pytest.mark.parametrize("value", INVISIBLE, ids=ascii)
def test_ids_with_a_final_newline_or_invisible_characters_are_refused_everywhere(
    live_server: LiveServer, client: httpx.Client, value: str
) -> None:
    before = snapshot(live_server)
    for method, path, make in ID_PLACES:
        if method == "POST":
            response = client.post(path, json=make(value))
        else:
            response = client.request(method, path, params=make(value))
        assert response.status_code == 400, (path, make(value), response.text)
        assert response.json()["errorCode"] == "E011003", (path, response.text)
    # and in a path
    response = client.get(f"{M}/app/" + quote(value, safe=""))
    assert response.status_code == 400, response.text
    assert snapshot(live_server) == before


def test_the_id_rules_are_full_matches() -> None:
    """The rules used from Python (a session token's ``sub``, new app and tenant ids) match
    the whole id, not a prefix before a final newline."""
    from outbound.server.http.wire import NEW_ID, PRINTABLE_ID

    assert NEW_ID.match("app-1") and PRINTABLE_ID.match("alice@example.com")
    for value in INVISIBLE:
        assert not PRINTABLE_ID.match(value), ascii(value)
    assert not NEW_ID.match("nl\n")


def test_oversized_body_is_413(live_server: LiveServer, client: httpx.Client) -> None:
    before = snapshot(live_server)
    response = client.post(
        "/v1/mgmt/outbound/app/create",
        content=b'{"name": "' + b"x" * (9 * 1024 * 1024) + b'"}',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["errorCode"] == "E130413"
    assert snapshot(live_server) == before


def test_explicit_nulls_and_unknown_fields_are_tolerated(client: httpx.Client) -> None:
    name = "nulls-" + secrets.token_hex(4)
    response = client.post(
        "/v1/mgmt/outbound/app/create",
        json={
            "id": None,
            "name": name,
            "description": None,
            "tokenUrl": "https://p.example/token",
            "prompt": None,
            "somethingNew": {"nested": [1, 2]},
        },
    )
    assert response.status_code == 200, response.text
    app = response.json()["app"]
    response = client.post(
        "/v1/mgmt/outbound/app/user/token/latest",
        json={"appId": app["id"], "userId": "nobody", "tenantId": None, "options": None},
    )
    assert response.status_code == 404
    assert response.json()["errorCode"] == "E111504"


def test_deep_nesting_on_the_fetch_path_is_401_without_a_key(live_server: LiveServer) -> None:
    body = b'{"appId": "a", "userId": "u", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    response = httpx.post(
        live_server.base_url + "/v1/mgmt/outbound/app/user/token/latest",
        content=body,
        headers={"Authorization": f"Bearer {live_server.project_id}:obk_000000000000_nope"},
    )
    assert response.status_code == 401
    assert response.json()["errorCode"] == "E130401"


def test_ids_stored_before_the_id_rule_still_load(
    live_server: LiveServer, client: httpx.Client
) -> None:
    legacy = "legacy app/with?odd#id"
    project = live_server.project_id
    store = live_server.store
    execute(
        store,
        "INSERT INTO apps (project_id, id, name, config, client_secret, created_at, updated_at)"
        " SELECT project_id, ?, ?, config, NULL, created_at, updated_at FROM apps"
        " WHERE project_id = ? AND id = ?",
        (legacy, "legacy-" + secrets.token_hex(3), project, APP),
    )
    loaded = client.get("/v1/mgmt/outbound/app", params={"id": legacy})
    assert loaded.status_code == 200, loaded.text
    assert loaded.json()["app"]["id"] == legacy
    upload = client.post(
        "/v1/mgmt/outbound/app/user/apikey/upload",
        json={"appId": legacy, "userId": "u", "apiKey": "legacy-key"},
    )
    assert upload.status_code == 200, upload.text
    fetched = client.post(
        "/v1/mgmt/outbound/app/user/token/latest", json={"appId": legacy, "userId": "u"}
    )
    assert fetched.json()["token"]["token"] == "legacy-key"
    assert client.post("/v1/mgmt/outbound/app/delete", json={"id": legacy}).status_code == 200


def test_the_stored_token_survived_all_of_it(client: httpx.Client) -> None:
    response = client.post(
        "/v1/mgmt/outbound/app/user/token/latest", json={"appId": APP, "userId": "keeper"}
    )
    assert response.json()["token"]["accessToken"] == "keep-me"
