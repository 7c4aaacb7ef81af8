"""``client.mgmt.outbound_application_by_token``: an agent fetches a user's token with that
user's own access token — no management key (docs/agents.md).

The four fetches are the official ``descope`` SDK's (names, parameters and their order, return
shapes): each is the management fetch's request (``_requests``) authenticated with
``Bearer <projectId>:<token>`` instead. :meth:`OutboundApplicationByToken.token_exchange` is
the same trade over RFC 8693. The async twin is the same lines with ``await``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..secret import Secret
from . import _requests as build

if TYPE_CHECKING:
    from ._client import AsyncClient, Client

__all__ = ["AsyncOutboundApplicationByToken", "OutboundApplicationByToken"]

Options = Mapping[str, Any]
Token = str | Secret


class OutboundApplicationByToken:
    """Fetches authenticated by a user's access token (sync). The server lets the token fetch
    only its own subject's tokens, never with the refresh token."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def __repr__(self) -> str:
        return f"<OutboundApplicationByToken of {self._client!r}>"

    def fetch_token_by_scopes(
        self,
        token: Token,
        app_id: str,
        user_id: str,
        scopes: Sequence[str],
        options: Options | None = None,
        tenant_id: str | None = None,
    ) -> dict[str, Any]:
        """The user's token holding at least ``scopes``: ``{"token": {...}}``."""
        request = build.fetch_token_by_scopes(app_id, user_id, scopes, options, tenant_id)
        return self._client._call(build.by_token(request, token))

    def fetch_token(
        self,
        token: Token,
        app_id: str,
        user_id: str,
        tenant_id: str | None = None,
        options: Options | None = None,
    ) -> dict[str, Any]:
        """The user's latest token: ``{"token": {...}}``."""
        request = build.fetch_token(app_id, user_id, tenant_id, options)
        return self._client._call(build.by_token(request, token))

    def fetch_tenant_token_by_scopes(
        self,
        token: Token,
        app_id: str,
        tenant_id: str,
        scopes: Sequence[str],
        options: Options | None = None,
    ) -> dict[str, Any]:
        """The tenant's token holding at least ``scopes`` (the token needs the tenant role)."""
        request = build.fetch_tenant_token_by_scopes(app_id, tenant_id, scopes, options)
        return self._client._call(build.by_token(request, token))

    def fetch_tenant_token(
        self, token: Token, app_id: str, tenant_id: str, options: Options | None = None
    ) -> dict[str, Any]:
        """The tenant's latest token (the token needs the tenant role)."""
        request = build.fetch_tenant_token(app_id, tenant_id, options)
        return self._client._call(build.by_token(request, token))

    def token_exchange(
        self, token: Token, app_id: str, scopes: Sequence[str] | None = None
    ) -> dict[str, Any]:
        """RFC 8693: the user's provider token of ``app_id`` as an OAuth answer
        (``access_token``, ``issued_token_type``, ``token_type``, ``expires_in``, ``scope``).
        Refusals raise :class:`TokenExchangeError`; for ``interaction_required`` its
        ``error_uri`` is a connect link to send the user to."""
        request = build.token_exchange(token, app_id, scopes, self._client.project_id)
        return self._client._call(request)


class AsyncOutboundApplicationByToken:
    """The asyncio twin of :class:`OutboundApplicationByToken`."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    def __repr__(self) -> str:
        return f"<AsyncOutboundApplicationByToken of {self._client!r}>"

    async def fetch_token_by_scopes(
        self,
        token: Token,
        app_id: str,
        user_id: str,
        scopes: Sequence[str],
        options: Options | None = None,
        tenant_id: str | None = None,
    ) -> dict[str, Any]:
        request = build.fetch_token_by_scopes(app_id, user_id, scopes, options, tenant_id)
        return await self._client._call(build.by_token(request, token))

    async def fetch_token(
        self,
        token: Token,
        app_id: str,
        user_id: str,
        tenant_id: str | None = None,
        options: Options | None = None,
    ) -> dict[str, Any]:
        request = build.fetch_token(app_id, user_id, tenant_id, options)
        return await self._client._call(build.by_token(request, token))

    async def fetch_tenant_token_by_scopes(
        self,
        token: Token,
        app_id: str,
        tenant_id: str,
        scopes: Sequence[str],
        options: Options | None = None,
    ) -> dict[str, Any]:
        request = build.fetch_tenant_token_by_scopes(app_id, tenant_id, scopes, options)
        return await self._client._call(build.by_token(request, token))

    async def fetch_tenant_token(
        self, token: Token, app_id: str, tenant_id: str, options: Options | None = None
    ) -> dict[str, Any]:
        request = build.fetch_tenant_token(app_id, tenant_id, options)
        return await self._client._call(build.by_token(request, token))

    async def token_exchange(
        self, token: Token, app_id: str, scopes: Sequence[str] | None = None
    ) -> dict[str, Any]:
        request = build.token_exchange(token, app_id, scopes, self._client.project_id)
        return await self._client._call(request)


# The twins document themselves once.
for _name in (
    "fetch_token_by_scopes",
    "fetch_token",
    "fetch_tenant_token_by_scopes",
    "fetch_tenant_token",
    "token_exchange",
):
    getattr(AsyncOutboundApplicationByToken, _name).__doc__ = getattr(
        OutboundApplicationByToken, _name
    ).__doc__
