"""The clients' default httpx transports: keep-alive pools tuned for many small JSON calls.

Why not httpx's own (httpcore): measured on the fetch-token path, a call through
``httpx.Client`` cost the client about 500 us of CPU against about 120 us for a bare
``http.client`` exchange. Much of it is avoidable: httpcore writes a request's head and body
with two ``send`` calls (the second syscall, and the wake-up it causes on the server's side,
costs about as much as the rest of the call), and under asyncio httpcore 1.0 retries a
failing ``import sniffio`` for every request. So:

- :class:`PooledTransport` (sync) pools stdlib ``http.client`` connections, made to send
  head and body in one write;
- :class:`AsyncPooledTransport` speaks HTTP/1.1 with h11 (httpcore's own parser) over
  asyncio streams, also in one write.

Both take ``httpx.Request`` and return ``httpx.Response``, raise httpx's exceptions, detect
connections the server closed while idle and drop them before its keep-alive timeout. Any
other httpx transport (a proxy's ``httpx.HTTPTransport``, ``httpx.MockTransport``,
``httpx.ASGITransport``) can be passed to the clients instead.

Measured against httpx's own transports with ``benchmarks/sdk_vs_descope.py --transport
httpx`` (issue 9: they stay only while >= 1.3x faster), in one run on a shared 2-core
machine: 2.5x the calls per second in sync (1.7x less client CPU per call), 1.8x in async
(2.4x less CPU).

Both keep one timeout contract (see ``_config``): a request's ``timeout`` extension gives
``connect`` (seconds to establish the connection, TLS included) and the ``DEADLINE``
extension the ``time.monotonic()`` by which the whole answer must have arrived, connecting
included. The sync transport re-arms the socket's timeout with what is left before every
read, so a server that drips its answer cannot stretch a call past the deadline.
"""

from __future__ import annotations

import asyncio
import functools
import http.client
import io
import math
import select
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import h11
import httpx

__all__ = ["DEADLINE", "AsyncPooledTransport", "PooledTransport"]

# Request extension: the time.monotonic() by which the whole answer must have arrived.
DEADLINE = "outbound.deadline"


def _limits(request: httpx.Request) -> tuple[float, float]:
    """(deadline as ``time.monotonic()``, connect timeout) of ``request``; inf when none."""
    timeouts = request.extensions.get("timeout", {})
    deadline = request.extensions.get(DEADLINE)
    if deadline is None:
        read = timeouts.get("read")
        deadline = math.inf if read is None else time.monotonic() + read
    connect = timeouts.get("connect")
    return float(deadline), math.inf if connect is None else float(connect)


def _remaining(deadline: float) -> float | None:
    """Seconds left until ``deadline`` (None: no limit); TimeoutError when none are."""
    if deadline == math.inf:
        return None
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("the deadline passed")
    return left


if TYPE_CHECKING:
    _HTTPConnectionBase = http.client.HTTPConnection
else:
    _HTTPConnectionBase = object


class _DeadlineIO(io.RawIOBase):
    """A socket's reading side whose every read waits at most until the deadline."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        super().__init__()
        self._sock = sock
        self._deadline = deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        self._sock.settimeout(_remaining(self._deadline))
        return self._sock.recv_into(buffer)


class _DeadlineSocket:
    """What http.client's response asks of its socket (``makefile``), reading through
    :class:`_DeadlineIO`: http.client would re-arm the full timeout on every read, and this
    bounds all of them together."""

    __slots__ = ("_deadline", "_sock")

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self._sock = sock
        self._deadline = deadline

    def makefile(self, mode: str) -> io.BufferedReader:
        return io.BufferedReader(_DeadlineIO(self._sock, self._deadline))


def _deadline_response(
    sock: socket.socket, *args: Any, deadline: float, **kwargs: Any
) -> http.client.HTTPResponse:
    return http.client.HTTPResponse(_DeadlineSocket(sock, deadline), *args, **kwargs)  # type: ignore[arg-type]


class _OneWrite(_HTTPConnectionBase):
    """http.client sends a request's head and body with two writes: hold both, send once."""

    def send(self, data: Any) -> None:
        self.__dict__.setdefault("_pending", []).append(bytes(data))

    def getresponse(self) -> http.client.HTTPResponse:
        pending = self.__dict__.pop("_pending", [])
        super().send(b"".join(pending))
        return super().getresponse()

    def arm(self, deadline: float) -> None:
        """Bound the next request's write and its answer's reads by ``deadline``."""
        self.sock.settimeout(_remaining(deadline))
        self.response_class = functools.partial(_deadline_response, deadline=deadline)  # type: ignore[assignment]


