"""From a stored app to the :class:`ProviderConfig` the OAuth engine reads.

The catalog template (when the app has a ``templateId``) gives the defaults and the quirks; the
app's own non-empty fields go on top. Built configurations are cached for a few seconds per
app, so the fetch path can ask for an app's refresh margin without a database read each time.
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from ...app_fields import ENGINE_FIELDS
from ...net.logs import loggable
from ...oauth import OAuthClient, ProviderConfig
from ...storage import AppRecord, Store
from ...storage.registrations import Registration, Registrations
from ..http.errors import ApiError, app_not_found

__all__ = ["Providers", "provider_config"]

logger = logging.getLogger("outbound.server.tokens.providers")

# How long a built configuration is reused before the app is read again: an app updated on
# another server takes effect here within this many seconds.
CONFIG_CACHE_SECONDS = 5.0


def _template_defaults(template_id: str) -> dict[str, Any]:
    try:
        catalog = importlib.import_module("outbound.catalog")
    except ImportError:  # the catalog is optional: an app can describe its provider fully
        return {}
    template = catalog.get_template(template_id)
    if template is None:
        logger.warning("app refers to unknown provider template %r", template_id)
        return {}
    return dict(template.config_defaults())


def _merge_params(
    base: Iterable[tuple[str, str]], overrides: Iterable[tuple[str, str]]
) -> tuple[tuple[str, str], ...]:
    merged = dict(base)
    merged.update(overrides)
    return tuple(merged.items())


def _wire_params(params: Any) -> list[tuple[str, str]]:
    return [(p["key"], p.get("value", "")) for p in params or [] if p.get("key")]


def provider_config(app: AppRecord) -> ProviderConfig:
    """The engine's view of ``app``: template defaults, then the app's non-empty fields."""
    config = app.config
    kwargs: dict[str, Any] = {}
    if config.get("templateId"):
        kwargs.update(_template_defaults(config["templateId"]))
    for wire_name, name in ENGINE_FIELDS:
        if config.get(wire_name):
            kwargs[name] = config[wire_name]
    if config.get("defaultScopes"):
        kwargs["default_scopes"] = tuple(config["defaultScopes"])
    if config.get("refreshMargin") is not None:
        kwargs["refresh_margin"] = int(config["refreshMargin"])
    # PKCE only when both the template (some providers choke on it) and the app allow it.
    kwargs["pkce"] = bool(kwargs.get("pkce", True)) and bool(config.get("pkce", True))

    authorize = list(_wire_params(config.get("authorizationUrlParams")))
    template_authorize = dict(kwargs.get("authorize_params", ()))
    # ``accessType`` is the value of the template's own access parameter (Google's
    # ``access_type``); providers without one are not sent a parameter they do not know.
    if "access_type" in template_authorize and config.get("accessType"):
        authorize.insert(0, ("access_type", config["accessType"]))
    # The app's ``prompt`` decides, even when empty: an app made from a template got the
    # template's prompt as its own field, so clearing that field must stop sending it.
    template_authorize.pop("prompt", None)
    if config.get("prompt"):
        authorize.insert(0, ("prompt", " ".join(config["prompt"])))
    kwargs["authorize_params"] = _merge_params(template_authorize.items(), authorize)
    kwargs["token_params"] = _merge_params(
        kwargs.get("token_params", ()), _wire_params(config.get("tokenUrlParams"))
    )
    kwargs["client_secret"] = app.client_secret
    kwargs["secret_origins"] = app.secret_origins
    # Apps whose tokens are only uploaded may have no client id; they are served all the same.
    kwargs.setdefault("client_id", "")
    known = {f.name for f in dataclasses.fields(ProviderConfig)}
    return ProviderConfig(**{k: v for k, v in kwargs.items() if k in known})


def with_registration(config: ProviderConfig, registration: Registration) -> ProviderConfig:
    """``config`` with the client the app registered for itself (``useDcr``)."""
    method = registration.token_endpoint_auth_method
    return dataclasses.replace(
        config,
        client_id=registration.client_id or "",
        client_secret=registration.client_secret if method != "none" else None,
        # the registered client's secret came from the server it was registered at
        secret_origins=None,
        token_endpoint_auth_method=method,  # type: ignore[arg-type]
    )


class Providers:
    """Provider configurations of stored apps, and the one OAuth client that talks to them."""

    def __init__(
        self,
        store: Store,
        client: OAuthClient,
        *,
        cache_seconds: float = CONFIG_CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.client = client
        self.cache_seconds = cache_seconds
        self.clock = clock
        self._cache: dict[tuple[str, str], tuple[float, AppRecord, ProviderConfig]] = {}
        # Called when an authorization server answers ``invalid_client`` for an app's client:
        # an app that registered its own registers a new one (``dcr.replace_client``).
        self.on_invalid_client: Callable[[str, str, str], Awaitable[None]] | None = None

    async def app(self, project_id: str, app_id: str) -> tuple[AppRecord, ProviderConfig]:
        """The app and its (unresolved) configuration; ``ApiError`` E131001 when gone."""
        key = (project_id, app_id)
        cached = self._cache.get(key)
        now = self.clock()
        if cached is not None and cached[0] > now:
            return cached[1], cached[2]
        app = await self.store.apps.get(project_id, app_id)
        if app is None:
            self._cache.pop(key, None)
            raise app_not_found(app_id)
        config = provider_config(app)
        if app.config.get("useDcr"):
            registration = await Registrations(self.store).get(project_id, app_id)
            if registration is None or not registration.client_id:
                # Not registered yet (the first connect link does it): not cached, so the
                # client is used as soon as any server has registered it.
                return app, config
            config = with_registration(config, registration)
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[key] = (now + self.cache_seconds, app, config)
        return app, config

    async def config(self, project_id: str, app_id: str) -> ProviderConfig:
        _, config = await self.app(project_id, app_id)
        return config

    async def resolved(self, project_id: str, app_id: str) -> ProviderConfig:
        """The configuration with endpoints filled in from discovery (engine-cached)."""
        return await self.client.resolve(await self.config(project_id, app_id))

    async def client_rejected(self, project_id: str, app_id: str, client_id: str) -> None:
        """The authorization server no longer knows ``client_id`` (``invalid_client``).
        Best effort: a failure is logged, never raised into the request that noticed."""
        if self.on_invalid_client is None:
            return
        try:
            await self.on_invalid_client(project_id, app_id, client_id)
        except Exception as exc:
            logger.warning("replacing the client of app %s failed: %s", app_id, type(exc).__name__)

    def forget(self, project_id: str, app_id: str) -> None:
        self._cache.pop((project_id, app_id), None)


def oauth_error_text(error: Exception) -> str:
    """A short, secret-free account of an engine error for ``lastRefreshError``, messages and
    log lines (the engine scrubs secrets and keeps no provider body; anything that could
    still break a log line is escaped)."""
    code = getattr(error, "error", "") or type(error).__name__
    description = getattr(error, "description", "")
    text = f"{code}: {description}" if description else str(code)
    return loggable(text[:300])


def require_oauth_app(app: AppRecord) -> None:
    if app.config.get("appType") == "apikey":
        raise ApiError(
            "E011004",
            f"outbound app {app.id!r} holds API keys, not OAuth tokens; upload keys instead",
        )


def config_error(error: Exception) -> ApiError:
    """E131014: the app cannot work with its provider as configured; nothing was changed."""
    return ApiError(
        "E131014",
        f"the app's OAuth configuration does not work ({oauth_error_text(error)}); fix the app",
    )
