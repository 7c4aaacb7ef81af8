"""End to end: an MCP server (the ``mcp`` SDK) protected by an authorization server receives
the user's access token from an MCP client, exchanges it at the vault (RFC 8693, with
outbound's SDK) for the user's provider token, and calls the provider with it.

Real parts: oidc-provider as the MCP server's authorization server (JWT access tokens for the
MCP server's URL, carrying ``mcp:tools outbound.token.fetch``), the MCP server as a subprocess,
the ``mcp`` SDK's streamable-HTTP client, the live vault, and oidc-provider again as the
provider whose userinfo the tool reads.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest
from tests.e2e.agents.support import FETCH_SCOPE, set_issuer, user_token
from tests.e2e.conftest import Vault, scripted_consent
from tests.support.browser import CallbackCatcher
from tests.support.mcp_server import SCOPE, McpServer, call_tool
from tests.support.oidc_server import OidcServer
from tests.support.server import free_port


@pytest.fixture(scope="module")
def mcp_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def mcp_idp(mcp_port: int) -> Iterator[OidcServer]:
    resource = f"http://127.0.0.1:{mcp_port}/mcp"
    with OidcServer(resources=[{"resource": resource, "scope": f"{SCOPE} {FETCH_SCOPE}"}]) as idp:
        yield idp


@pytest.fixture(scope="module")
def mcp(vault: Vault, idp: OidcServer, mcp_idp: OidcServer, mcp_port: int) -> Iterator[McpServer]:
    userinfo = httpx.get(idp.discovery_url, timeout=10).json()["userinfo_endpoint"]
    agent = ["--vault", vault.server.base_url, "--project", vault.server.project_id]
    agent += ["--app", vault.app_id, "--userinfo", userinfo]
    with McpServer(issuer=mcp_idp.issuer, port=mcp_port, extra_args=agent) as server:
        yield server


def test_an_mcp_tool_calls_the_provider_as_its_user(
    vault: Vault,
    mcp: McpServer,
    mcp_idp: OidcServer,
    catcher: CallbackCatcher,
    issuers_restored: None,
) -> None:
    # The operator lets the MCP server's users' tokens (aud: the MCP server) fetch.
    set_issuer(vault, mcp_idp.issuer, mcp_idp.jwks_url, "--audience", mcp.url, "--add")
    client = mcp_idp.add_client([catcher.url])
    user = vault.new_user()
    token = user_token(
        mcp_idp, client, catcher, user, resource=mcp.url, scope=f"{SCOPE} {FETCH_SCOPE}"
    )
    vault.seen.add(token)

    # Not connected to the provider yet: the tool hands back the connect link.
    first = asyncio.run(call_tool(mcp.url, token, "provider_profile"))
    assert first.startswith("connect first: " + vault.server.base_url), first
    link = first.removeprefix("connect first: ")
    vault.seen.add(httpx.URL(link).params["link"])
    scripted_consent(link, vault.catcher.url, user)

    # Connected: the tool reads the user's profile at the provider with their provider token.
    assert asyncio.run(call_tool(mcp.url, token, "provider_profile")) == user
    assert token not in vault.server.log()
