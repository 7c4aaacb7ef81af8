"""The baselines: a bare JSON endpoint on outbound's own HTTP stack (Starlette, uvicorn, the
same JSON response class and server options), with no auth, no database and no crypto."""

from __future__ import annotations

import sys

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from outbound.server.http.helpers import json_response

# About the size of a fetched token, so both sides serialise and send the same amount.
BODY = {
    "token": {
        "id": "tok_" + "x" * 22,
        "appId": "bench-app",
        "userId": "user-000001",
        "accessToken": "a" * 64,
        "token": "a" * 64,
        "accessTokenType": "Bearer",
        "accessTokenExpiry": "1900000000",
        "hasRefreshToken": True,
        "scopes": ["read", "write"],
    }
}


async def bare(request: Request) -> Response:
    await request.body()
    return json_response(BODY)


starlette_app = Starlette(routes=[Route("/bare", bare, methods=["GET", "POST"])])
BODY_BYTES = orjson.dumps(BODY)


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """``/bare`` through Starlette; ``/bare-asgi`` the way outbound's fetch hot path answers
    (raw ASGI in front of Starlette), to show what the framework itself costs."""
    if scope["type"] != "http" or scope["path"] != "/bare-asgi":
        await starlette_app(scope, receive, send)
        return
    while (await receive()).get("more_body"):
        pass
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(BODY_BYTES)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": BODY_BYTES})


if __name__ == "__main__":
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(sys.argv[1]),
        log_level="warning",
        access_log=False,
        server_header=False,
    )
