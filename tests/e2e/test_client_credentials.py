"""Client-credentials apps (RFC 6749 §4.4) against two real authorization servers — npm
``oidc-provider`` (its clientCredentials feature) and django-oauth-toolkit: tokens for a tenant
or for the app itself, obtained on the first fetch and again when due, one request at the
provider however many callers race on however many servers."""

from __future__ import annotations

import asyncio
import contextlib
import http.server
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from tests.e2e.conftest import SERVER_ARGS, Vault
from tests.support.database import execute
from tests.support.dot_server import DotServer
from tests.support.oidc_server import OidcClient, OidcServer
from tests.support.server import (
    LiveServer,
    Store,
    free_port,
    postgres_database,
    start_server,
    stop_server,
)

from outbound import Client

TENANT_TOKEN = "/v1/mgmt/outbound/app/tenant/token"
API = "https://api.example.test/"


@pytest.fixture(scope="module")
def machine_idp() -> Iterator[OidcServer]:
    """An authorization server of our own: its counters see only this module's requests.
    ``API`` is a resource server (RFC 8707) whose tokens are JWTs with it as ``aud``."""
    with OidcServer(resources=[{"resource": API, "scope": "read write"}]) as idp:
        yield idp


@dataclass
class AuthServer:
    """What these tests need of an authorization server, whichever it is."""

    name: str
    token_url: str
    add_client: Callable[[], OidcClient]
    grants: Callable[[], dict[str, Any]]
    reset: Callable[[], None]
    # whether the server would accept this access token (issued to this client)
    active: Callable[[str, OidcClient], bool]


def oidc_provider(idp: OidcServer) -> AuthServer:
    return AuthServer(
        "oidc-provider",
        f"{idp.issuer}/token",
        idp.add_machine_client,
        idp.grants,
        idp.reset,
        lambda token, client: bool(idp.introspect(token, client)["active"]),
    )


@pytest.fixture(scope="module")
def dot() -> Iterator[DotServer]:
    with DotServer() as server:
        yield server


@pytest.fixture(params=["oidc-provider", "django-oauth-toolkit"])
def auth_server(request: pytest.FixtureRequest) -> AuthServer:
    if request.param == "oidc-provider":
        return oidc_provider(request.getfixturevalue("machine_idp"))
    dot: DotServer = request.getfixturevalue("dot")
    return AuthServer(
        "django-oauth-toolkit",
        dot.token_url,
        dot.add_client,
        dot.grants,
        dot.reset,
        lambda token, client: bool(dot.active(token)["active"]),
    )


def create_cc_app(
    server: LiveServer,
    auth: OidcServer | AuthServer,
    client: OidcClient | None = None,
    **fields: Any,
) -> tuple[OidcClient, str]:
    if isinstance(auth, OidcServer):
        auth = oidc_provider(auth)
    client = client or auth.add_client()
    app_id = "cc-" + secrets.token_hex(3)
    with server.client() as http:
        response = http.post(
            "/v1/mgmt/outbound/app/create",
            json={
                "id": app_id,
                "name": app_id,
                "grantType": "client_credentials",
                "clientId": client.client_id,
                "clientSecret": client.client_secret,
                "tokenUrl": auth.token_url,
                "defaultScopes": ["read"],
                **fields,
            },
        )
    assert response.status_code == 200, response.text
    assert response.json()["app"]["grantType"] == "client_credentials"
    return client, app_id


def fetch(server: LiveServer, app_id: str, tenant: str, **body: Any) -> httpx.Response:
    path = TENANT_TOKEN if "scopes" in body else TENANT_TOKEN + "/latest"
    with server.client() as http:
        return http.post(path, json={"appId": app_id, "tenantId": tenant, **body})


def expire(server: LiveServer, app_id: str, tenant: str) -> None:
    """Age the stored token as the clock would (the provider's token stays valid)."""
    now = int(time.time())
    execute(
        server.store,
        "UPDATE tokens SET access_token_expiry = ?, last_refresh_time = ?"
        " WHERE app_id = ? AND tenant_id = ?",
        (now - 1, now - 3601, app_id, tenant),
    )


def cc_grants(auth: AuthServer) -> int:
    return int(auth.grants()["success"].get("client_credentials", 0))


