"""Fetch-token, served in front of the framework.

Fetching a token is the request that matters (DESIGN.md), and measured on this kind of
machine Starlette's per-request machinery — middleware, exception wrappers, route matching,
Request/Response objects — cost as much as authenticating, reading the row and decrypting
it together (benchmarks/fetch_token.py). So the four fetch endpoints are answered by this
small ASGI layer; every other request, and every non-POST to these paths, passes through to
the Starlette app unchanged. The work (``fetch.fetch_token``), the body reader
(``http.read_capped``) and the error answer (``errors.error_answer``) are the ones the routes
use.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from ... import metrics
from ...audit import Caller, set_caller
from ..http import logs
from ..http.auth import invalid_key, key_actor
from ..http.errors import error_answer
from ..http.helpers import read_capped
from ..http.observe import client_address, request_id
from ..vault import Vault
from .delegation import fetch_credentials
from .fetch import FETCH_MAX_BODY, FETCH_PATHS, fetch_token

__all__ = ["HotPath"]

_JSON_HEADERS = [(b"content-type", b"application/json")]


class HotPath:
    def __init__(self, app: ASGIApp, vault: Any, *, access_log: bool = False) -> None:
        self.app = app
        # A callable returning the Vault: it exists only once the lifespan has started.
        self._vault = vault
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = FETCH_PATHS.get(scope.get("path", "")) if scope["type"] == "http" else None
        if kind is None or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        authorization = ""
        declared = 0
        given_id = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value.decode("latin-1")
            elif name == b"content-length" and value.isdigit():
                declared = int(value)
            elif name == b"x-request-id":
                given_id = value
        rid = request_id(given_id)
        # Who is asking, for the audit log and the logs; this request's own object.
        who = Caller(client=client_address(scope), request_id=rid, trigger="fetch")
        set_caller(who)
        route = scope["path"]  # one of the four FETCH_PATHS: bounded
        try:
            vault: Vault = self._vault()
            # The key is checked in the same read as the token (Store.find_tokens_for_key),
            # before any event is recorded; a user's token (delegation.py) before the read.
            project_id, key, delegate = await fetch_credentials(
                vault.store, vault.session_jwks, authorization
            )
            who.actor = delegate.actor if delegate else key_actor(key or "")
            who.project_id = project_id

            async def key_first() -> None:
                # A body that does not arrive whole is read only for a key that is live: the
                # key is in the header, so an unauthenticated client cannot hold the read.
                if key is not None and await vault.store.keys.authenticate(project_id, key) is None:
                    raise invalid_key()

            raw = await read_capped(receive, FETCH_MAX_BODY, declared, key_first)
            payload = await fetch_token(
                vault,
                project_id,
                raw,
                tenant_level=kind[0],
                by_scopes=kind[1],
                key=key,
                delegate=delegate,
            )
            status, headers, body = 200, _JSON_HEADERS, orjson.dumps(payload)
        except Exception as exc:
            client = scope.get("client")
            answer = self._vault().limits.answer(exc, client[0] if client else "", authorization)
            status, headers, body = error_answer(answer, "POST", route)
        seconds = time.perf_counter() - started
        metrics.http_request(route, "POST", status, seconds)
        if self.access_log:
            logs.access(route, "POST", status, seconds)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    *headers,
                    (b"x-request-id", rid.encode()),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
