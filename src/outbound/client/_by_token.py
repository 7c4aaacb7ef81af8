"""``client.mgmt.outbound_application_by_token``: an agent fetches a user's token with that
user's own access token — no management key (docs/agents.md).

The four fetches are the official ``descope`` SDK's (names, parameters and their order, return
shapes): each is the management fetch's request (``_requests``) authenticated with
``Bearer <projectId>:<token>`` instead. :meth:`OutboundApplicationByToken.token_exchange` is
the same trade over RFC 8693. Both classes share one definition of each method, as
``_outbound_application``'s do.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ..secret import Secret
from . import _requests as build
from ._core import ApiRequest
from ._outbound_application import coroutine_twins

if TYPE_CHECKING:
    from ._client import AsyncClient, Client

__all__ = ["AsyncOutboundApplicationByToken", "OutboundApplicationByToken"]

Options = Mapping[str, Any]
Token = str | Secret
Result = TypeVar("Result")  # the answer, or (async) an awaitable of it


class _ByToken(Generic[Result]):
    """The methods, written once for both clients (as ``_outbound_application``'s are)."""

    _call: Callable[[ApiRequest], Result]
    _project_id: str

    def fetch_token_by_scopes(
        self,
        token: Token,
        app_id: str,
        user_id: str,
        scopes: Sequence[str],
        options: Options | None = None,
        tenant_id: str | None = None,
    ) -> Result:
        """The user's token holding at least ``scopes``: ``{"token": {...}}``."""
        request = build.fetch_token_by_scopes(app_id, user_id, scopes, options, tenant_id)
        return self._call(build.by_token(request, token))

    def fetch_token(
        self,
        token: Token,
        app_id: str,
        user_id: str,
        tenant_id: str | None = None,
        options: Options | None = None,
    ) -> Result:
        """The user's latest token: ``{"token": {...}}``."""
        request = build.fetch_token(app_id, user_id, tenant_id, options)
        return self._call(build.by_token(request, token))

    def fetch_tenant_token_by_scopes(
        self,
        token: Token,
        app_id: str,
        tenant_id: str,
        scopes: Sequence[str],
        options: Options | None = None,
    ) -> Result:
        """The tenant's token holding at least ``scopes`` (the token needs the tenant role)."""
        request = build.fetch_tenant_token_by_scopes(app_id, tenant_id, scopes, options)
        return self._call(build.by_token(request, token))

    def fetch_tenant_token(
        self, token: Token, app_id: str, tenant_id: str, options: Options | None = None
    ) -> Result:
        """The tenant's latest token (the token needs the tenant role)."""
        request = build.fetch_tenant_token(app_id, tenant_id, options)
        return self._call(build.by_token(request, token))

    def token_exchange(
        self, token: Token, app_id: str, scopes: Sequence[str] | None = None
    ) -> Result:
        """RFC 8693: the user's provider token of ``app_id`` as an OAuth answer
        (``access_token``, ``issued_token_type``, ``token_type``, ``expires_in``, ``scope``).
        Refusals raise :class:`TokenExchangeError`; for ``interaction_required`` its
        ``error_uri`` is a connect link to send the user to."""
        request = build.token_exchange(token, app_id, scopes, self._project_id)
        return self._call(request)


class OutboundApplicationByToken(_ByToken[dict[str, Any]]):
    """Fetches authenticated by a user's access token (sync). The server lets the token fetch
    only its own subject's tokens, never with the refresh token."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self._call = client._call
        self._project_id = client.project_id

    def __repr__(self) -> str:
        return f"<OutboundApplicationByToken of {self._client!r}>"


class AsyncOutboundApplicationByToken(_ByToken[Awaitable[dict[str, Any]]]):
    """The asyncio twin of :class:`OutboundApplicationByToken`."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client
        self._call = client._call
        self._project_id = client.project_id

    def __repr__(self) -> str:
        return f"<AsyncOutboundApplicationByToken of {self._client!r}>"


coroutine_twins(AsyncOutboundApplicationByToken, _ByToken)
