"""The HTTP listener's limits: what a client may hold open or send before the app sees it.

uvicorn bounds body *sizes* (the app does) and idle keep-alive connections, but on its own it
waits forever for a request's headers or body, and its httptools parser keeps every header
line it is sent. So the server runs uvicorn with a protocol that:

- closes a connection whose request headers are not complete ``header_timeout`` seconds after
  it opened (or after its next request began): idle or slow-drip (half-open) connections cost
  a socket for seconds, not forever;
- answers 408 and closes when a request's body is not complete ``body_timeout`` seconds after
  its headers, plus one second per ``body_min_rate`` bytes received: a body sent at the
  minimum rate or faster always gets through, one dripped a byte at a time holds its
  connection for about ``body_timeout`` seconds — the app waiting on it is told the client is
  gone, so nothing of a partial body is ever handled;
- refuses (429, closed at once) a connection from a client address that already holds
  ``max_per_client`` connections: one address cannot take every slot of ``limit_concurrency``;
- answers 431 and closes when the request line and headers exceed ``max_header_bytes`` or
  :data:`guard.MAX_HEADERS` fields;

and with uvicorn's own ``timeout_keep_alive`` and ``limit_concurrency``. Each server process
(``--workers``) counts its own connections.
"""

from __future__ import annotations

import asyncio
import errno
import socket
from collections import Counter
from typing import Any

from ..config import Settings
from .guard import MAX_HEADERS

__all__ = ["check_can_listen", "uvicorn_options"]


def check_can_listen(host: str, port: int, option: str = "--port") -> None:
    """ValueError, one line, when ``host:port`` cannot be listened on (in use, an address this
    machine does not have). Bound the way uvicorn binds, then released: checked before the
    first start creates a project and prints its key, which would otherwise belong to a store
    nobody serves."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                reason = "it is already in use (another server on it?)"
            else:
                reason = exc.strerror or str(exc)
            raise ValueError(f"cannot listen on {host}:{port} ({option}): {reason}") from None


def _answer(
    status: int, reason: bytes, code: bytes, description: bytes, message: bytes, extra: bytes = b""
) -> bytes:
    """A whole answer in the API's error shape, for the listener to write before it closes."""
    body = b'{"errorCode":"%s","errorDescription":"%s","errorMessage":"%s"}' % (
        code,
        description,
        message,
    )
    return (
        b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\n%sconnection: close\r\n"
        b"content-length: %d\r\n\r\n%s" % (status, reason, extra, len(body), body)
    )


_431 = _answer(
    431,
    b"Request Header Fields Too Large",
    b"E130431",
    b"Request header fields too many or too large",
    b"the request line and headers exceed the limit",
)
_408 = _answer(
    408,
    b"Request Timeout",
    b"E130408",
    b"Request body not received in time",
    b"the request body arrived too slowly (--body-timeout, --body-min-rate)",
)
_429_CLIENT = _answer(
    429,
    b"Too Many Requests",
    b"E130429",
    b"Rate limited",
    b"this client address holds too many connections (--max-connections-per-client)",
    b"retry-after: 1\r\n",
)


def _protocol(
    header_timeout: float,
    max_header_bytes: int,
    body_timeout: float = 0.0,
    body_min_rate: float = 0.0,
    max_per_client: int = 0,
) -> type[asyncio.Protocol]:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    # Open connections per client address, in this process.
    per_client: Counter[str] = Counter()

    class LimitedHttpToolsProtocol(HttpToolsProtocol):
        _header_timer: asyncio.TimerHandle | None = None
        _header_bytes = 0
        _header_count = 0
        _too_large = False
        _body_timer: asyncio.TimerHandle | None = None
        _body_deadline = 0.0
        _body_pending = False
        _address: str | None = None
        _refused = False

        def _arm(self) -> None:
            if self._header_timer is None:
                self._header_timer = self.loop.call_later(header_timeout, self._header_timeout)

        def _disarm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _header_timeout(self) -> None:
            self._header_timer = None
            if not self.transport.is_closing():
                self.transport.close()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            # Timed only when a body is still to come: most requests arrive whole in one read.
            if self._body_pending and self._body_timer is None and body_timeout > 0:
                self._body_timer = self.loop.call_at(self._body_deadline, self._body_late)

        def _disarm_body(self) -> None:
            if self._body_timer is not None:
                self._body_timer.cancel()
                self._body_timer = None

        def _body_late(self) -> None:
            self._body_timer = None
            if self.loop.time() < self._body_deadline:  # bytes came meanwhile: more time
                self._body_timer = self.loop.call_at(self._body_deadline, self._body_late)
                return
            if self.transport.is_closing():
                return
            cycle = self.cycle
            if cycle is not None and not cycle.response_started:
                self.transport.write(_408)
            if cycle is not None:
                # The app sees a disconnect, never the partial body, and sends nothing more.
                cycle.disconnected = True
                cycle.message_event.set()
            self.transport.close()

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            if max_per_client:
                peer = transport.get_extra_info("peername")
                address = str(peer[0]) if isinstance(peer, tuple | list) and peer else ""
                if per_client[address] >= max_per_client:
                    self._refused = True
                    transport.write(_429_CLIENT)
                    transport.close()
                    return
                per_client[address] += 1
                self._address = address
            super().connection_made(transport)
            self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            if self._refused:
                return  # never counted, never served
            if self._address is not None:
                per_client[self._address] -= 1
                if per_client[self._address] <= 0:
                    del per_client[self._address]
                self._address = None
            self._disarm()
            self._disarm_body()
            super().connection_lost(exc)

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._header_bytes = self._header_count = 0
            self._arm()

        def _count(self, size: int, fields: int = 0) -> None:
            self._header_bytes += size
            self._header_count += fields
            if self._header_bytes > max_header_bytes or self._header_count > MAX_HEADERS:
                self._too_large = True
                raise ValueError("request headers too large")  # the parser stops here

        def on_url(self, url: bytes) -> None:
            self._count(len(url))
            super().on_url(url)

        def on_header(self, name: bytes, value: bytes) -> None:
            self._count(len(name) + len(value) + 4, 1)
            super().on_header(name, value)

        def on_headers_complete(self) -> None:
            self._disarm()
            self._body_pending = True
            self._body_deadline = self.loop.time() + body_timeout
            super().on_headers_complete()

        def on_body(self, body: bytes) -> None:
            if body_min_rate > 0:
                self._body_deadline += len(body) / body_min_rate
            super().on_body(body)

        def on_message_complete(self) -> None:
            self._body_pending = False
            self._disarm_body()
            super().on_message_complete()

        def send_400_response(self, msg: str) -> None:
            if not self._too_large:
                super().send_400_response(msg)
                return
            self.transport.write(_431)
            self.transport.close()

    return LimitedHttpToolsProtocol


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.run`` that apply the settings' limits."""
    options: dict[str, Any] = {
        "timeout_keep_alive": settings.keep_alive_timeout,
        "limit_concurrency": settings.max_connections or None,
        "h11_max_incomplete_event_size": settings.max_header_bytes,
    }
    try:
        options["http"] = _protocol(
            settings.header_timeout,
            settings.max_header_bytes,
            settings.body_timeout,
            settings.body_min_rate,
            settings.max_connections_per_client,
        )
    except ImportError:  # pragma: no cover - uvicorn[standard] brings httptools
        options["http"] = "h11"
    return options
