"""The ASGI application: routes, one error shape for every failure, and the store's lifetime."""

from __future__ import annotations

import asyncio
import functools
import logging
import traceback
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
from ..oauth import OAuthClient
from ..oauth.netguard import quiet_http_logs
from ..storage import StorageUnavailable, Store
from ..storage.connect_sessions import ConnectSessions
from ..storage.leases import RefreshLeases
from ..storage.webhooks import WebhookStore
from . import connect as connect_flow
from . import dcr
from .audit_retention import AuditRetention
from .auth import claimed_project
from .config import Settings
from .console import routes as console_routes
from .errors import ApiError, storage_unavailable
from .guard import Guard, allowed_hosts
from .hotpath import HotPath
from .http import json_response
from .limits import Limits
from .metrics_listener import MetricsListener
from .observe import Observe
from .open_store import open_store
from .openapi import routes as openapi_routes
from .providers import Providers
from .refresh import LeaseRefresher
from .refresh_ahead import RefreshAhead
from .routes import routes
from .session_connect import SessionConnectCORS
from .session_connect import routes as session_connect_routes
from .session_jwt import JwksCache
from .tokens import TokenService
from .vault import Vault
from .webhooks import WebhookSender

__all__ = ["create_app"]

logger = logging.getLogger("outbound.server")

_HTTP_CODES = {404: "E130404", 405: "E130405", 413: "E130413"}


def _error_response(error: ApiError) -> Response:
    response = json_response(error.to_wire(), status_code=error.status)
    if error.retry_after is not None:
        response.headers["Retry-After"] = str(error.retry_after)
    return response


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    error = exc
    vault = getattr(request.app.state, "vault", None)
    if error.code == "E130401" and vault is not None:
        client = request.client
        error = vault.limits.unauthorized(
            error,
            client.host if client else "",
            claimed_project(request.headers.get("authorization", "")),
        )
    return _error_response(error)


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
    response = _error_response(ApiError(code, f"{request.method} {request.url.path}: {exc.detail}"))
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


async def _decryption_error(request: Request, exc: Exception) -> Response:
    # Never says which secret or why beyond the key id: the operator needs to know the master
    # key or the row is wrong, the caller only that nothing usable came back.
    logger.error(
        "a stored secret failed to decrypt in %s %s: %s", request.method, request.url.path, exc
    )
    return _error_response(ApiError("E131013", "a stored secret could not be decrypted"))


async def _storage_unavailable(request: Request, exc: Exception) -> Response:
    logger.warning("storage unavailable in %s %s: %s", request.method, request.url.path, exc)
    return _error_response(storage_unavailable())


class CatchAll:
    """Answers any unexpected exception with the JSON error shape (E130500).

    It logs the exception's type and stack, never its text: a driver error may quote a row, and
    a row may hold a secret. (Starlette's own last-resort handler re-raises, and the server
    would then log the full text.)
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
        except StorageUnavailable as exc:
            # Raised outside a route (a middleware, the lifespan's store): same answer.
            logger.warning(
                "storage unavailable in %s %s: %s", scope.get("method"), scope.get("path"), exc
            )
            if not started:
                await _error_response(storage_unavailable())(scope, receive, send)
        except Exception as exc:
            logger.error(
                "unhandled %s in %s %s\n%s",
                type(exc).__name__,
                scope.get("method"),
                scope.get("path"),
                "".join(traceback.format_tb(exc.__traceback__)),
            )
            if not started:
                response = _error_response(
                    ApiError("E130500", "internal error; the server log has details")
                )
                await response(scope, receive, send)


PURGE_INTERVAL = 60.0


async def _purge_connect_sessions(store: Store) -> None:
    """Ended connect sessions go within minutes, even when nobody creates new ones."""
    sessions = ConnectSessions(store)
    while True:
        await asyncio.sleep(PURGE_INTERVAL)
        try:
            await sessions.purge()
        except Exception as exc:  # a database hiccup: try again next round
            logger.warning("purging ended connect sessions failed: %s", type(exc).__name__)


def _origins(setting: str) -> list[str]:
    return [origin.strip().rstrip("/") for origin in setting.split(",") if origin.strip()]


def create_app(settings: Settings) -> ASGIApp:
    settings.network_policy  # noqa: B018 - a malformed --provider-allow-networks fails here
    quiet_http_logs()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        store = await open_store(settings)
        db, keyring = store.db, store.keyring
        store.audit.fetches = settings.audit_fetches
        store.audit.start(settings.audit_flush_interval)
        retention = AuditRetention(store, settings.audit_retention_days)
        retention.start()
        listener: MetricsListener | None = None
        if settings.metrics_port:
            listener = MetricsListener(db, settings.host, settings.metrics_port)
            listener.start()
        network = settings.network_policy
        oauth = OAuthClient(timeout=settings.provider_timeout, network=network)
        providers = Providers(store, oauth)
        leases = RefreshLeases(store, failing_after=settings.failing_after)
        webhooks = WebhookStore(db, keyring)
        refresher = LeaseRefresher(
            leases,
            providers,
            provider_timeout=settings.provider_timeout,
            commit_timeout=settings.refresh_commit_timeout,
        )
        limits = Limits(settings.auth_failure_limit, settings.key_rate_limit)
        app.state.vault = Vault(
            settings=settings,
            store=store,
            tokens=TokenService(
                store, refresher, refresh_margin=settings.refresh_margin, admit=limits.admit
            ),
            providers=providers,
            webhooks=webhooks,
            network=network,
            limits=limits,
        )
        app.state.session_jwks = JwksCache(network=network)
        providers.on_invalid_client = functools.partial(dcr.replace_client, app.state.vault)
        sender = WebhookSender(
            webhooks,
            retry_base=settings.webhook_retry_base,
            retry_for=settings.webhook_retry_for,
            network=network,
        )
        sender.start()
        ahead: RefreshAhead | None = None
        if settings.refresh_ahead > 0 or settings.refresh_idle_days > 0:
            ahead = RefreshAhead(
                leases,
                refresher,
                horizon=settings.refresh_ahead,
                idle_days=settings.refresh_idle_days,
                interval=settings.refresh_ahead_interval,
            )
            ahead.start()
        purger = asyncio.create_task(_purge_connect_sessions(store))
        try:
            yield
        finally:
            purger.cancel()
            if ahead is not None:
                await ahead.stop()
            await refresher.drain()
            await sender.stop()
            await retention.stop()
            # written before the store closes: a clean stop loses no fetch event
            await store.audit.stop()
            if listener is not None:
                await listener.stop()
            await oauth.aclose()
            await db.close()

    app = Starlette(
        routes=[
            *routes,
            *connect_flow.routes,
            *session_connect_routes,
            *dcr.routes,
            *openapi_routes,
            *console_routes,
        ],
        lifespan=lifespan,
        exception_handlers={
            ApiError: _api_error,
            HTTPException: _http_error,
            DecryptionError: _decryption_error,
            StorageUnavailable: _storage_unavailable,
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
        HotPath(app, lambda: app.state.vault, access_log=settings.log_format == "json"),
        allowed_hosts(settings.effective_public_url, settings.allowed_hosts),
    )
