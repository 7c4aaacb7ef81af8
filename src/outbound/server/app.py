"""The ASGI application: routes, one error shape for every failure, and the store's lifetime."""

from __future__ import annotations

import asyncio
import functools
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
from ..oauth import OAuthClient
from ..storage import StorageUnavailable, Store
from ..storage.connect_sessions import ConnectSessions
from ..storage.leases import RefreshLeases
from ..storage.webhooks import WebhookStore
from .api import routes
from .background.audit_checkpoints import AuditCheckpoints
from .background.audit_retention import AuditRetention
from .background.webhook_delivery import WebhookSender
from .background.webhook_retention import WebhookRetention
from .config import Settings
from .connect import dcr
from .connect import flow as connect_flow
from .connect.device import DevicePoller
from .connect.device import routes as device_routes
from .connect.session_connect import SessionConnectCORS
from .connect.session_connect import routes as session_connect_routes
from .connect.session_jwt import JwksCache
from .console import routes as console_routes
from .http.errors import ApiError, error_answer
from .http.guard import Guard, allowed_hosts
from .http.helpers import json_response
from .http.hotpath import HotPath
from .http.limits import Limits
from .http.metrics_listener import MetricsListener
from .http.observe import Observe
from .http.openapi import routes as openapi_routes
from .open_store import open_store
from .proxy import ProxyPath
from .tokens.fetch import TokenService
from .tokens.providers import Providers
from .tokens.refresh import LeaseRefresher
from .tokens.refresh_ahead import RefreshAhead
from .tokens.token_exchange import routes as token_exchange_routes
from .vault import Vault

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
    settings.webhook_network_policy  # noqa: B018 - and a malformed --webhook-allow-networks
    quiet_http_logs()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        store = await open_store(settings)
        db, keyring = store.db, store.keyring
        store.audit.fetches = settings.audit_fetches
        store.audit.start(settings.audit_flush_interval)
        retention = AuditRetention(store, settings.audit_retention_days)
        retention.start()
        checkpoints = AuditCheckpoints(store, settings.audit_checkpoint_interval)
        checkpoints.start()
        listener: MetricsListener | None = None
        if settings.metrics_port:
            listener = MetricsListener(db, settings.metrics_host, settings.metrics_port)
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
            webhook_network=settings.webhook_network_policy,
            limits=limits,
            session_jwks=JwksCache(network=network),
        )
        app.state.session_jwks = app.state.vault.session_jwks
        providers.on_invalid_client = functools.partial(dcr.replace_client, app.state.vault)
        sender = WebhookSender(
            webhooks,
            retry_base=settings.webhook_retry_base,
            retry_for=settings.webhook_retry_for,
            timeout=settings.webhook_timeout,
            network=settings.webhook_network_policy,
        )
        sender.start()
        pruner = WebhookRetention(webhooks, settings.webhook_retention)
        pruner.start()
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
        device_poller = DevicePoller(app.state.vault)
        device_poller.start()
        try:
            yield
        finally:
            purger.cancel()
            await device_poller.stop()
            if ahead is not None:
                await ahead.stop()
            await refresher.drain()
            await sender.stop()
            await retention.stop()
            await checkpoints.stop()
            await pruner.stop()
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
