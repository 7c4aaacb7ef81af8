"""Fetch-token, served in front of the framework.

Fetching a token is the request that matters (DESIGN.md), and measured on this kind of
machine Starlette's per-request machinery — middleware, exception wrappers, route matching,
Request/Response objects — cost as much as authenticating, reading the row and decrypting
it together (benchmarks/fetch_token.py). So the four fetch endpoints are answered by this
small ASGI layer; every other request, and every non-POST to these paths, passes through to
the Starlette app unchanged. The work itself (``fetch_token``) and the error shape are the
same functions the routes use.
"""

from __future__ import annotations

import logging
import time
import traceback
from typing import Any

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from .. import metrics
from ..audit import Caller, set_caller
from ..crypto import DecryptionError
from ..storage import StorageUnavailable
from . import logs
from .auth import claimed_project, key_actor, parse_authorization
from .errors import ApiError, storage_unavailable
from .observe import client_address, request_id
from .routes.tokens import FETCH_PATHS, fetch_token
from .vault import Vault

__all__ = ["HotPath"]

logger = logging.getLogger("outbound.server")

_JSON_HEADERS = [(b"content-type", b"application/json")]
# A fetch names an app, an owner and at most 256 scopes: far below the API's general cap, and
# the body is read before the key is checked.
FETCH_MAX_BODY = 256 * 1024


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
        status = 200
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
        headers = [*_JSON_HEADERS, (b"x-request-id", rid.encode())]
        # Who is asking, for the audit log and the logs; this request's own object.
        who = Caller(client=client_address(scope), request_id=rid, trigger="fetch")
        set_caller(who)
        try:
            vault: Vault = self._vault()
            # The key is checked in the same read as the token (Store.find_tokens_for_key),
            # before any event is recorded.
            project_id, key = parse_authorization(authorization)
            who.actor, who.project_id = key_actor(key), project_id
            if declared > FETCH_MAX_BODY:
                raise ApiError("E130413", f"the request body exceeds {FETCH_MAX_BODY} bytes")
            raw = await _read_body(receive)
            payload: Any = await fetch_token(
                vault, project_id, raw, tenant_level=kind[0], by_scopes=kind[1], key=key
            )
        except ApiError as exc:
            if exc.code == "E130401":
                client = scope.get("client")
                exc = self._vault().limits.unauthorized(
                    exc, client[0] if client else "", claimed_project(authorization)
                )
            status, payload = exc.status, exc.to_wire()
            if exc.retry_after is not None:
                headers = [*headers, (b"retry-after", str(exc.retry_after).encode())]
        except StorageUnavailable as exc:
            logger.warning("storage unavailable in POST %s: %s", scope["path"], exc)
            error = storage_unavailable()
            status, payload = error.status, error.to_wire()
            headers = [*headers, (b"retry-after", str(error.retry_after).encode())]
        except DecryptionError as exc:
            logger.error("a stored secret failed to decrypt in POST %s: %s", scope["path"], exc)
            error = ApiError("E131013", "a stored secret could not be decrypted")
            status, payload = error.status, error.to_wire()
        except Exception as exc:
            # Type and stack only: a driver error may quote a row, and a row may hold a secret.
            logger.error(
                "unhandled %s in POST %s\n%s",
                type(exc).__name__,
                scope["path"],
                "".join(traceback.format_tb(exc.__traceback__)),
            )
            error = ApiError("E130500", "internal error; the server log has details")
            status, payload = error.status, error.to_wire()
        body = orjson.dumps(payload)
        route = scope["path"]  # one of the four FETCH_PATHS: bounded
        seconds = time.perf_counter() - started
        metrics.http_request(route, "POST", status, seconds)
        if self.access_log:
            logs.access(route, "POST", status, seconds)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [*headers, (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > FETCH_MAX_BODY:
            raise ApiError("E130413", f"the request body exceeds {FETCH_MAX_BODY} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)
