"""Where an app's client secret may go, decided when the secret is entered.

The client secret is write-only: a management key can replace it but never read it. What
could still leak it is an update that sends it elsewhere — blank the token URL, point
``resource`` at a host the caller controls, and the next refresh discovers that host's
"authorization server" and POSTs the secret there. So:

* when a secret is entered (create, or an update that gives ``clientSecret``), the origins of
  the endpoints it is sent to — token, refresh and revocation, *resolved*: discovery and
  protected-resource metadata included — are recorded with the app;
* an update that gives no ``clientSecret`` but changes a field that steers the secret
  (``app_fields.STEERING_FIELDS``) is resolved the same way, and refused with E011002 when its
  endpoints reach an origin the secret was not entered for (or cannot be resolved now);
* the engine refuses to send the secret to any other origin at refresh, code exchange and
  revocation time (``oauth.origins``), so a metadata document that changes later cannot move
  it either.

Apps stored before the origins were recorded have none (None): their update is checked
against their endpoints as resolved now, and the origins found are recorded then.
"""

from __future__ import annotations

import asyncio
import logging

from ...app_fields import STEERING_FIELDS
from ...oauth import OAuthClient, OAuthError
from ...oauth.github_app import USERLESS_GRANTS
from ...oauth.origins import secret_origins
from ...storage import AppRecord
from ..http.errors import ApiError
from .providers import oauth_error_text, provider_config

__all__ = [
    "bind_secret",
    "endpoint_origins",
    "keep_secret_in_place",
    "steering_changed",
]

logger = logging.getLogger("outbound.server.tokens.secret_origins")


async def effective_origins(client: OAuthClient, app: AppRecord, timeout: float) -> tuple[str, ...]:
    """The origins ``app`` would send its own client secret to. An app that registers its
    own client (``useDcr``) sends that client's secret, never this one: none. Raises
    ``OAuthError`` or ``TimeoutError`` when the endpoints cannot be found now."""
    if app.config.get("useDcr"):
        return ()
    return await endpoint_origins(client, app, timeout)


async def endpoint_origins(client: OAuthClient, app: AppRecord, timeout: float) -> tuple[str, ...]:
    """The origins of ``app``'s token, refresh and revocation endpoints, resolved."""
    config = provider_config(app)
    if config.grant_type in USERLESS_GRANTS and not config.discovery_url:
        # A grant without a user asks the token URL as given: its ``resource`` names the
        # API the token is for, not where to find an authorization server.
        return secret_origins(config)
    async with asyncio.timeout(timeout):
        resolved = await client.resolve(config)
    return secret_origins(resolved)


async def bind_secret(
    client: OAuthClient, app: AppRecord, timeout: float
) -> tuple[str, ...] | None:
    """The origins to record with the secret ``app`` was just given; None when it has no secret
    or its endpoints cannot be found now (then the engine does not check, and the next update
    that moves an endpoint is checked against the endpoints as resolved then)."""
    if app.client_secret is None:
        return None
    try:
        return await effective_origins(client, app, timeout)
    except (OAuthError, TimeoutError) as exc:
        logger.info(
            "the endpoints of app %s could not be resolved to bind its client secret: %s",
            app.id,
            oauth_error_text(exc) if isinstance(exc, OAuthError) else "timed out",
        )
        return None


def steering_changed(old: AppRecord, new: AppRecord) -> list[str]:
    """The fields that decide where the secret goes and differ between the two."""
    return [
        name
        for name in STEERING_FIELDS
        if (old.config.get(name) or None) != (new.config.get(name) or None)
    ]


def _cannot_tell(prefix: str, changed: str, exc: BaseException) -> ApiError:
    reason = oauth_error_text(exc) if isinstance(exc, OAuthError) else "timed out"
    return ApiError(
        "E011002",
        f"missing argument {prefix + 'clientSecret'!r}: {changed} change where the stored"
        f" client secret would be sent, and that cannot be resolved now ({reason}); give the"
        " client secret again in the same update",
    )


async def keep_secret_in_place(
    client: OAuthClient, old: AppRecord, new: AppRecord, timeout: float, *, prefix: str = ""
) -> tuple[str, ...] | None:
    """For an update that keeps the stored secret (gives no ``clientSecret``): the origins to
    store with the app, or ``ApiError`` E011002 when the update would send the secret to an
    origin it was not entered for."""
    fields = steering_changed(old, new) if old.client_secret is not None else []
    if not fields:
        return old.secret_origins
    changed = ", ".join(prefix + name for name in fields)
    try:
        moved_to = await effective_origins(client, new, timeout)
    except (OAuthError, TimeoutError) as exc:
        raise _cannot_tell(prefix, changed, exc) from None
    bound = old.secret_origins
    if bound is None:
        try:
            bound = await effective_origins(client, old, timeout)
        except (OAuthError, TimeoutError) as exc:
            raise _cannot_tell(prefix, changed, exc) from None
    outside = [o for o in moved_to if o not in bound]
    if outside:
        raise ApiError(
            "E011002",
            f"missing argument {prefix + 'clientSecret'!r}: with {changed} as sent, the stored"
            f" client secret would go to {outside[0]}, an origin it was not entered for; give"
            " the client secret again in the same update",
        )
    return bound
