"""``Client`` and ``AsyncClient``: configuration plus a pooled httpx transport each.

Everything else — request building, retries, error mapping, logging — is the shared core
(``_core``); these classes only carry its :class:`Send`/:class:`Wait` steps out over the
network or the clock.

The clients hand ``httpx.Request`` objects straight to an httpx transport rather than going
through ``httpx.Client``: this API needs none of what that layer adds (cookies, redirects,
auth flows, URL merging), and on the hot path it cost as much CPU as the rest of a call.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator, Iterator, Mapping
from types import TracebackType
from typing import Any

import httpx

from .._version import __version__
from ..secret import Secret
from ._by_token import AsyncOutboundApplicationByToken, OutboundApplicationByToken
from ._config import ClientConfig, missing_key, resolve_config
from ._core import ApiRequest, Reply, RetryPolicy, Send, Wait, exchange
from ._exceptions import TransportError
from ._management import AsyncManagement, Management
from ._outbound_application import AsyncOutboundApplication, OutboundApplication
from ._proxy import proxy_request
from ._transport import DEADLINE, AsyncPooledTransport, PooledTransport

__all__ = ["AsyncClient", "Client"]

USER_AGENT = f"outbound-python/{__version__}"


class _BaseClient:
    """What both clients share: resolved settings, headers, retry policy, repr."""

    def __init__(
        self,
        project_id: str | None,
        management_key: str | Secret | None,
        base_url: str | None,
        timeout: float | None,
        timeout_seconds: float | None,
        max_retries: int,
        connect_timeout: float | None,
    ) -> None:
        # ``timeout_seconds`` is the official SDK's name for the same setting.
        self._config: ClientConfig = resolve_config(
            project_id,
            management_key,
            base_url,
            timeout if timeout is not None else timeout_seconds,
            connect_timeout=connect_timeout,
        )
        self._retry = RetryPolicy(max_retries=max_retries)
        self._http_headers = httpx.Headers(self._headers())
        # The timeout contract (``_config``): our transports read DEADLINE and ``connect``;
        # httpx's own apply these per operation.
        timeout_seconds = self._config.timeout
        self._timeouts = {
            **dict.fromkeys(("read", "write", "pool"), timeout_seconds),
            "connect": min(self._config.connect_timeout, timeout_seconds),
        }
        self._urls: dict[str, httpx.URL] = {}

    @property
    def project_id(self) -> str:
        return self._config.project_id

    @property
    def base_url(self) -> str:
        return self._config.base_url

    @property
    def timeout(self) -> float:
        """Seconds each request to the server may take, connecting included."""
        return self._config.timeout

    @property
    def connect_timeout(self) -> float:
        """Seconds connecting to the server may take (within :attr:`timeout`)."""
        return self._config.connect_timeout

    def _headers(self) -> dict[str, str]:
        config = self._config
        headers = {
            "x-descope-project-id": config.project_id,
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        }
        if config.management_key.reveal():
            key = config.management_key.reveal()
            headers["Authorization"] = f"Bearer {config.project_id}:{key}"
        return headers

    def _headers_for(self, request: ApiRequest) -> httpx.Headers:
        if request.form is not None:
            # The token endpoint: the credential is the form's subject token, never the key.
            headers = httpx.Headers(self._headers())
            headers.pop("Authorization", None)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            return headers
        if request.credential is not None:
            headers = self._http_headers.copy()
            token = request.credential.reveal()
            headers["Authorization"] = f"Bearer {self._config.project_id}:{token}"
            return headers
        if "authorization" not in self._http_headers:
            raise missing_key()
        return self._http_headers

    def _ssl_context(self) -> ssl.SSLContext | None:
        # Built only for https: loading the CA bundle costs milliseconds per client.
        if self._config.base_url.startswith("https://"):
            return httpx.create_ssl_context()
        return None

    def _http_request(self, request: ApiRequest) -> httpx.Request:
        url = self._urls.get(request.path)
        if url is None:
            url = httpx.URL(self._config.base_url + request.path)
            if len(self._urls) < 64:  # fixed paths; ids in paths must not grow it forever
                self._urls[request.path] = url
        if request.params:
            url = url.copy_merge_params(request.params)
        return httpx.Request(
            request.method,
            url,
            headers=self._headers_for(request),
            content=request.encoded_body(),
            extensions={
                "timeout": self._timeouts,
                DEADLINE: time.monotonic() + self._config.timeout,
            },
        )

    def _proxied(
        self,
        http: httpx.Client | httpx.AsyncClient,
        app_id: str,
        method: str,
        path: str,
        **options: Any,
    ) -> httpx.Request:
        """A call through the server's provider-API proxy (``_proxy.proxy_request``)."""
        authorization = {k: v for k, v in self._headers().items() if k == "Authorization"}
        if not authorization:
            raise missing_key()
        return proxy_request(http, self._config.base_url, authorization, app_id, method, path,
                             **options)  # fmt: skip

    def _proxy_timeout(self) -> httpx.Timeout:
        return httpx.Timeout(self._config.timeout, connect=self._config.connect_timeout)

    def _proxy(self) -> str | None:
        """The proxy the environment (``HTTPS_PROXY``, ``NO_PROXY`` …) asks for, if any."""
        url = urllib.parse.urlsplit(self._config.base_url)
        proxies = urllib.request.getproxies()
        proxy = proxies.get(url.scheme) or proxies.get("all")
        if not proxy or urllib.request.proxy_bypass(url.hostname or ""):
            return None
        return proxy

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(project_id={self.project_id!r},"
            f" management_key='**********', base_url={self.base_url!r})"
        )


