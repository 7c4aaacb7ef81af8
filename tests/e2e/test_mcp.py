"""Connecting a user to a remote MCP server: an app that names only the server's URL finds the
authorization server (RFC 9728, RFC 8414), registers its own client there (RFC 7591) at the
first connect link, and gets tokens bound to the server (RFC 8707) that the server accepts.

Real parts: a streamable-HTTP MCP server built with the ``mcp`` SDK that checks JWT access
tokens against the real oidc-provider (dynamic registration and resource indicators on),
``outbound serve`` processes on the session's backend, chromium for the consent.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from tests.conftest import PerBackend
from tests.e2e.conftest import SERVER_ARGS, Vault, scripted_consent
from tests.support.browser import CallbackCatcher, drive_consent
from tests.support.database import execute, raw_dump
from tests.support.mcp_server import SCOPE, McpServer, call_tools
from tests.support.oidc_server import OidcServer
from tests.support.recording_provider import RecordingProvider
from tests.support.server import LiveServer, Store, free_port, start_server, stop_server

pytestmark = pytest.mark.browser

# Access-token lifetime while a test watches one expire.
TTL = 10


@pytest.fixture(scope="session")
def mcp_port() -> int:
    return free_port()


@pytest.fixture(scope="session")
def mcp_idp(mcp_port: int) -> Iterator[OidcServer]:
    """The MCP server's authorization server: open registration, JWT tokens for the server."""
    resource = f"http://127.0.0.1:{mcp_port}/mcp"
    with OidcServer(registration=True, resources=[{"resource": resource, "scope": SCOPE}]) as idp:
        yield idp


@pytest.fixture(scope="session")
def mcp(mcp_idp: OidcServer, mcp_port: int) -> Iterator[McpServer]:
    with McpServer(issuer=mcp_idp.issuer, port=mcp_port) as server:
        yield server


@pytest.fixture(scope="session")
def mcp_vault(backend: str, store: Store, per_backend: PerBackend) -> LiveServer:
    return per_backend.get("mcp_vault", backend, lambda: _running(store))


class _running:
    def __init__(self, store: Store, **kwargs: Any) -> None:
        self.store, self.kwargs = store, kwargs

    def __enter__(self) -> LiveServer:
        self.server = start_server(self.store, extra_args=SERVER_ARGS, **self.kwargs)
        return self.server

    def __exit__(self, *exc: object) -> None:
        stop_server(self.server)


def create_mcp_app(server: LiveServer, mcp: McpServer, **fields: Any) -> dict[str, Any]:
    """An app from the MCP server's URL alone: no client id, secret or endpoint."""
    with server.client() as http:
        response = http.post(
            "/v1/mgmt/outbound/app/create",
            json={
                "name": "mcp-" + secrets.token_hex(3),
                "useDcr": True,
                "resource": mcp.url,
                **fields,
            },
        )
    assert response.status_code == 200, response.text
    app: dict[str, Any] = response.json()["app"]
    return app


def _claims(jwt: str) -> dict[str, Any]:
    payload = jwt.split(".")[1]
    claims: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return claims


