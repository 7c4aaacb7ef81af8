"""Small request/response helpers shared by the route modules."""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec
import orjson
from starlette.requests import Request
from starlette.responses import Response

from ..storage import Store
from .auth import authenticate
from .errors import ApiError
from .vault import Vault
from .wire import decode

__all__ = ["MAX_BODY", "authed", "body", "json_response"]

# The largest legitimate body is a batch upload of 1000 tokens.
MAX_BODY = 8 * 1024 * 1024
S = TypeVar("S", bound=msgspec.Struct)


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def json_response(content: Any, status_code: int = 200) -> Response:
    return JSONResponse(content, status_code=status_code)


async def read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY:
        raise ApiError("E130413", f"the request body exceeds {MAX_BODY} bytes")
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise ApiError("E130413", f"the request body exceeds {MAX_BODY} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def body(request: Request, struct: type[S]) -> S:
    return decode(await read_body(request), struct)


async def authed(request: Request) -> tuple[Vault, str]:
    vault: Vault = request.app.state.vault
    store: Store = vault.store
    return vault, await authenticate(request, store, vault.limits.admit)