def test_a_tenant_token_is_obtained_on_first_fetch_and_again_when_due(
    vault: Vault, auth_server: AuthServer
) -> None:
    server = vault.server
    client, app_id = create_cc_app(server, auth_server)
    auth_server.reset()

    first = fetch(server, app_id, "acme")
    assert first.status_code == 200, first.text
    token = first.json()["token"]
    assert token["tenantId"] == "acme" and token["userId"] == ""
    assert token["hasRefreshToken"] is False
    assert token["scopes"] == ["read"]
    assert int(token["accessTokenExpiry"]) > time.time() + 3000
    assert token["extra"]["grantType"] == "client_credentials"
    assert auth_server.active(token["accessToken"], client)
    assert cc_grants(auth_server) == 1

    # Usable: every later fetch is answered from the store.
    for _ in range(3):
        assert fetch(server, app_id, "acme").json()["token"]["accessToken"] == token["accessToken"]
    assert cc_grants(auth_server) == 1

    # Another tenant has a token of its own.
    other = fetch(server, app_id, "globex").json()["token"]
    assert other["accessToken"] != token["accessToken"]
    assert cc_grants(auth_server) == 2

    # Due (expired): obtained again, with no refresh token to send.
    expire(server, app_id, "acme")
    again = fetch(server, app_id, "acme").json()["token"]
    assert again["accessToken"] != token["accessToken"]
    assert auth_server.active(again["accessToken"], client)
    assert cc_grants(auth_server) == 3
    assert auth_server.grants()["error"] == {}

    # forceRefresh obtains a new one too.
    forced = fetch(server, app_id, "acme", options={"forceRefresh": True}).json()["token"]
    assert forced["accessToken"] not in (token["accessToken"], again["accessToken"])
    assert cc_grants(auth_server) == 4


def test_an_app_level_token_and_the_sdk(vault: Vault, machine_idp: OidcServer) -> None:
    """The reserved tenant id ``outbound:app`` names the app's own token; our SDK's tenant
    fetches work unchanged (scopes asked for are requested, within what the client may)."""
    server = vault.server
    client, app_id = create_cc_app(
        server, machine_idp, machine_idp.add_machine_client("read write admin")
    )
    sdk = Client(server.project_id, server.management_key, base_url=server.base_url)
    apps = sdk.mgmt.outbound_application
    app_token = apps.fetch_tenant_token(app_id, "outbound:app")["token"]
    assert app_token["tenantId"] == "outbound:app"
    assert machine_idp.introspect(app_token["accessToken"], client)["active"] is True

    scoped = apps.fetch_tenant_token_by_scopes(app_id, "initech", ["read", "write"])["token"]
    assert sorted(scoped["scopes"]) == ["read", "write"]
    granted = machine_idp.introspect(scoped["accessToken"], client)["scope"]
    assert sorted(granted.split()) == ["read", "write"]
    # Fewer scopes than the token holds: the stored token.
    again = apps.fetch_tenant_token_by_scopes(app_id, "initech", ["write"])["token"]
    assert again["accessToken"] == scoped["accessToken"]

    # More scopes than the token holds: a new token asked for with all of them.
    wider = apps.fetch_tenant_token_by_scopes(app_id, "initech", ["admin"])["token"]
    assert wider["accessToken"] != scoped["accessToken"]
    assert sorted(wider["scopes"]) == ["admin", "read", "write"]
    granted = machine_idp.introspect(wider["accessToken"], client)["scope"]
    assert sorted(granted.split()) == ["admin", "read", "write"]
    again = apps.fetch_tenant_token_by_scopes(app_id, "initech", ["read", "admin"])["token"]
    assert again["accessToken"] == wider["accessToken"]


def test_resource_and_token_parameters_are_sent_as_configured(
    vault: Vault, machine_idp: OidcServer
) -> None:
    """``resource`` (RFC 8707) binds the token to the API: oidc-provider issues a JWT whose
    ``aud`` is it; token parameters (Auth0's ``audience``) ride along."""
    client, app_id = create_cc_app(
        vault.server,
        machine_idp,
        resource=API,
        tokenUrlParams=[{"key": "audience", "value": API}],
    )
    token = fetch(vault.server, app_id, "acme").json()["token"]
    claims = jwt.decode(token["accessToken"], options={"verify_signature": False})
    assert claims["aud"] == API
    assert claims["client_id"] == client.client_id
    assert claims["scope"] == "read"


def test_refused_client_credentials_say_fix_the_app_and_recover_when_fixed(
    vault: Vault, machine_idp: OidcServer
) -> None:
    server = vault.server
    client = machine_idp.add_machine_client()
    wrong = OidcClient(client.client_id, "not-the-secret", ())
    _, app_id = create_cc_app(server, machine_idp, wrong)

    refused = fetch(server, app_id, "acme")
    assert refused.status_code == 409, refused.text
    assert refused.json()["errorCode"] == "E131014"
    assert "invalid_client" in refused.json()["errorMessage"]
    assert "not-the-secret" not in server.log()

    with server.client() as http:
        app = http.get(f"/v1/mgmt/outbound/app/{app_id}").json()["app"]
        fixed = {k: v for k, v in app.items() if k not in ("hasClientSecret", "callbackUrl")}
        response = http.post(
            "/v1/mgmt/outbound/app/update",
            json={"app": {**fixed, "clientSecret": client.client_secret}},
        )
    assert response.status_code == 200, response.text
    # another server picks the new secret up within the configuration cache's 5 s
    deadline = time.monotonic() + 10
    while (answer := fetch(server, app_id, "acme")).status_code != 200:
        assert time.monotonic() < deadline, answer.text
        time.sleep(0.5)
    assert machine_idp.introspect(answer.json()["token"]["accessToken"], client)["active"]


