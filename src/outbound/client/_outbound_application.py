"""``client.mgmt.outbound_application``: the official SDK's methods, sync and async.

Names, parameters (and their order) and return shapes are those of the official ``descope``
SDK's ``OutboundApplication``, plus :meth:`OutboundApplication.connect`. Each method only
builds its request (``_requests``) and hands it to the client; it is written once, for both
clients, generic over what a call returns (a dict, or an awaitable of one). Return values
are plain dicts as on the wire whose repr masks secrets.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ..secret import Secret
from . import _requests as build
from ._core import ApiRequest
from ._requests import URLParamLike

if TYPE_CHECKING:
    from ._client import AsyncClient, Client

__all__ = ["AsyncOutboundApplication", "OutboundApplication"]

Options = Mapping[str, Any]
# What a method returns: the answer (a dict), or nothing; the async class awaitables of them.
Result = TypeVar("Result")
Done = TypeVar("Done")


class _Methods(Generic[Result, Done]):
    """The methods, written once: each builds its request and hands it to ``_call`` (or, for
    the methods that return nothing, ``_done``), which the sync and async classes provide."""

    _call: Callable[[ApiRequest], Result]

    def _done(self, request: ApiRequest) -> Done:
        raise NotImplementedError

    # -- apps ----------------------------------------------------------------------------

    def create_application(
        self,
        name: str,
        description: str | None = None,
        logo: str | None = None,
        id: str | None = None,
        client_secret: str | Secret | None = None,
        client_id: str | None = None,
        discovery_url: str | None = None,
        authorization_url: str | None = None,
        authorization_url_params: Sequence[URLParamLike] | None = None,
        token_url: str | None = None,
        token_url_params: Sequence[URLParamLike] | None = None,
        revocation_url: str | None = None,
        default_scopes: Sequence[str] | None = None,
        default_redirect_url: str | None = None,
        callback_domain: str | None = None,
        pkce: bool | None = None,
        access_type: Any = None,
        prompt: Sequence[Any] | None = None,
        *,
        use_dcr: bool | None = None,
        dcr_url: str | None = None,
        resource: str | None = None,
        api_base_url: str | None = None,
        grant_type: str | None = None,
        github_app_id: str | None = None,
        private_key: str | Secret | None = None,
    ) -> Result:
        """Create an outbound app; its id is generated unless given. Names are unique.

        ``authorization_url_params`` / ``token_url_params`` take descope's ``URLParam`` objects
        or ``{"name": ..., "value": ...}`` dicts; ``access_type`` and ``prompt`` take descope's
        enums or their string values. Returns ``{"app": {...}}`` (the secret is never returned:
        ``app["hasClientSecret"]`` says whether one is stored).

        Keyword-only, beyond the official SDK: ``use_dcr`` (register a client at the
        authorization server on the first connect instead of naming one), ``dcr_url`` (the
        registration endpoint, when the server's metadata does not name it) and ``resource``
        (an MCP server's URL: its authorization server is found from it, and every token is
        bound to it; docs/mcp.md), ``api_base_url`` (the provider's API, which
        ``client.proxy`` calls; docs/proxy.md), ``grant_type`` (``client_credentials``,
        ``github_app_installation``, …), ``github_app_id`` and ``private_key`` (a GitHub App's
        PEM key, write-only): see docs/grants.md.
        """
        return self._call(
            build.create_application(
                name, description, logo, id, client_secret, client_id, discovery_url,
                authorization_url, authorization_url_params, token_url, token_url_params,
                revocation_url, default_scopes, default_redirect_url, callback_domain, pkce,
                access_type, prompt, use_dcr=use_dcr, dcr_url=dcr_url, resource=resource,
                api_base_url=api_base_url,
                grant_type=grant_type, github_app_id=github_app_id, private_key=private_key,
            )
        )  # fmt: skip

    def update_application(
        self,
        id: str,
        name: str,
        description: str | None = None,
        logo: str | None = None,
        client_secret: str | Secret | None = None,
        client_id: str | None = None,
        discovery_url: str | None = None,
        authorization_url: str | None = None,
        authorization_url_params: Sequence[URLParamLike] | None = None,
        token_url: str | None = None,
        token_url_params: Sequence[URLParamLike] | None = None,
        revocation_url: str | None = None,
        default_scopes: Sequence[str] | None = None,
        default_redirect_url: str | None = None,
        callback_domain: str | None = None,
        pkce: bool | None = None,
        access_type: Any = None,
        prompt: Sequence[Any] | None = None,
        *,
        use_dcr: bool | None = None,
        dcr_url: str | None = None,
        resource: str | None = None,
        api_base_url: str | None = None,
        grant_type: str | None = None,
        github_app_id: str | None = None,
        private_key: str | Secret | None = None,
    ) -> Result:
        """Overwrite app ``id`` with these fields: what is not given is cleared.

        An omitted ``client_secret`` keeps the stored one. Returns ``{"app": {...}}``.
        """
        return self._call(
            build.update_application(
                id, name, description, logo, client_secret, client_id, discovery_url,
                authorization_url, authorization_url_params, token_url, token_url_params,
                revocation_url, default_scopes, default_redirect_url, callback_domain, pkce,
                access_type, prompt, use_dcr=use_dcr, dcr_url=dcr_url, resource=resource,
                api_base_url=api_base_url,
                grant_type=grant_type, github_app_id=github_app_id, private_key=private_key,
            )
        )  # fmt: skip

    def delete_application(self, id: str) -> Done:
        """Delete app ``id`` and every token stored for it (irreversible)."""
        return self._done(build.delete_application(id))

    def load_application(self, id: str) -> Result:
        """Returns ``{"app": {...}}``; raises :class:`NotFoundError` for an unknown id."""
        return self._call(build.load_application(id))

    def load_all_applications(self) -> Result:
        """Returns ``{"apps": [{...}, ...]}``."""
        return self._call(build.load_all_applications())

    # -- fetching tokens -----------------------------------------------------------------

    def fetch_token_by_scopes(
        self,
        app_id: str,
        user_id: str,
        scopes: Sequence[str],
        options: Options | None = None,
        tenant_id: str | None = None,
    ) -> Result:
        """A usable token of ``user_id`` for ``app_id`` granted at least ``scopes``.

        Example::

            token = descope_client.mgmt.outbound_application.fetch_token_by_scopes(
                app_id="app-id",
                user_id="user-id",
                scopes=["read", "write"]
            )
            access_token = token["token"]["token"]

        ``options``: ``{"withRefreshToken": True}`` also returns the refresh token,
        ``{"forceRefresh": True}`` refreshes at the provider first. Raises
        :class:`NotFoundError` when no token holds these scopes and
        :class:`ReconnectRequiredError` when the provider rejected the refresh.
        """
        return self._call(build.fetch_token_by_scopes(app_id, user_id, scopes, options, tenant_id))

    def fetch_token(
        self,
        app_id: str,
        user_id: str,
        tenant_id: str | None = None,
        options: Options | None = None,
    ) -> Result:
        """The latest usable token of ``user_id`` for ``app_id``, refreshed if it was stale.

        Example::

            token = descope_client.mgmt.outbound_application.fetch_token(
                app_id="app-id",
                user_id="user-id"
            )
            access_token = token["token"]["token"]

        Returns ``{"token": {"token": ..., "accessTokenExpiry": "<epoch s>", "scopes": [...],
        ...}}``. Raises :class:`NotFoundError`, :class:`ReconnectRequiredError` or
        :class:`ProviderUnavailableError`.
        """
        return self._call(build.fetch_token(app_id, user_id, tenant_id, options))

    def fetch_tenant_token_by_scopes(
        self,
        app_id: str,
        tenant_id: str,
        scopes: Sequence[str],
        options: Options | None = None,
    ) -> Result:
        """Like :meth:`fetch_token_by_scopes`, for a token held by a tenant."""
        return self._call(build.fetch_tenant_token_by_scopes(app_id, tenant_id, scopes, options))

    def fetch_tenant_token(
        self,
        app_id: str,
        tenant_id: str,
        options: Options | None = None,
    ) -> Result:
        """Like :meth:`fetch_token`, for a token held by a tenant."""
        return self._call(build.fetch_tenant_token(app_id, tenant_id, options))

    # -- deleting tokens -----------------------------------------------------------------

    def delete_user_tokens(self, app_id: str | None = None, user_id: str | None = None) -> Done:
        """Delete every token of ``user_id`` for ``app_id`` (either may be omitted, not both).

        Example::

            descope_client.mgmt.outbound_application.delete_user_tokens(
                app_id="app-id",
                user_id="user-id"
            )
        """
        return self._done(build.delete_user_tokens(app_id, user_id))

    def delete_token(self, token_id: str) -> Done:
        """Delete one token by its id (``token["token"]["id"]``).

        Example::

            descope_client.mgmt.outbound_application.delete_token(token_id="token-id")
        """
        return self._done(build.delete_token(token_id))

    def list_apps_with_user_token(self, user_id: str, tenant_id: str | None = None) -> Result:
        """Returns ``{"appIds": [...]}``: the apps where ``user_id`` holds a usable token."""
        return self._call(build.list_apps_with_user_token(user_id, tenant_id))

    def list_connections(
        self,
        app_id: str | None = None,
        user_id: str | None = None,
        tenant_id: str | None = None,
        status: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
        *,
        metadata: tuple[str, str] | None = None,
    ) -> Result:
        """One page of the project's connections (an outbound extension; never a secret).

        Returns ``{"connections": [...], "nextCursor": "..."}``: each with ``id``, ``appId``,
        ``userId``, ``tenantId``, ``status`` (``active``, ``refresh_failing`` or
        ``reconnect_required``), ``scopes``, ``accessTokenExpiry``, ``lastRefreshTime``,
        ``lastRefreshError``, ``failingSince``, ``failureCount`` and ``createdTime``. Pass
        ``nextCursor`` back as ``cursor`` for the next page; it is empty on the last.

        Example::

            broken = client.mgmt.outbound_application.list_connections(
                status="reconnect_required"
            )["connections"]
        """
        return self._call(
            build.list_connections(app_id, user_id, tenant_id, status, limit, cursor, metadata)
        )

    def set_connection_metadata(self, connection_id: str, metadata: Mapping[str, Any]) -> Result:
        """Replace the metadata of connection ``connection_id`` (an outbound extension).

        ``metadata`` is a JSON object of at most 4 KiB, stored in plain text and shown in
        lists: never put a secret in it. ``{}`` clears it. Returns ``{"connection": {...}}``.
        """
        return self._call(build.set_connection_metadata(connection_id, metadata))

    # -- uploading (migrating) tokens and API keys ---------------------------------------

    def upload_user_api_key(
        self,
        app_id: str,
        user_id: str,
        api_key: str | Secret,
        tenant_id: str | None = None,
        *,
        metadata: Mapping[str, Any] | None = None,
    ) -> Result:
        """Store a static API key for ``user_id`` on an API-key app (with the connection's
        ``metadata``, a small JSON object; absent, the connection keeps what it has)."""
        return self._call(build.upload_user_api_key(app_id, user_id, api_key, tenant_id, metadata))

    def upload_tenant_api_key(
        self,
        app_id: str,
        tenant_id: str,
        api_key: str | Secret,
        *,
        metadata: Mapping[str, Any] | None = None,
    ) -> Result:
        """Store a static API key for ``tenant_id`` on an API-key app."""
        return self._call(build.upload_tenant_api_key(app_id, tenant_id, api_key, metadata))

    def upload_user_token(
        self,
        app_id: str,
        user_id: str,
        tenant_id: str | None = None,
        refresh_token: str | Secret | None = None,
        access_token: str | Secret | None = None,
        access_token_expiry: int | None = None,
        access_token_type: str | None = None,
        scopes: Sequence[str] | None = None,
        external_identifier: str | None = None,
        id_token: str | Secret | None = None,
        verify_refresh: bool | None = None,
        granted_by: str | None = None,
        *,
        metadata: Mapping[str, Any] | None = None,
    ) -> Result:
        """Store (migrate) an OAuth token of ``user_id`` without a new consent.

        Give ``refresh_token``, ``access_token`` or both; ``access_token_expiry`` is epoch
        seconds. With ``verify_refresh=True`` the server refreshes once at the provider first
        and stores nothing if that fails.
        """
        return self._call(
            build.upload_user_token(
                app_id, user_id, tenant_id, refresh_token, access_token, access_token_expiry,
                access_token_type, scopes, external_identifier, id_token, verify_refresh,
                granted_by, metadata,
            )
        )  # fmt: skip

    def upload_tenant_token(
        self,
        app_id: str,
        tenant_id: str,
        refresh_token: str | Secret | None = None,
        access_token: str | Secret | None = None,
        access_token_expiry: int | None = None,
        access_token_type: str | None = None,
        scopes: Sequence[str] | None = None,
        external_identifier: str | None = None,
        id_token: str | Secret | None = None,
        verify_refresh: bool | None = None,
        granted_by: str | None = None,
        *,
        metadata: Mapping[str, Any] | None = None,
    ) -> Result:
        """Like :meth:`upload_user_token`, for a token held by a tenant."""
        return self._call(
            build.upload_tenant_token(
                app_id, tenant_id, refresh_token, access_token, access_token_expiry,
                access_token_type, scopes, external_identifier, id_token, verify_refresh,
                granted_by, metadata,
            )
        )  # fmt: skip

    def batch_upload_user_tokens(self, tokens: Sequence[Mapping[str, Any]]) -> Result:
        """Upload many user tokens (camelCase dicts, as :meth:`upload_user_token` sends).

        All or nothing: returns ``{"failures": [...]}``, and a non-empty list means nothing
        was stored.
        """
        return self._call(build.batch_upload_user_tokens(tokens))

    def batch_upload_tenant_tokens(self, tokens: Sequence[Mapping[str, Any]]) -> Result:
        """Like :meth:`batch_upload_user_tokens`, for tenant tokens."""
        return self._call(build.batch_upload_tenant_tokens(tokens))

    # -- connecting ----------------------------------------------------------------------

    def connect(
        self,
        app_id: str,
        user_id: str | None = None,
        tenant_id: str | None = None,
        redirect_url: str | None = None,
        scopes: Sequence[str] | None = None,
        external_identifier: str | None = None,
        *,
        metadata: Mapping[str, Any] | None = None,
    ) -> Result:
        """Start connecting ``user_id`` (or, without one, ``tenant_id``) to ``app_id``.

        Returns ``{"url": ...}``: a single-use, short-lived link to open in the user's browser.
        After the consent the browser lands on ``redirect_url`` (default: the app's
        ``defaultRedirectUrl``) with the outcome in the query string. ``metadata`` becomes the
        connection's once it is made.
        """
        return self._call(
            build.connect(
                app_id, user_id, tenant_id, redirect_url, scopes, external_identifier, metadata
            )
        )

    def connect_device(
        self,
        app_id: str,
        user_id: str | None = None,
        tenant_id: str | None = None,
        scopes: Sequence[str] | None = None,
        external_identifier: str | None = None,
        *,
        metadata: Mapping[str, Any] | None = None,
    ) -> Result:
        """Start connecting ``user_id`` (or ``tenant_id``) by the device flow (RFC 8628; an
        outbound extension): for a user on a terminal or a TV, with no browser redirect.

        Returns ``{"id", "url", "user_code", "verification_uri", "verification_uri_complete",
        "expires_in", "interval"}``: show the user the code and the URI. The server polls the
        provider meanwhile; :meth:`device_connect_status` says ``pending``, ``connected``
        (with ``connectionId``) or ``failed`` (with ``error``).
        """
        return self._call(
            build.connect_device(app_id, user_id, tenant_id, scopes, external_identifier, metadata)
        )

    def device_connect_status(self, connect_id: str) -> Result:
        """The status of a device-flow connect: ``{"connect": {"status", "error",
        "connectionId", …}}`` (an outbound extension)."""
        return self._call(build.device_connect_status(connect_id))


class OutboundApplication(_Methods[dict[str, Any], None]):
    """Outbound apps and their tokens (sync). Reached as ``client.mgmt.outbound_application``."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self._call = client._call

    def _done(self, request: ApiRequest) -> None:
        self._client._call(request)

    def __repr__(self) -> str:
        return f"<OutboundApplication of {self._client!r}>"


class AsyncOutboundApplication(_Methods[Awaitable[dict[str, Any]], Awaitable[None]]):
    """Outbound apps and their tokens (async): every method of :class:`OutboundApplication`
    as a coroutine. Reached as ``client.mgmt.outbound_application``."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client
        self._call = client._call

    async def _done(self, request: ApiRequest) -> None:
        await self._client._call(request)

    def __repr__(self) -> str:
        return f"<AsyncOutboundApplication of {self._client!r}>"


def coroutine_twins(cls: type, methods: type) -> None:
    """Give ``cls`` each public method of ``methods`` as a coroutine function: what
    ``inspect`` and callers of the official async SDK see (with the shared method's signature
    and documentation)."""
    for name, method in vars(methods).items():
        if not name.startswith("_"):
            setattr(cls, name, _coroutine(method))


def _coroutine(method: Callable[..., Awaitable[Any]]) -> Callable[..., Any]:
    @functools.wraps(method)
    async def twin(*args: Any, **kwargs: Any) -> Any:
        return await method(*args, **kwargs)

    return twin


coroutine_twins(AsyncOutboundApplication, _Methods)
