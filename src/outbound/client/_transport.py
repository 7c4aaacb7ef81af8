"""The clients' default httpx transports, tuned for many small JSON calls.

Both send a request's head and body in one write. httpcore (under ``httpx.HTTPTransport``)
writes them with two ``send`` calls, and for this API's small calls that second syscall —
and the wake-up it causes on the server's side — costs about as much as everything else the
client does.

- :class:`PooledTransport` (sync) pools stdlib ``http.client`` connections: measured on the
  fetch-token path it spends about half the CPU per call of httpcore + h11.
- :class:`AsyncCoalescingTransport` keeps httpcore's async pool and holds writes back until
  the connection is next read (the moment the request is complete), then sends one buffer.

Both raise httpx's exceptions, so they are interchangeable with any other httpx transport:
pass ``transport=`` (a proxy's ``httpx.HTTPTransport``, ``httpx.MockTransport``,
``httpx.ASGITransport``) to use something else.
"""

from __future__ import annotations

import http.client
import select
import socket
import ssl
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import httpcore
import httpx

__all__ = ["AsyncCoalescingTransport", "PooledTransport"]

SOCKET_OPTIONS = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]

# httpcore's exceptions re-raised as httpx's, as httpx's own transports do.
_EXCEPTIONS: list[tuple[type[Exception], type[httpx.TransportError]]] = [
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
    (httpcore.ProxyError, httpx.ProxyError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
]


@contextmanager
def _httpx_exceptions(request: httpx.Request) -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        for core_type, httpx_type in _EXCEPTIONS:
            if isinstance(exc, core_type):
                raise httpx_type(str(exc), request=request) from exc
        raise


def _core_request(request: httpx.Request) -> httpcore.Request:
    url = request.url
    return httpcore.Request(
        method=request.method,
        url=httpcore.URL(
            scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path
        ),
        headers=request.headers.raw,
        content=request.content,
        extensions=request.extensions,
    )


class _Connection:
    """One keep-alive HTTP/1.1 connection of the pool, and when it was last used."""

    def __init__(self, connection: http.client.HTTPConnection) -> None:
        self.http = connection
        self.idle_since = time.monotonic()
        self.reused = False

    def usable(self, keepalive_expiry: float) -> bool:
        if time.monotonic() - self.idle_since > keepalive_expiry:
            return False
        sock = self.http.sock
        # An idle connection with something to read has been closed by the server (EOF).
        return sock is not None and not _readable(sock)


def _readable(sock: socket.socket) -> bool:
    if hasattr(select, "poll"):  # select.select fails on descriptors above 1023
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        return bool(poller.poll(0))
    return bool(select.select([sock], [], [], 0)[0])


class PooledTransport(httpx.BaseTransport):
    """A thread-safe pool of keep-alive ``http.client`` connections as an httpx transport.

    ``http.client`` sends a request's head and body in one write, and its parser is lean;
    this transport adds what the clients need on top: a pool shared by threads, idle
    connections dropped before the server's keep-alive timeout, stale ones detected before
    reuse, and httpx's exceptions.
    """

    def __init__(
        self,
        *,
        ssl_context: ssl.SSLContext | None = None,
        max_idle: int = 20,
        keepalive_expiry: float = 4.0,
    ) -> None:
        self._ssl_context = ssl_context
        self._max_idle = max_idle
        self._keepalive_expiry = keepalive_expiry
        self._idle: dict[tuple[bytes, bytes, int | None], list[_Connection]] = {}
        self._lock = threading.Lock()
        self._closed = False

    def _checkout(self, url: httpx.URL, timeout: float | None) -> _Connection:
        key = (url.raw_scheme, url.raw_host, url.port)
        with self._lock:
            if self._closed:
                raise RuntimeError("the client has been closed")
            idle = self._idle.get(key, [])
            while idle:
                connection = idle.pop()
                if connection.usable(self._keepalive_expiry):
                    connection.reused = True
                    return connection
                connection.http.close()
        host = url.raw_host.decode("ascii")
        if url.scheme == "https":
            context = self._ssl_context or httpx.create_ssl_context()
            return _Connection(
                http.client.HTTPSConnection(host, url.port, timeout=timeout, context=context)
            )
        return _Connection(http.client.HTTPConnection(host, url.port, timeout=timeout))

    def _checkin(self, url: httpx.URL, connection: _Connection) -> None:
        key = (url.raw_scheme, url.raw_host, url.port)
        connection.idle_since = time.monotonic()
        with self._lock:
            idle = None if self._closed else self._idle.setdefault(key, [])
            if idle is not None and len(idle) < self._max_idle:
                idle.append(connection)
                return
        connection.http.close()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        timeout = request.extensions.get("timeout", {}).get("read")
        connection = self._checkout(request.url, timeout)
        try:
            status, headers, content, keep = self._exchange(connection, request)
        except _STALE as exc:
            connection.http.close()
            if not connection.reused:
                raise _httpx_error(exc, request) from exc
            # The server closed this idle connection as we reused it: nothing reached it.
            connection = self._checkout(request.url, timeout)
            try:
                status, headers, content, keep = self._exchange(connection, request)
            except Exception as exc2:
                connection.http.close()
                raise _httpx_error(exc2, request) from exc2
        except Exception as exc:
            connection.http.close()
            raise _httpx_error(exc, request) from exc
        if keep:
            self._checkin(request.url, connection)
        else:
            connection.http.close()
        return httpx.Response(status, headers=headers, content=content, request=request)

    @staticmethod
    def _exchange(
        connection: _Connection, request: httpx.Request
    ) -> tuple[int, list[tuple[str, str]], bytes, bool]:
        conn = connection.http
        conn.putrequest(
            request.method,
            request.url.raw_path.decode("ascii"),
            skip_host=True,
            skip_accept_encoding=True,
        )
        for name, value in request.headers.raw:
            conn.putheader(name, value)
        # One write: endheaders sends the head and a bytes body together.
        conn.endheaders(request.content or None)
        response = conn.getresponse()
        content = response.read()
        return response.status, response.getheaders(), content, not response.will_close

    def __del__(self) -> None:
        # Code written for the official SDK never closes its client: do not leak sockets.
        self.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle = [c for connections in self._idle.values() for c in connections]
            self._idle.clear()
        for connection in idle:
            connection.http.close()


# Errors of a reused keep-alive connection the server closed in the meantime.
_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


def _httpx_error(exc: Exception, request: httpx.Request) -> Exception:
    """``exc`` (from socket or http.client) as the httpx exception httpx would raise."""
    error: type[httpx.TransportError]
    if isinstance(exc, httpx.TransportError | RuntimeError):
        return exc
    if isinstance(exc, TimeoutError):
        error = httpx.TimeoutException
    elif isinstance(exc, ConnectionRefusedError | socket.gaierror):
        error = httpx.ConnectError
    elif isinstance(exc, http.client.HTTPException):
        error = httpx.RemoteProtocolError
    elif isinstance(exc, OSError):
        error = httpx.NetworkError
    else:
        return exc
    return error(f"{type(exc).__name__}: {exc}", request=request)


class _AsyncCoalescingStream(httpcore.AsyncNetworkStream):
    def __init__(self, stream: httpcore.AsyncNetworkStream) -> None:
        self._stream = stream
        self._pending: list[bytes] = []

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._pending.append(buffer)

    async def _flush(self, timeout: float | None) -> None:
        if self._pending:
            data = b"".join(self._pending)
            self._pending.clear()
            await self._stream.write(data, timeout)

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        await self._flush(timeout)
        return await self._stream.read(max_bytes, timeout)

    async def aclose(self) -> None:
        self._pending.clear()
        await self._stream.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        await self._flush(timeout)
        stream = await self._stream.start_tls(ssl_context, server_hostname, timeout)
        return _AsyncCoalescingStream(stream)

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _AsyncCoalescingBackend(httpcore.AsyncNetworkBackend):
    def __init__(self) -> None:
        self._backend = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        stream = await self._backend.connect_tcp(host, port, timeout, local_address, socket_options)
        return _AsyncCoalescingStream(stream)

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


class AsyncCoalescingTransport(httpx.AsyncBaseTransport):
    """httpcore's async keep-alive pool, sending each request in one write."""

    def __init__(
        self,
        *,
        ssl_context: ssl.SSLContext | None = None,
        max_connections: int = 100,
        keepalive_expiry: float = 5.0,
    ) -> None:
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=max_connections,
            keepalive_expiry=keepalive_expiry,
            network_backend=_AsyncCoalescingBackend(),
            socket_options=SOCKET_OPTIONS,
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        with _httpx_exceptions(request):
            response = await self._pool.handle_async_request(_core_request(request))
            try:
                content = b"".join([part async for part in response.stream])  # type: ignore[union-attr]
            finally:
                await response.aclose()
        return httpx.Response(
            response.status,
            headers=response.headers,
            content=content,
            extensions=response.extensions,
            request=request,
        )

    async def aclose(self) -> None:
        await self._pool.aclose()