def test_a_client_credentials_app_needs_its_token_url_and_a_user_fetch_finds_nothing(
    vault: Vault, machine_idp: OidcServer
) -> None:
    with vault.server.client() as http:
        response = http.post(
            "/v1/mgmt/outbound/app/create",
            json={"name": "cc-no-url", "grantType": "client_credentials", "clientId": "x"},
        )
        assert response.status_code == 400, response.text
        assert response.json()["errorCode"] == "E011002"
        assert "tokenUrl" in response.json()["errorMessage"]
    _, app_id = create_cc_app(vault.server, machine_idp)
    with vault.server.client() as http:
        response = http.post(
            "/v1/mgmt/outbound/app/user/token/latest", json={"appId": app_id, "userId": "u1"}
        )
    assert response.status_code == 404
    assert response.json()["errorCode"] == "E111504"


# -- several servers on one database -------------------------------------------------------

SERVERS = 3
CALLERS = 30


@contextlib.contextmanager
def _store(backend: str, data_dir: Path) -> Iterator[Store]:
    if backend == "postgres":
        with postgres_database() as url:
            yield Store(data_dir, url)
    else:
        yield Store(data_dir)


@pytest.fixture(params=[pytest.param("postgres", marks=pytest.mark.postgres), "sqlite"])
def cluster(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[list[LiveServer]]:
    """Three servers on one database (as behind a load balancer)."""
    with _store(request.param, tmp_path) as store:
        project = store.new_project()
        servers: list[LiveServer] = []
        try:
            for _ in range(SERVERS):
                servers.append(
                    start_server(store, port=free_port(), project=project, extra_args=SERVER_ARGS)
                )
            yield servers
        finally:
            for server in servers:
                stop_server(server)


async def _race(servers: list[LiveServer], app_id: str, tenant: str) -> list[httpx.Response]:
    clients = [
        httpx.AsyncClient(
            base_url=s.base_url,
            headers=s.auth_header,
            timeout=60,
            limits=httpx.Limits(max_connections=CALLERS),
        )
        for s in servers
    ]
    body = {"appId": app_id, "tenantId": tenant}
    try:
        await asyncio.gather(*(clients[i % SERVERS].get("/health") for i in range(CALLERS)))
        return await asyncio.gather(
            *(
                clients[i % SERVERS].post(TENANT_TOKEN + "/latest", json=body)
                for i in range(CALLERS)
            )
        )
    finally:
        for client in clients:
            await client.aclose()


def test_servers_racing_on_a_first_and_a_due_token_make_one_token_request(
    cluster: list[LiveServer], auth_server: AuthServer
) -> None:
    _, app_id = create_cc_app(cluster[0], auth_server)
    auth_server.reset()

    # No token yet: every caller on every server wants the first one.
    responses = asyncio.run(_race(cluster, app_id, "acme"))
    assert [r.status_code for r in responses] == [200] * CALLERS, responses[0].text
    tokens = {r.json()["token"]["accessToken"] for r in responses}
    assert len(tokens) == 1
    assert auth_server.grants() == {
        "tokenRequests": 1,
        "success": {"client_credentials": 1},
        "error": {},
    }
    rows = execute(cluster[0].store, "SELECT COUNT(*) FROM tokens WHERE app_id = ?", (app_id,))
    assert rows[0][0] == 1

    # Due: obtained again once, and every server hands out that token.
    for round_ in range(2):
        (before,) = tokens
        auth_server.reset()
        expire(cluster[0], app_id, "acme")
        responses = asyncio.run(_race(cluster, app_id, "acme"))
        assert [r.status_code for r in responses] == [200] * CALLERS, responses[0].text
        tokens = {r.json()["token"]["accessToken"] for r in responses}
        assert len(tokens) == 1 and before not in tokens, f"round {round_}"
        assert auth_server.grants() == {
            "tokenRequests": 1,
            "success": {"client_credentials": 1},
            "error": {},
        }


def test_the_client_secret_goes_only_to_the_token_urls_origin(
    vault: Vault, machine_idp: OidcServer
) -> None:
    """An update that points the token URL elsewhere without giving the secret again is
    refused, and the other host never hears from the vault."""
    heard: list[str] = []

    class Listener(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            heard.append(self.headers.get("Authorization", ""))
            self.send_response(500)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    other = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Listener)
    threading.Thread(target=other.serve_forever, daemon=True).start()
    try:
        client, app_id = create_cc_app(vault.server, machine_idp)
        with vault.server.client() as http_client:
            app = http_client.get(f"/v1/mgmt/outbound/app/{app_id}").json()["app"]
            fields = {k: v for k, v in app.items() if k not in ("hasClientSecret", "callbackUrl")}
            moved = {**fields, "tokenUrl": f"http://127.0.0.1:{other.server_port}/token"}
            response = http_client.post("/v1/mgmt/outbound/app/update", json={"app": moved})
        assert response.status_code == 400, response.text
        assert response.json()["errorCode"] == "E011002"
        assert "app.clientSecret" in response.json()["errorMessage"]
        token = fetch(vault.server, app_id, "acme").json()["token"]
        assert machine_idp.introspect(token["accessToken"], client)["active"] is True
        assert heard == []
    finally:
        other.shutdown()
        other.server_close()