def _reply(response: httpx.Response) -> Reply:
    return Reply(response.status_code, response.headers, response.content)


def _transport_error(request: ApiRequest, exc: httpx.TransportError) -> TransportError:
    if isinstance(exc, httpx.ConnectTimeout):
        what = "did not accept a connection in time"
    elif isinstance(exc, httpx.TimeoutException):
        what = "did not answer in time"
    else:
        what = "unreachable"
    # str(exc) of an httpx transport error names the failure, never the request's headers.
    return TransportError(
        f"{request.method} {request.path}: the outbound server {what} ({type(exc).__name__}:"
        f" {exc}); check base_url and that the server is running"
    )


class Client(_BaseClient):
    """A synchronous client of an outbound server, safe to share between threads.

    Example::

        from outbound import DescopeClient

        # Initialized using environment variables DESCOPE_PROJECT_ID and DESCOPE_MANAGEMENT_KEY
        descope_client = DescopeClient()

        # Or directly
        descope_client = DescopeClient(
            project_id="__ProjectID__",
            management_key="management-key"
        )

    Settings not passed are read from ``OUTBOUND_PROJECT_ID``, ``OUTBOUND_MANAGEMENT_KEY`` and
    ``OUTBOUND_BASE_URL``, then ``DESCOPE_PROJECT_ID``, ``DESCOPE_MANAGEMENT_KEY`` and
    ``DESCOPE_BASE_URI``. One keep-alive connection pool serves every call; close it with
    :meth:`close` or a ``with`` block.
    """

    def __init__(
        self,
        project_id: str | None = None,
        management_key: str | Secret | None = None,
        base_url: str | None = None,
        timeout: float | None = None,
        *,
        max_retries: int = 3,
        transport: httpx.BaseTransport | None = None,
        timeout_seconds: float | None = None,
        connect_timeout: float | None = None,
    ) -> None:
        super().__init__(
            project_id,
            management_key,
            base_url,
            timeout,
            timeout_seconds,
            max_retries,
            connect_timeout,
        )
        self._transport = transport or self._default_transport()
        self._proxy_client: httpx.Client | None = None
        self.mgmt = Management(OutboundApplication(self), OutboundApplicationByToken(self))

    def _call(self, request: ApiRequest) -> dict[str, Any]:
        flow = exchange(request, self._retry)
        step = next(flow)
        try:
            while True:
                if isinstance(step, Wait):
                    time.sleep(step.seconds)
                    step = flow.send(None)
                else:
                    step = flow.send(self._transmit(step))
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]

    def _default_transport(self) -> httpx.BaseTransport:
        proxy = self._proxy()
        if proxy:
            return httpx.HTTPTransport(proxy=proxy)
        return PooledTransport(ssl_context=self._ssl_context())

    def _transmit(self, step: Send) -> Reply:
        request = step.request
        try:
            response = self._transport.handle_request(self._http_request(request))
            try:
                response.read()
            finally:
                response.close()
        except httpx.TransportError as exc:
            raise _transport_error(request, exc) from exc
        return _reply(response)

    def _proxy_http(self) -> httpx.Client:
        if self._proxy_client is None:
            self._proxy_client = httpx.Client(timeout=self._proxy_timeout(), trust_env=True)
        return self._proxy_client

    def proxy(
        self,
        app_id: str,
        method: str,
        path: str,
        *,
        user_id: str | None = None,
        tenant_id: str | None = None,
        params: Any = None,
        json: Any = None,
        content: Any = None,
        headers: Mapping[str, str] | None = None,
        retries: int | None = None,
    ) -> httpx.Response:
        """Call the app's provider API (``apiBaseUrl`` + ``path``) with the connection of
        ``user_id`` or ``tenant_id`` (docs/proxy.md); the provider's answer, read. The vault's
        own errors say ``Outbound-Error: 1``."""
        http = self._proxy_http()
        request = self._proxied(http, app_id, method, path, user_id=user_id,
                                tenant_id=tenant_id, params=params, json=json, content=content,
                                headers=headers, retries=retries)  # fmt: skip
        return http.send(request)

    @contextlib.contextmanager
    def proxy_stream(
        self,
        app_id: str,
        method: str,
        path: str,
        *,
        user_id: str | None = None,
        tenant_id: str | None = None,
        params: Any = None,
        json: Any = None,
        content: Any = None,
        headers: Mapping[str, str] | None = None,
        retries: int | None = None,
    ) -> Iterator[httpx.Response]:
        """:meth:`proxy` with the answer's body left to stream (``iter_bytes``, ...)."""
        http = self._proxy_http()
        request = self._proxied(http, app_id, method, path, user_id=user_id,
                                tenant_id=tenant_id, params=params, json=json, content=content,
                                headers=headers, retries=retries)  # fmt: skip
        response = http.send(request, stream=True)
        try:
            yield response
        finally:
            response.close()

    def close(self) -> None:
        """Close the connection pool. Further calls fail."""
        self._transport.close()
        if self._proxy_client is not None:
            self._proxy_client.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class AsyncClient(_BaseClient):
    """The asyncio twin of :class:`Client`: the same settings, every method a coroutine.

    Example::

        async with AsyncClient() as client:
            token = await client.mgmt.outbound_application.fetch_token("app-id", "user-id")
    """

    def __init__(
        self,
        project_id: str | None = None,
        management_key: str | Secret | None = None,
        base_url: str | None = None,
        timeout: float | None = None,
        *,
        max_retries: int = 3,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout_seconds: float | None = None,
        connect_timeout: float | None = None,
    ) -> None:
        super().__init__(
            project_id,
            management_key,
            base_url,
            timeout,
            timeout_seconds,
            max_retries,
            connect_timeout,
        )
        self._transport = transport or self._default_transport()
        # Ours keeps the deadline itself; any other is bounded here, the same way.
        self._bound = None if isinstance(self._transport, AsyncPooledTransport) else self.timeout
        self._proxy_client: httpx.AsyncClient | None = None
        self.mgmt = AsyncManagement(
            AsyncOutboundApplication(self), AsyncOutboundApplicationByToken(self)
        )

    async def _call(self, request: ApiRequest) -> dict[str, Any]:
        flow = exchange(request, self._retry)
        step = next(flow)
        try:
            while True:
                if isinstance(step, Wait):
                    await asyncio.sleep(step.seconds)
                    step = flow.send(None)
                else:
                    step = flow.send(await self._transmit(step))
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]

    def _default_transport(self) -> httpx.AsyncBaseTransport:
        proxy = self._proxy()
        if proxy:
            return httpx.AsyncHTTPTransport(proxy=proxy)
        return AsyncPooledTransport(ssl_context=self._ssl_context())

    async def _transmit(self, step: Send) -> Reply:
        request = step.request
        http_request = self._http_request(request)
        try:
            async with asyncio.timeout(self._bound):
                response = await self._transport.handle_async_request(http_request)
                try:
                    await response.aread()
                finally:
                    await response.aclose()
        except httpx.TransportError as exc:
            raise _transport_error(request, exc) from exc
        except TimeoutError as exc:
            timeout = httpx.ReadTimeout("the deadline passed", request=http_request)
            raise _transport_error(request, timeout) from exc
        return _reply(response)

    def _proxy_http(self) -> httpx.AsyncClient:
        if self._proxy_client is None:
            self._proxy_client = httpx.AsyncClient(timeout=self._proxy_timeout(), trust_env=True)
        return self._proxy_client

    async def proxy(
        self,
        app_id: str,
        method: str,
        path: str,
        *,
        user_id: str | None = None,
        tenant_id: str | None = None,
        params: Any = None,
        json: Any = None,
        content: Any = None,
        headers: Mapping[str, str] | None = None,
        retries: int | None = None,
    ) -> httpx.Response:
        """The asyncio twin of :meth:`Client.proxy`."""
        http = self._proxy_http()
        request = self._proxied(http, app_id, method, path, user_id=user_id,
                                tenant_id=tenant_id, params=params, json=json, content=content,
                                headers=headers, retries=retries)  # fmt: skip
        return await http.send(request)

    @contextlib.asynccontextmanager
    async def proxy_stream(
        self,
        app_id: str,
        method: str,
        path: str,
        *,
        user_id: str | None = None,
        tenant_id: str | None = None,
        params: Any = None,
        json: Any = None,
        content: Any = None,
        headers: Mapping[str, str] | None = None,
        retries: int | None = None,
    ) -> AsyncIterator[httpx.Response]:
        """The asyncio twin of :meth:`Client.proxy_stream`."""
        http = self._proxy_http()
        request = self._proxied(http, app_id, method, path, user_id=user_id,
                                tenant_id=tenant_id, params=params, json=json, content=content,
                                headers=headers, retries=retries)  # fmt: skip
        response = await http.send(request, stream=True)
        try:
            yield response
        finally:
            await response.aclose()

    async def aclose(self) -> None:
        """Close the connection pool. Further calls fail."""
        await self._transport.aclose()
        if self._proxy_client is not None:
            await self._proxy_client.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()