class _HTTPConnection(_OneWrite, http.client.HTTPConnection):
    pass


class _HTTPSConnection(_OneWrite, http.client.HTTPSConnection):
    pass


Origin = tuple[bytes, bytes, int | None]


def _origin(url: httpx.URL) -> Origin:
    return (url.raw_scheme, url.raw_host, url.port)


class _Pooled:
    """What the pool knows of a connection: since when it is idle, whether it served before."""

    def __init__(self) -> None:
        self.idle_since = time.monotonic()
        self.reused = False

    def usable(self, keepalive_expiry: float) -> bool:
        if time.monotonic() - self.idle_since > keepalive_expiry:
            return False
        return not self.closed_by_server()

    def closed_by_server(self) -> bool:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


C = TypeVar("C", bound=_Pooled)


class _Pool(Generic[C]):
    """The I/O-free half of both transports: the idle keep-alive connections of each origin.

    Taking and giving back never wait on I/O, so the sync transport's threads and the async
    one's tasks share this code; the lock is for the threads (uncontended, it costs the event
    loop nothing). A connection taken is the caller's until it gives it back or closes it.
    """

    def __init__(self, max_idle: int, keepalive_expiry: float) -> None:
        self._max_idle = max_idle
        self._keepalive_expiry = keepalive_expiry
        self._idle: dict[Origin, list[C]] = {}
        self._lock = threading.Lock()
        self._closed = False

    def take(self, origin: Origin) -> C | None:
        """An idle connection to ``origin`` still usable, or None (open a new one)."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the client has been closed")
            idle = self._idle.get(origin, [])
            while idle:
                connection = idle.pop()
                if connection.usable(self._keepalive_expiry):
                    connection.reused = True
                    return connection
                connection.close()
        return None

    def give_back(self, origin: Origin, connection: C, keep: bool) -> None:
        """Keep ``connection`` for the next request to ``origin`` if it may be (``keep``: the
        answer left it reusable) and there is room; close it otherwise."""
        connection.idle_since = time.monotonic()
        with self._lock:
            idle = None if self._closed or not keep else self._idle.setdefault(origin, [])
            if idle is not None and len(idle) < self._max_idle:
                idle.append(connection)
                return
        connection.close()

    def idle_count(self) -> int:
        return sum(len(connections) for connections in self._idle.values())

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle = [c for connections in self._idle.values() for c in connections]
            self._idle.clear()
        for connection in idle:
            connection.close()


class _PoolSettings:
    """Both transports' settings (one ``__init__``, so the twins cannot drift)."""

    def __init__(
        self,
        *,
        ssl_context: ssl.SSLContext | None = None,
        max_idle: int = 20,
        keepalive_expiry: float = 4.0,
    ) -> None:
        self._ssl_context = ssl_context
        self._pool: _Pool[Any] = _Pool(max_idle, keepalive_expiry)

    def _tls(self, url: httpx.URL) -> ssl.SSLContext | None:
        if url.scheme != "https":
            return None
        return self._ssl_context or httpx.create_ssl_context()


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int
    headers: list[tuple[str, str]] | list[tuple[bytes, bytes]]
    content: bytes
    keep: bool  # the connection may serve another request

    def response(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            self.status, headers=self.headers, content=self.content, request=request
        )


