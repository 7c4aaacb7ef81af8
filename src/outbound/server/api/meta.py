"""Health and the license handshake the official Python SDK makes at start-up."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..._version import __version__
from ..http.helpers import authed, json_response
from ..vault import Vault


async def health(request: Request) -> Response:
    vault: Vault = request.app.state.vault
    await vault.store.db.fetchone("SELECT 1 AS ok")
    return json_response({"status": "ok", "version": __version__})


async def license_handshake(request: Request) -> Response:
    await authed(request)
    return json_response({"edition": "outbound", "version": __version__})


routes = [
    Route("/health", health, methods=["GET"]),
    Route("/v1/mgmt/license", license_handshake, methods=["GET"]),
]