def test_an_agent_calls_mcp_tools_with_the_users_token(
    mcp_vault: LiveServer,
    mcp_idp: OidcServer,
    mcp: McpServer,
    catcher: CallbackCatcher,
) -> None:
    app = create_mcp_app(mcp_vault, mcp, defaultRedirectUrl=catcher.url)
    assert (app["useDcr"], app["resource"], app["clientId"]) == (True, mcp.url, "")
    assert app["hasClientSecret"] is False and app["appType"] == "oauth"
    vault = Vault(mcp_vault, mcp_idp, mcp_idp.client, catcher, app["id"])
    user = vault.new_user()
    mcp_idp.set_access_token_ttl(TTL)
    try:
        registered = mcp_idp.registrations()

        # The first link registers the app's client at the MCP server's authorization server.
        link = vault.link(user)
        assert mcp_idp.registrations() == registered + 1
        final = drive_consent(link, stop_at=catcher.url, login=user)
        assert "status=success" in final

        token = vault.token(user, withRefreshToken=True)
        assert token["hasRefreshToken"] is True
        assert _claims(token["accessToken"])["aud"] == mcp.url  # bound to the server (RFC 8707)
        names, who, total = asyncio.run(call_tools(mcp.url, token["accessToken"]))
        assert names == ["add", "whoami"]
        assert (who, total) == (user, 5)

        # The token lives TTL seconds: once the MCP server refuses it, the vault refreshes it.
        time.sleep(max(0.0, int(token["accessTokenExpiry"]) - time.time()) + 1)
        refused = httpx.post(
            mcp.url,
            headers={"Authorization": f"Bearer {token['accessToken']}"},
            json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        )
        assert refused.status_code == 401
        mcp_idp.reset()
        fresh = vault.token(user, withRefreshToken=True)
        assert fresh["accessToken"] != token["accessToken"]
        assert mcp_idp.successful_grants("refresh_token") == 1
        assert _claims(fresh["accessToken"])["aud"] == mcp.url
        assert asyncio.run(call_tools(mcp.url, fresh["accessToken"]))[1:] == (user, 5)
        # One registration, however many links and refreshes.
        vault.link(vault.new_user())
        assert mcp_idp.registrations() == registered + 1
    finally:
        mcp_idp.set_access_token_ttl(3600)

    # The registered client's secret is sealed; nothing secret reached the log.
    dump, log = raw_dump(mcp_vault.store), mcp_vault.log()
    for secret in (fresh["accessToken"], fresh["refreshToken"]):
        assert secret.encode() not in dump and secret not in log

    # Deleting the user's tokens revokes the grant at the authorization server.
    assert mcp_idp.is_active(fresh["refreshToken"])
    with mcp_vault.client() as http:
        response = http.delete(
            "/v1/mgmt/outbound/user/tokens", params={"appId": app["id"], "userId": user}
        )
    assert response.status_code == 200, response.text
    assert not mcp_idp.is_active(fresh["refreshToken"])


def test_the_registered_client_is_deleted_with_the_app(
    mcp_vault: LiveServer, mcp_idp: OidcServer, mcp: McpServer, catcher: CallbackCatcher
) -> None:
    app = create_mcp_app(mcp_vault, mcp, defaultRedirectUrl=catcher.url)
    vault = Vault(mcp_vault, mcp_idp, mcp_idp.client, catcher, app["id"])
    user = vault.new_user()
    assert vault.connect_quickly(user)["status"] == "success"
    token = vault.token(user, withRefreshToken=True)
    (client_id,) = _client_ids(mcp_vault, app["id"])
    assert mcp_idp.client_exists(client_id)
    # The registered client's secret is kept sealed and never logged.
    secret = mcp_idp.client_secret(client_id)
    assert secret
    assert secret.encode() not in raw_dump(mcp_vault.store)
    assert secret not in mcp_vault.log()

    with mcp_vault.client() as http:
        assert http.post("/v1/mgmt/outbound/app/delete", json={"id": app["id"]}).status_code == 200

    assert not mcp_idp.is_active(token["refreshToken"])  # revoked as that client
    assert not mcp_idp.client_exists(client_id)  # then the client deleted (RFC 7592)
    assert _client_ids(mcp_vault, app["id"]) == []


