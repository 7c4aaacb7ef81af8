"""A real remote MCP server for tests: the ``mcp`` Python SDK's ``MCPServer`` over streamable
HTTP, protected by an OAuth authorization server (the test oidc-provider).

It publishes RFC 9728 protected-resource metadata naming that authorization server, answers
401 with ``WWW-Authenticate: Bearer resource_metadata=…`` without a token, and accepts only
RS256 JWT access tokens whose ``aud`` is its own URL (RFC 8707/9068), checked against the
provider's JWKS.

    with McpServer(issuer=idp.issuer) as mcp:     # mcp.url == "http://127.0.0.1:PORT/mcp"
        ...

Run directly: ``python -m tests.support.mcp_server --port P --issuer URL``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from tests.support.processes import stop, wait_until_up
from tests.support.server import free_port

SCOPE = "mcp:tools"


def build_app(port: int, issuer: str, agent: argparse.Namespace | None = None) -> Any:
    import jwt
    from mcp.server.auth.middleware.auth_context import get_access_token
    from mcp.server.auth.provider import AccessToken
    from mcp.server.auth.settings import AuthSettings
    from mcp.server.mcpserver import MCPServer

    resource = f"http://127.0.0.1:{port}/mcp"
    jwks = jwt.PyJWKClient(f"{issuer}/jwks", cache_keys=True)

    class JwtVerifier:
        """RFC 9068 access tokens: signature from the issuer's JWKS, issuer, audience = us."""

        async def verify_token(self, token: str) -> AccessToken | None:
            try:
                key = jwks.get_signing_key_from_jwt(token)
                claims = jwt.decode(
                    token,
                    key.key,
                    algorithms=["RS256"],
                    audience=resource,
                    issuer=issuer,
                    options={"require": ["exp", "aud", "iss", "sub"]},
                )
            except jwt.PyJWTError:
                return None
            return AccessToken(
                token=token,
                client_id=str(claims.get("client_id", "")),
                scopes=str(claims.get("scope", "")).split(),
                expires_at=int(claims["exp"]),
                resource=resource,
                subject=str(claims["sub"]),
            )

    server = MCPServer(
        "outbound-test-mcp",
        token_verifier=JwtVerifier(),
        auth=AuthSettings(
            issuer_url=issuer,  # type: ignore[arg-type]
            resource_server_url=resource,  # type: ignore[arg-type]
            required_scopes=[SCOPE],
            validate_token_resource=True,
        ),
    )

    @server.tool()
    def whoami() -> str:
        """The user whose token called this tool."""
        token = get_access_token()
        return token.subject or "" if token is not None else ""

    @server.tool()
    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    if agent is not None and agent.vault:
        _agent_tool(server, agent)
    return server.streamable_http_app()


def _agent_tool(server: Any, agent: argparse.Namespace) -> None:
    """``provider_profile``: acting for the calling user, exchange their access token at the
    vault (RFC 8693, with outbound's SDK) for their provider token, and call the provider's
    userinfo with it. A user without a connection gets the connect link."""
    from mcp.server.auth.middleware.auth_context import get_access_token

    from outbound.client import AsyncClient, TokenExchangeError

    @server.tool()
    async def provider_profile() -> str:
        """The calling user's profile at the provider, read with their provider token."""
        users_token = get_access_token()
        assert users_token is not None
        async with AsyncClient(agent.project, base_url=agent.vault) as vault:
            try:
                exchanged = await vault.mgmt.outbound_application_by_token.token_exchange(
                    users_token.token, agent.app
                )
            except TokenExchangeError as exc:
                if exc.error == "interaction_required" and exc.error_uri:
                    return f"connect first: {exc.error_uri}"
                raise
        async with httpx.AsyncClient(timeout=10) as http:
            profile = await http.get(
                agent.userinfo,
                headers={"Authorization": f"Bearer {exchanged['access_token']}"},
            )
        profile.raise_for_status()
        return str(profile.json()["sub"])


@dataclass
class McpServer:
    """Starts this module as a subprocess on a free loopback port; stops it on exit."""

    issuer: str
    port: int = field(default_factory=free_port)
    # --vault URL --project ID --app ID --userinfo URL: add the provider_profile tool
    extra_args: list[str] = field(default_factory=list)
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _log: Path | None = field(default=None, init=False, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    def __enter__(self) -> McpServer:
        fd, name = tempfile.mkstemp(prefix="mcp-server-", suffix=".log")
        self._log = Path(name)
        root = Path(__file__).resolve().parents[2]
        self._process = subprocess.Popen(
            [
                *(sys.executable, "-m", "tests.support.mcp_server"),
                *("--port", str(self.port), "--issuer", self.issuer),
                *self.extra_args,
            ],
            cwd=root,
            stdout=fd,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": str(root)},
        )
        os.close(fd)
        metadata = f"http://127.0.0.1:{self.port}/.well-known/oauth-protected-resource/mcp"
        try:
            wait_until_up(metadata, self._process, "the MCP server", log=self.log)
        except RuntimeError:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._process is not None:
            stop(self._process, timeout=5)
        if self._log is not None:
            self._log.unlink(missing_ok=True)

    def log(self) -> str:
        return self._log.read_text(errors="replace") if self._log else ""


async def call_tool(url: str, access_token: str, name: str) -> str:
    """With an ``mcp`` client session: one tool's text answer."""
    import httpx2
    from mcp.client.session import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    headers = {"Authorization": f"Bearer {access_token}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=30) as http,
        streamable_http_client(url, http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        return _text(await session.call_tool(name, {}))


async def call_tools(url: str, access_token: str) -> tuple[list[str], str, int]:
    """With an ``mcp`` client session: the tool names, ``whoami``'s answer and ``add(2, 3)``."""
    import httpx2
    from mcp.client.session import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    headers = {"Authorization": f"Bearer {access_token}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=30) as http,
        streamable_http_client(url, http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        tools = await session.list_tools()
        who = await session.call_tool("whoami", {})
        added = await session.call_tool("add", {"a": 2, "b": 3})
    names = sorted(tool.name for tool in tools.tools)
    return names, _text(who), int(_text(added))


def _text(result: Any) -> str:
    if getattr(result, "isError", False) or getattr(result, "is_error", False):
        raise RuntimeError(f"the tool failed: {result}")
    return "".join(getattr(part, "text", "") for part in result.content)


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--issuer", required=True)
    parser.add_argument("--vault", default="")
    parser.add_argument("--project", default="")
    parser.add_argument("--app", default="")
    parser.add_argument("--userinfo", default="")
    args = parser.parse_args()
    uvicorn.run(build_app(args.port, args.issuer, args), host="127.0.0.1", port=args.port)


if __name__ == "__main__":
    main()
