"""The outermost layer of every request: which Host it may name, and the headers every
answer carries.

- Only the hosts this server is configured to serve are answered (the ``--public-url`` host,
  loopback names, ``--allowed-hosts``): a page on another site that points its own name at this
  server (DNS rebinding) reaches nothing but a 421. ``/health`` answers any host, for probes
  that address the server by IP.
- A request with more header fields than any client sends is refused (431).
- A path holding control characters (decoded: ``/app/alice%0A``) is refused (400): Starlette's
  route patterns end with ``$``, which matches before a final newline, so ``alice\n`` would
  reach a handler as the id ``alice``.
- Every answer says ``X-Content-Type-Options: nosniff``; every answer that did not choose its
  own caching says ``Cache-Control: no-store`` — tokens, links and keys must never sit in a
  shared or browser cache.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import ApiError

__all__ = ["MAX_HEADERS", "Guard", "allowed_hosts"]

MAX_HEADERS = 100
_LOOPBACK = ("localhost", "127.0.0.1", "::1")
_ALWAYS = [(b"x-content-type-options", b"nosniff")]
_NO_STORE = (b"cache-control", b"no-store")
_OPEN_PATHS = frozenset({"/health"})
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _hostname(value: str) -> str:
    """The host part of a Host header or URL authority, lowercase, without a trailing dot."""
    value = value.strip().lower()
    if value.startswith("["):  # [v6]:port
        value = value[1 : value.find("]")] if "]" in value else value
    elif value.count(":") == 1:
        value = value.split(":", 1)[0]
    return value.rstrip(".")


def allowed_hosts(public_url: str, extra: str) -> frozenset[str] | None:
    """The host names to answer, or None for any (``*`` among ``extra``)."""
    names = [item.strip() for item in extra.split(",") if item.strip()]
    if "*" in names:
        return None
    hosts = {_hostname(urlsplit(public_url).netloc.rsplit("@", 1)[-1]), *_LOOPBACK}
    hosts.update(_hostname(name) for name in names)
    hosts.discard("")
    return frozenset(hosts)


def _error(code: str, message: str) -> tuple[int, bytes]:
    error = ApiError(code, message)
    return error.status, orjson.dumps(error.to_wire())


class Guard:
    def __init__(self, app: ASGIApp, hosts: Iterable[str] | None) -> None:
        self.app = app
        self.hosts = None if hosts is None else frozenset(hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = scope["headers"]
        refusal = None
        if len(headers) > MAX_HEADERS:
            refusal = _error("E130431", f"more than {MAX_HEADERS} header fields")
        elif _CONTROL.search(scope["path"]):
            refusal = _error("E011003", "the request path holds control characters")
        elif self.hosts is not None and scope["path"] not in _OPEN_PATHS:
            host = next((v for k, v in headers if k == b"host"), None)
            if host is None or _hostname(host.decode("latin-1")) not in self.hosts:
                # Never echo the Host: it is the attacker's text.
                refusal = _error(
                    "E130421",
                    "this server does not serve the host named in the request's Host header;"
                    " see --public-url and --allowed-hosts",
                )
        if refusal is not None:
            status, body = refusal
            await send(
                {
                    "type": "http.response.start",
                    "status": status,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                        _NO_STORE,
                        *_ALWAYS,
                        (b"connection", b"close"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                out = list(message.get("headers", ()))
                if not any(name.lower() == b"cache-control" for name, _ in out):
                    out.append(_NO_STORE)
                out.extend(_ALWAYS)
                message = {**message, "headers": out}
            await send(message)

        await self.app(scope, receive, send_with_headers)
