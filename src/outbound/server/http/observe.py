"""Who asked and how it went: the request's audit caller, metrics, and the JSON access line.

Every HTTP request gets a request id (the client's ``X-Request-ID`` when it sends a sane one,
else one of ours) and the client address, both recorded with any audit event it causes and
returned in ``X-Request-ID``. Fetch-token requests are observed by ``tokens/hotpath.py`` itself
with the same functions; this layer wraps the Starlette app for everything else.
"""

from __future__ import annotations

import itertools
import secrets
import time
from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ... import metrics
from ...audit import Caller, set_caller
from . import logs

__all__ = ["Observe", "client_address", "request_id"]

_PREFIX = secrets.token_hex(4)
_counter = itertools.count(1)
_MAX_REQUEST_ID = 64


def request_id(given: bytes | None) -> str:
    """The client's request id when printable and short, else a new one (unique per server
    process: a random prefix and a counter)."""
    if given and len(given) <= _MAX_REQUEST_ID and given.isascii():
        text = given.decode("ascii")
        if text.isprintable() and " " not in text:
            return text
    return f"{_PREFIX}-{next(_counter)}"


def client_address(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else ""


def route_of(scope: Scope) -> str:
    """The route template that matched (``/v1/mgmt/outbound/app/{id}``): never a raw path,
    which may carry ids, and never unbounded."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"


def _header(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    for key, value in headers:
        if key == name:
            return value
    return None


class Observe:
    def __init__(self, app: ASGIApp, *, access_log: bool) -> None:
        self.app = app
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = request_id(_header(scope["headers"], b"x-request-id"))
        set_caller(Caller(client=client_address(scope), request_id=rid))
        started = time.perf_counter()
        status = 500

        async def observed_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, observed_send)
        finally:
            seconds = time.perf_counter() - started
            route = route_of(scope)
            metrics.http_request(route, scope["method"], status, seconds)
            if self.access_log:
                logs.access(route, scope["method"], status, seconds)