class _Connection(_Pooled):
    """One keep-alive ``http.client`` connection of the sync pool."""

    def __init__(self, connection: http.client.HTTPConnection) -> None:
        super().__init__()
        self.http = connection

    def closed_by_server(self) -> bool:
        sock = self.http.sock
        # An idle connection with something to read has been closed by the server (EOF).
        return sock is None or _readable(sock)

    def close(self) -> None:
        self.http.close()


def _readable(sock: socket.socket) -> bool:
    if hasattr(select, "poll"):  # select.select fails on descriptors above 1023
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        return bool(poller.poll(0))
    return bool(select.select([sock], [], [], 0)[0])


# Errors of a reused keep-alive connection the server closed in the meantime.
_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


class PooledTransport(_PoolSettings, httpx.BaseTransport):
    """A thread-safe pool of keep-alive ``http.client`` connections as an httpx transport.

    ``http.client`` sends a request's head and body in one write, and its parser is lean;
    this transport adds what the clients need on top: a pool shared by threads, idle
    connections dropped before the server's keep-alive timeout, stale ones detected before
    reuse, and httpx's exceptions.
    """

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        deadline, connect_timeout = _limits(request)
        origin = _origin(request.url)
        connection = self._pool.take(origin) or self._open(request, deadline, connect_timeout)
        try:
            try:
                answer = self._exchange(connection, request, deadline)
            except _STALE:
                connection.close()
                if not connection.reused:
                    raise
                # The server closed this idle connection as we reused it: nothing reached
                # it, so sending again on a new connection is safe.
                connection = self._open(request, deadline, connect_timeout)
                answer = self._exchange(connection, request, deadline)
        except httpx.TransportError:  # opening the new connection failed
            connection.close()
            raise
        except Exception as exc:
            connection.close()
            raise _httpx_error(exc, request) from exc
        self._pool.give_back(origin, connection, answer.keep)
        return answer.response(request)

    def _open(self, request: httpx.Request, deadline: float, connect_timeout: float) -> _Connection:
        url = request.url
        try:
            left = _remaining(deadline)
            timeout = connect_timeout if left is None else min(left, connect_timeout)
            limit = None if timeout == math.inf else timeout
            host = url.raw_host.decode("ascii")
            tls = self._tls(url)
            fresh: _HTTPConnection | _HTTPSConnection
            if tls is not None:
                fresh = _HTTPSConnection(host, url.port, timeout=limit, context=tls)
            else:
                fresh = _HTTPConnection(host, url.port, timeout=limit)
            try:
                fresh.connect()  # TCP and TLS, within the connect timeout
            except BaseException:
                fresh.close()
                raise
        except (OSError, TimeoutError) as exc:
            raise _httpx_error(exc, request, connecting=True) from exc
        return _Connection(fresh)

    @staticmethod
    def _exchange(connection: _Connection, request: httpx.Request, deadline: float) -> _Answer:
        conn = connection.http
        conn.arm(deadline)  # type: ignore[attr-defined]
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
        return _Answer(response.status, response.getheaders(), content, not response.will_close)

    def __del__(self) -> None:
        # Code written for the official SDK never closes its client: do not leak sockets.
        self.close()

    def close(self) -> None:
        self._pool.close()


def _httpx_error(exc: Exception, request: httpx.Request, connecting: bool = False) -> Exception:
    """``exc`` (from socket, http.client or h11) as the httpx exception httpx would raise."""
    error: type[httpx.TransportError]
    if isinstance(exc, httpx.TransportError | RuntimeError):
        return exc
    if isinstance(exc, TimeoutError):
        error = httpx.ConnectTimeout if connecting else httpx.ReadTimeout
    elif connecting or isinstance(exc, ConnectionRefusedError | socket.gaierror):
        error = httpx.ConnectError
    elif isinstance(exc, http.client.HTTPException | h11.ProtocolError | _Stale):
        error = httpx.RemoteProtocolError
    elif isinstance(exc, OSError):
        error = httpx.NetworkError
    else:
        return exc
    return error(f"{type(exc).__name__}: {exc}", request=request)


