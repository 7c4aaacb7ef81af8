"""The HTTP listener's limits: what a client may hold open or send before the app sees it.

uvicorn bounds body reads (the app does) and idle keep-alive connections, but on its own it
waits forever for a request's headers, and its httptools parser keeps every header line it is
sent. So the server runs uvicorn with a protocol that:

- closes a connection whose request headers are not complete ``header_timeout`` seconds after
  it opened (or after its next request began): idle or slow-drip (half-open) connections cost
  a socket for seconds, not forever;
- answers 431 and closes when the request line and headers exceed ``max_header_bytes`` or
  :data:`guard.MAX_HEADERS` fields;

and with uvicorn's own ``timeout_keep_alive`` and ``limit_concurrency``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from .config import Settings
from .guard import MAX_HEADERS

__all__ = ["uvicorn_options"]

_431 = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: application/json\r\n"
    b"connection: close\r\ncontent-length: %d\r\n\r\n%s"
)


def _protocol(header_timeout: float, max_header_bytes: int) -> type[asyncio.Protocol]:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class LimitedHttpToolsProtocol(HttpToolsProtocol):
        _header_timer: asyncio.TimerHandle | None = None
        _header_bytes = 0
        _header_count = 0
        _too_large = False

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

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
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
            super().on_headers_complete()

        def send_400_response(self, msg: str) -> None:
            if not self._too_large:
                super().send_400_response(msg)
                return
            body = (
                b'{"errorCode":"E130431","errorDescription":"Request header fields too many or'
                b' too large","errorMessage":"the request line and headers exceed the limit"}'
            )
            self.transport.write(_431 % (len(body), body))
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
        options["http"] = _protocol(settings.header_timeout, settings.max_header_bytes)
    except ImportError:  # pragma: no cover - uvicorn[standard] brings httptools
        options["http"] = "h11"
    return options
