"""``/v1/outbound/proxy/{appId}/{path}``: a provider's API, called with a connection's token.

Served in front of the framework, like the fetch path (``hotpath.py``): a proxied call streams
its bodies both ways, which Starlette's request and response objects would buffer or wrap,
and it is on the caller's own hot path. The steps, each in its module:

1. who calls and whose connection (``caller.py``): 401/403 before anything is read;
2. the path, checked to stay under the app's API (``target.py``): 400 E131021 otherwise;
3. the connection's token, through the fetch path (``TokenService``: refreshed first when
   due, single-flight across servers);
4. the call, with the credential injected and the caller's headers filtered
   (``headers.py``), refreshed once on 401 and retried as allowed (``exchange.py``);
5. the answer relayed as it streams: the provider's status, headers (minus hop-by-hop and
   ``Set-Cookie``) and body, plus ``Outbound-Request-Id``;
6. one audit event and the proxy's metrics (``signals.py``).

The vault's own errors — before the provider answered — are the API's JSON error shape with
``Outbound-Error: 1``, so a caller can tell them from the provider's answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

import httpx
from starlette.types import ASGIApp, Receive, Scope, Send

from ...audit import Caller, set_caller
from ..http.auth import claimed_project
from ..http.errors import ApiError, error_answer
from ..http.observe import client_address, request_id
from ..http.wire import PRINTABLE_ID
from ..vault import Vault
from .api_base import provider_api
from .caller import identify
from .exchange import Exchange, unreachable
from .headers import request_headers, response_headers
from .retry import allowed_retries
from .signals import ROUTE, Record
from .target import PathRefused, proxied_url
from .upstream import read_body, upstream_client

__all__ = ["PREFIX", "ROUTE", "ProxyPath"]

logger = logging.getLogger("outbound.server.proxy")

PREFIX = "/v1/outbound/proxy/"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_PREFIX_BYTES = PREFIX.encode()
_ERROR_MARK = (b"outbound-error", b"1")


class BrokenAnswer(Exception):
    """The provider's answer broke off after its first bytes were relayed: the connection to
    the caller is dropped (so the caller sees a truncated answer, not a complete one)."""


def split_path(scope: Scope) -> tuple[str, bytes]:
    """(app id, the raw path after it) of a proxied request; E130404 without an app id."""
    raw: bytes = scope.get("raw_path") or scope["path"].encode("utf-8")
    rest = raw[len(_PREFIX_BYTES) :]
    app_part, slash, path = rest.partition(b"/")
    app_id = unquote(app_part.decode("latin-1"))
    if not slash or not app_id or not PRINTABLE_ID.match(app_id) or len(app_id) > 256:
        raise ApiError(
            "E130404", "proxied calls go to /v1/outbound/proxy/{appId}/{path} (the app id, a /)"
        )
    return app_id, path


class ProxyPath:
    """The ASGI layer that answers proxied calls and passes every other request on."""

    def __init__(self, app: ASGIApp, vault: Callable[[], Vault]) -> None:
        self.app = app
        self._vault = vault
        self._client: httpx.AsyncClient | None = None

    def client(self, vault: Vault) -> httpx.AsyncClient:
        # Built on first use: the Vault (and its network policy) exists once the lifespan ran.
        if self._client is None:
            self._client = upstream_client(vault.network, vault.settings.proxy_timeout)
        return self._client

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, self._closing(send))
            return
        if scope["type"] != "http" or not scope["path"].startswith(PREFIX):
            await self.app(scope, receive, send)
            return
        headers: dict[bytes, bytes] = {}
        for name, value in scope["headers"]:
            headers.setdefault(name, value)
        rid = request_id(headers.get(b"x-request-id"))
        set_caller(Caller(client=client_address(scope), request_id=rid, trigger="proxy"))
        record = Record(scope["method"], rid)
        try:
            await self._call(scope, receive, send, headers, record)
        finally:
            await record.finish(self._vault)

    def _closing(self, send: Send) -> Send:
        """``send`` of the lifespan: the provider connections close as the server stops."""

        async def closing_send(message: Any) -> None:
            if message["type"] == "lifespan.shutdown.complete" and self._client is not None:
                client, self._client = self._client, None
                await client.aclose()
            await send(message)

        return closing_send

    async def _call(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        headers: dict[bytes, bytes],
        record: Record,
    ) -> None:
        authorization = headers.get(b"authorization", b"").decode("latin-1")
        try:
            vault = self._vault()
            response = await self._exchange(vault, scope, receive, headers, authorization, record)
        except Exception as exc:
            if isinstance(exc, ApiError) and exc.code == "E130401":
                exc = self._vault().limits.unauthorized(
                    exc, client_address(scope), claimed_project(authorization)
                )
            status, answer_headers, body = error_answer(exc, scope["method"], ROUTE)
            record.error(status, exc.code if isinstance(exc, ApiError) else "E130500")
            await send(
                {
                    "type": "http.response.start",
                    "status": status,
                    "headers": [
                        *answer_headers,
                        _ERROR_MARK,
                        (b"outbound-request-id", record.request_id.encode()),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        await self._relay(response, receive, send, record)

    async def _exchange(
        self,
        vault: Vault,
        scope: Scope,
        receive: Receive,
        headers: dict[bytes, bytes],
        authorization: str,
        record: Record,
    ) -> httpx.Response:
        method = scope["method"]
        app_id, raw_path = split_path(scope)
        record.app_id = app_id
        if method not in METHODS:
            raise ApiError("E130405", f"{method[:16]} is not a method the proxy passes on")
        owner = await identify(
            vault,
            authorization,
            app_id,
            headers.get(b"outbound-user-id"),
            headers.get(b"outbound-tenant-id"),
        )
        record.owner = owner
        try:
            retries = allowed_retries(method, headers.get(b"outbound-retries"))
        except ValueError as exc:
            raise ApiError("E011003", str(exc)) from None
        token = await vault.tokens.fetch(
            owner.project_id, owner.app_id, owner.user_id, owner.tenant_id
        )
        record.token_id = token.id
        app, _ = await vault.providers.app(owner.project_id, app_id)
        api = provider_api(app)
        record.template_id = api.template_id
        try:
            url = proxied_url(api.target, raw_path, scope.get("query_string", b""))
        except PathRefused as exc:
            raise ApiError("E131021", str(exc)) from None
        record.target(url)
        body = await read_body(receive)
        exchange = Exchange(
            vault,
            self.client(vault),
            owner,
            timeout=vault.settings.proxy_timeout,
            max_retry_after=vault.settings.proxy_max_retry_after,
        )
        forwarded = request_headers(scope["headers"])
        return await exchange.run(method, url, forwarded, body, token, api, retries)

    async def _relay(
        self, response: httpx.Response, receive: Receive, send: Send, record: Record
    ) -> None:
        """Stream the provider's answer to the caller; stop reading it if the caller goes."""
        record.status = response.status_code
        gone = asyncio.ensure_future(_disconnected(receive))
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": response.status_code,
                    "headers": [
                        *response_headers(response.headers.raw),
                        (b"outbound-request-id", record.request_id.encode()),
                    ],
                }
            )
            try:
                async for chunk in response.aiter_raw():
                    if gone.done():
                        record.note("the caller went away")
                        return
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            except (httpx.TransportError, OSError) as exc:
                record.note("the provider's answer broke off")
                logger.warning("proxied answer broke off: %s", type(exc).__name__)
                raise BrokenAnswer(unreachable(type(exc).__name__).message) from None
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            gone.cancel()
            with contextlib.suppress(Exception):
                await response.aclose()


async def _disconnected(receive: Receive) -> Any:
    """Returns once the caller has gone (the request body is read by then)."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return message
