"""The baseline: a bare JSON endpoint on outbound's own HTTP stack (Starlette, uvicorn, the
same JSON response class and server options), with no auth, no database and no crypto."""

from __future__ import annotations

import sys

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from outbound.server.http import json_response

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


app = Starlette(routes=[Route("/bare", bare, methods=["GET", "POST"])])

if __name__ == "__main__":
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(sys.argv[1]),
        log_level="warning",
        access_log=False,
        server_header=False,
    )
