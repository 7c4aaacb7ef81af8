"""The ASGI application: routes, one error shape for every failure, and the store's lifetime."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..crypto import DecryptionError
from ..net.logs import quiet_http_logs
from ..storage import StorageUnavailable
from .api import routes
from .api.openapi import routes as openapi_routes
from .api.token_exchange import routes as token_exchange_routes
from .config import Settings
from .connect import dcr
from .connect import flow as connect_flow
from .connect.device import routes as device_routes
from .connect.session_connect import SessionConnectCORS
from .connect.session_connect import routes as session_connect_routes
from .console import routes as console_routes
from .http.errors import ApiError, error_answer
from .http.guard import Guard, allowed_hosts
from .http.helpers import json_response
from .http.observe import Observe
from .proxy import ProxyPath
from .startup import serving
from .tokens.hotpath import HotPath

__all__ = ["create_app"]

logger = logging.getLogger("outbound.server")

_HTTP_CODES = {404: "E130404", 405: "E130405", 413: "E130413"}


def _error_response(exc: Exception, request: Request) -> Response:
    status, headers, body = error_answer(exc, request.method, request.url.path)
    return Response(body, status_code=status, headers={k.decode(): v.decode() for k, v in headers})


async def _route_error(request: Request, exc: Exception) -> Response:
    """ApiError, DecryptionError and StorageUnavailable raised by a route."""
    vault = getattr(request.app.state, "vault", None)
    if vault is not None:
        client = request.client
        authorization = request.headers.get("authorization", "")
        exc = vault.limits.answer(exc, client.host if client else "", authorization)
    return _error_response(exc, request)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code)
    if code is None:
        return json_response(
            {
                "errorCode": f"E130{exc.status_code}",
                "errorDescription": str(exc.detail),
                "errorMessage": str(exc.detail),
            },
            status_code=exc.status_code,
        )
    error = ApiError(code, f"{request.method} {request.url.path}: {exc.detail}")
    response = _error_response(error, request)
    if exc.status_code == 405:
        response.headers["Allow"] = _allowed_methods(request)
    return response


def _allowed_methods(request: Request) -> str:
    """A 405's Allow header (RFC 9110 §15.5.6): every method some route takes at this path —
    Starlette names only the first route that matched the path, and /app/{id:path} (load an
    app, GET) also matches /app/connect (POST)."""
    path = request.scope["path"]
    methods: set[str] = set()
    for route in request.app.router.routes:
        if isinstance(route, Route) and route.methods and route.path_regex.match(path):
            methods |= route.methods
    return ", ".join(sorted(methods))


class CatchAll:
    """Answers any exception no route handler took with the JSON error shape (E130500 for an
    unexpected one; ``errors.error_answer`` logs its type and stack, never its text).
    Starlette's own last-resort handler re-raises, and the server would then log the full text,
    which may quote a row holding a secret.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            # Raised outside a route (a middleware, the lifespan's store) or unexpected.
            status, headers, body = error_answer(
                exc, scope.get("method", ""), scope.get("path", "")
            )
            if not started:
                headers.append((b"content-length", str(len(body)).encode()))
                await send({"type": "http.response.start", "status": status, "headers": headers})
                await send({"type": "http.response.body", "body": body})


def _origins(setting: str) -> list[str]:
    return [origin.strip().rstrip("/") for origin in setting.split(",") if origin.strip()]


def create_app(settings: Settings) -> ASGIApp:
    settings.network_policy  # noqa: B018 - a malformed --provider-allow-networks fails here
    settings.webhook_network_policy  # noqa: B018 - and a malformed --webhook-allow-networks
    quiet_http_logs()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with serving(settings) as vault:
            app.state.vault = vault
            app.state.session_jwks = vault.session_jwks
            yield

    app = Starlette(
        routes=[
            *routes,
            *connect_flow.routes,
            *device_routes,
            *session_connect_routes,
            *token_exchange_routes,
            *dcr.routes,
            *openapi_routes,
            *console_routes,
        ],
        lifespan=lifespan,
        exception_handlers={
            ApiError: _route_error,
            HTTPException: _http_error,
            DecryptionError: _route_error,
            StorageUnavailable: _route_error,
        },
        middleware=[
            Middleware(Observe, access_log=settings.log_format == "json"),
            Middleware(CatchAll),
            Middleware(SessionConnectCORS, origins=_origins(settings.cors_origins)),
        ],
    )
    # A trailing-slash redirect would be built from the request's Host header.
    app.router.redirect_slashes = False
    return Guard(
        HotPath(
            ProxyPath(app, lambda: app.state.vault),
            lambda: app.state.vault,
            access_log=settings.log_format == "json",
        ),
        allowed_hosts(settings.effective_public_url, settings.allowed_hosts),
    )