class _AsyncConnection(_Pooled):
    """One keep-alive HTTP/1.1 connection on an asyncio stream, spoken with h11."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        super().__init__()
        self.reader = reader
        self.writer = writer
        self.h11 = h11.Connection(h11.CLIENT)

    def closed_by_server(self) -> bool:
        # EOF (or stray bytes) on an idle connection: the server has closed it.
        return self.reader.at_eof() or self.writer.is_closing()

    def close(self) -> None:
        self.writer.close()


class _Stale(Exception):
    """The server closed the connection before answering anything."""


class AsyncPooledTransport(_PoolSettings, httpx.AsyncBaseTransport):
    """The asyncio twin of :class:`PooledTransport`: asyncio streams, h11 as the parser.

    One task at a time uses a connection. Like the other asyncio parts of the client, it is
    bound to the event loop it first ran on.
    """

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        deadline, connect_timeout = _limits(request)
        loop = asyncio.get_running_loop()
        # the deadline on the loop's clock (uvloop's is not time.monotonic())
        when = None if deadline == math.inf else loop.time() + (deadline - time.monotonic())
        origin = _origin(request.url)
        connection: _AsyncConnection | None = None
        connecting = True
        try:
            async with asyncio.timeout_at(when):
                connection = self._pool.take(origin) or await self._open(request, connect_timeout)
                connecting = False
                try:
                    answer = await self._exchange(connection, request)
                except (_Stale, ConnectionResetError, BrokenPipeError):
                    connection.close()
                    if not connection.reused:
                        raise
                    # As in the sync transport: nothing reached the server, send it again.
                    connecting = True
                    connection = await self._open(request, connect_timeout)
                    connecting = False
                    answer = await self._exchange(connection, request)
        except BaseException as exc:
            if connection is not None:
                connection.close()
            if isinstance(exc, Exception):
                raise _httpx_error(exc, request, connecting=connecting) from exc
            raise
        self._pool.give_back(origin, connection, answer.keep)
        return answer.response(request)

    async def _open(self, request: httpx.Request, connect_timeout: float) -> _AsyncConnection:
        url = request.url
        tls = self._tls(url)
        port = url.port or (443 if tls else 80)
        async with asyncio.timeout(None if connect_timeout == math.inf else connect_timeout):
            reader, writer = await asyncio.open_connection(url.host, port, ssl=tls)
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return _AsyncConnection(reader, writer)

    @staticmethod
    async def _exchange(connection: _AsyncConnection, request: httpx.Request) -> _Answer:
        protocol = connection.h11
        target = request.url.raw_path
        head = protocol.send(
            h11.Request(method=request.method, target=target, headers=request.headers.raw)
        )
        body = request.content
        tail = protocol.send(h11.Data(data=body)) if body else b""
        # One write: head, body and end of message together.
        connection.writer.write(
            b"".join([head or b"", tail or b"", protocol.send(h11.EndOfMessage()) or b""])
        )
        await connection.writer.drain()
        response: h11.Response | None = None
        chunks: list[bytes] = []
        while True:
            event = protocol.next_event()
            if event is h11.NEED_DATA:
                data = await connection.reader.read(65536)
                if not data and response is None:
                    raise _Stale()
                protocol.receive_data(data)
            elif isinstance(event, h11.Response):
                response = event
            elif isinstance(event, h11.Data):
                chunks.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                assert response is not None
                keep = protocol.our_state is h11.DONE and protocol.their_state is h11.DONE
                if keep:
                    protocol.start_next_cycle()
                return _Answer(response.status_code, list(response.headers), b"".join(chunks), keep)
            elif isinstance(event, h11.ConnectionClosed):
                raise h11.RemoteProtocolError("the server closed the connection mid-response")

    async def aclose(self) -> None:
        self._pool.close()
