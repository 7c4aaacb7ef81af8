"""Small request/response helpers shared by the route modules."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec
import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive

from ...storage import Store
from .auth import authenticate
from .errors import ApiError
from .wire import decode

if TYPE_CHECKING:
    from ..vault import Vault

__all__ = ["MAX_BODY", "authed", "body", "json_response", "read_body", "read_capped"]

# The largest legitimate body is a batch upload of 1000 tokens.
MAX_BODY = 8 * 1024 * 1024
S = TypeVar("S", bound=msgspec.Struct)


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def json_response(content: Any, status_code: int = 200) -> Response:
    return JSONResponse(content, status_code=status_code)


async def read_capped(
    receive: Receive,
    limit: int,
    declared: int = 0,
    before_rest: Callable[[], Awaitable[None]] | None = None,
) -> bytes:
    """The request body, or E130413 as soon as it is (or says it will be) over ``limit``
    bytes: nothing larger is held in memory. ``declared`` is the Content-Length, 0 if none.
    ``before_rest`` runs once when the body did not arrive whole in its first part (a slow or
    large body): the place to authenticate first when the credentials are in the headers.
    A client that goes away (or is cut off by the listener's body timeout) mid-body raises
    E130408: a partial body is never handled."""
    if declared > limit:
        raise ApiError("E130413", f"the request body exceeds {limit} bytes")
    chunks = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ApiError("E130408", "the client went away before its request body was complete")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise ApiError("E130413", f"the request body exceeds {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
        if before_rest is not None:
            await before_rest()
            before_rest = None
    return b"".join(chunks)


async def read_body(request: Request, limit: int = MAX_BODY) -> bytes:
    """A route's request body, capped at ``limit`` bytes (read once: the body is not kept)."""
    declared = request.headers.get("content-length", "")
    size = int(declared) if declared.isascii() and declared.isdigit() else 0  # not "²"
    return await read_capped(request.receive, limit, size)


async def body(request: Request, struct: type[S]) -> S:
    return decode(await read_body(request), struct)


async def authed(request: Request) -> tuple[Vault, str]:
    vault: Vault = request.app.state.vault
    store: Store = vault.store
    return vault, await authenticate(request, store, vault.limits.admit)