def test_a_forgotten_client_is_registered_again(
    mcp_vault: LiveServer, mcp_idp: OidcServer, mcp: McpServer, catcher: CallbackCatcher
) -> None:
    app = create_mcp_app(mcp_vault, mcp, defaultRedirectUrl=catcher.url)
    vault = Vault(mcp_vault, mcp_idp, mcp_idp.client, catcher, app["id"])
    user = vault.new_user()
    assert vault.connect_quickly(user)["status"] == "success"
    (first,) = _client_ids(mcp_vault, app["id"])
    registered = mcp_idp.registrations()

    mcp_idp.forget_client(first)
    # The refresh is refused as invalid_client: the user must connect again, and the vault
    # registers a new client for that, once.
    response = vault.fetch(user, forceRefresh=True)
    assert response.status_code == 409, response.text
    assert mcp_idp.registrations() == registered + 1
    (second,) = _client_ids(mcp_vault, app["id"])
    assert second != first
    assert vault.connect_quickly(user)["status"] == "success"
    assert asyncio.run(call_tools(mcp.url, vault.token(user)["accessToken"]))[1] == user
    assert mcp_idp.registrations() == registered + 1


def _client_ids(server: LiveServer, app_id: str) -> list[str]:
    rows = execute(
        server.store, "SELECT client_id FROM client_registrations WHERE app_id = ?", (app_id,)
    )
    return [row[0] for row in rows if row[0]]


def test_servers_racing_on_the_first_link_register_one_client(
    store: Store, mcp_idp: OidcServer, mcp: McpServer, catcher: CallbackCatcher
) -> None:
    ports = [free_port(), free_port()]
    public_url = f"http://127.0.0.1:{ports[0]}"
    project = store.new_project()
    servers = [
        start_server(
            store, port=port, project=project, extra_args=[*SERVER_ARGS, "--public-url", public_url]
        )
        for port in ports
    ]
    try:
        app = create_mcp_app(servers[0], mcp, defaultRedirectUrl=catcher.url)
        registered = mcp_idp.registrations()
        callers = 16

        def link(i: int) -> httpx.Response:
            server = servers[i % len(servers)]
            with server.client() as http:
                return http.post(
                    "/v1/mgmt/outbound/app/connect",
                    json={"appId": app["id"], "userId": f"racer-{i}"},
                )

        with ThreadPoolExecutor(callers) as pool:
            responses = list(pool.map(link, range(callers)))

        assert [r.status_code for r in responses] == [200] * callers, responses[0].text
        assert mcp_idp.registrations() == registered + 1
        # Every link works with that one client, whichever server it is opened on.
        final = scripted_consent(responses[1].json()["url"], catcher.url, "racer-1")
        assert "status=success" in final
    finally:
        for server in servers:
            stop_server(server)


def test_a_registered_clients_secret_does_not_follow_the_app_to_another_server(
    mcp_vault: LiveServer, mcp_idp: OidcServer, mcp: McpServer, catcher: CallbackCatcher
) -> None:
    """Issue 25, item 1, for the client an app registered itself: an update that points the
    app at another MCP server (one the key holder controls) drops the registered client, so
    its secret — issued by the first authorization server — is never sent to the other."""
    app = create_mcp_app(mcp_vault, mcp, defaultRedirectUrl=catcher.url)
    vault = Vault(mcp_vault, mcp_idp, mcp_idp.client, catcher, app["id"])
    user = vault.new_user()
    assert vault.connect_quickly(user)["status"] == "success"
    (client_id,) = _client_ids(mcp_vault, app["id"])
    secret = mcp_idp.client_secret(client_id)
    assert secret
    with RecordingProvider() as attacker, mcp_vault.client() as http:
        loaded = http.get(f"/v1/mgmt/outbound/app/{app['id']}").json()["app"]
        sent = {k: v for k, v in loaded.items() if k not in ("callbackUrl", "hasClientSecret")}
        sent["resource"] = attacker.resource_url
        assert http.post("/v1/mgmt/outbound/app/update", json={"app": sent}).status_code == 200
        vault.fetch(user, forceRefresh=True)
        assert attacker.carrying(secret) == []
        assert _client_ids(mcp_vault, app["id"]) == []
        assert not mcp_idp.client_exists(client_id)  # deleted at its server (RFC 7592)
