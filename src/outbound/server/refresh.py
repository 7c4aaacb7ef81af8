"""Refresh on fetch: exactly one call to the provider however many callers race, in one process
or in many sharing the database.

In a process, concurrent refreshes of one token share one task. Across processes the task
takes the token's *lease* (``storage.leases``): a conditional ``UPDATE`` that only one claimer
wins. The winner asks the provider and stores the answer — new access token, rotated refresh
token — in one transaction before anybody is answered; the others poll the row until its
version moves and hand out the winner's result.

Failures are sorted by what they mean for the connection:

- permanent (``invalid_grant``, revoked consent …): judged against a fresh read of the row —
  another server may have just rotated the refresh token — then the token is marked as needing
  reconnection (E131010 from now on);
- transient (timeout, 5xx, 429 …): nothing stored changes, the lease is given back, the caller
  gets E131011 with ``Retry-After`` (``TokenService`` still serves a token that is alive);
- configuration (no token URL, discovery names another issuer): E131014, nothing changes.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
import secrets
import time
from collections.abc import Callable

from .. import metrics
from ..oauth import (
    OAuthConfigError,
    PermanentOAuthError,
    ProviderConfig,
    TokenSet,
    TransientOAuthError,
    needs_refresh,
    refresh_allowed,
)
from ..storage import TokenRecord, TokenWrite
from ..storage.leases import RefreshedToken, RefreshLeases, refresh_event
from .errors import ApiError, not_found_token
from .providers import Providers, config_error, oauth_error_text, require_oauth_app

__all__ = ["LeaseRefresher", "reconnect_required", "verify_refresh"]

logger = logging.getLogger("outbound.server.refresh")

# Retry-After for a provider that failed without saying when to come back.
DEFAULT_RETRY_AFTER = 5
_POLL_FIRST = 0.01
_POLL_MAX = 0.2


def reconnect_required(token: TokenRecord) -> ApiError:
    return ApiError(
        "E131010",
        "the provider rejected this connection's refresh token"
        f" ({token.last_refresh_error or 'no reason given'}); connect the user again",
    )


def _unavailable(reason: str, retry_after: float | None = None) -> ApiError:
    seconds = DEFAULT_RETRY_AFTER if retry_after is None else max(1, math.ceil(retry_after))
    return ApiError(
        "E131011",
        f"the provider could not refresh the token ({reason}); nothing stored was lost,"
        f" retry in {seconds} s",
        retry_after=seconds,
    )


def refreshed(tokens: TokenSet) -> RefreshedToken:
    if tokens.access_token is None:
        raise TransientOAuthError("malformed_response", "the refresh answer has no access token")
    return RefreshedToken(
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        id_token=tokens.id_token,
        token_type=tokens.token_type or "Bearer",
        expires_at=tokens.expires_at,
        scopes=list(tokens.scopes) if tokens.scopes is not None else None,
        subject=tokens.subject,
        extra=dict(tokens.extra),
    )


class LeaseRefresher:
    """The :class:`~outbound.server.tokens.Refresher` backed by the OAuth engine and the
    database lease."""

    def __init__(
        self,
        leases: RefreshLeases,
        providers: Providers,
        *,
        provider_timeout: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.leases = leases
        self.providers = providers
        # Long enough for discovery plus the token request (each bounded by the timeout)
        # and the commit; a server that dies holding the lease blocks others this long.
        self.lease_seconds = math.ceil(2 * provider_timeout) + 5
        self.clock = clock
        # Unique per process (and per instance): the lease owner written into the row.
        self.owner = secrets.token_hex(8)
        self._inflight: dict[str, asyncio.Task[TokenRecord | ApiError]] = {}

    # -- whether to refresh ----------------------------------------------------------------

    async def due(self, token: TokenRecord, now: float, default_margin: int) -> bool:
        """Whether ``token`` must be refreshed before it is handed out (the app's or
        template's margin, else ``default_margin``)."""
        _, config = await self.providers.app(token.project_id, token.app_id)
        return self._due(config, token, now, default_margin)

    @staticmethod
    def _due(config: ProviderConfig, token: TokenRecord, now: float, default_margin: int) -> bool:
        margin = config.refresh_margin if config.refresh_margin is not None else default_margin
        lifetime = token.access_token_expiry - token.last_refresh_time
        if token.access_token_expiry and lifetime > 0 and margin > lifetime // 2:
            # A margin longer than the token lives would refresh on every fetch: at most
            # half the lifetime.
            config = dataclasses.replace(config, refresh_margin=lifetime // 2)
        return needs_refresh(
            config,
            token.access_token_expiry,
            now,
            default_margin,
            obtained_at=token.last_refresh_time,
        )

    # -- refreshing ------------------------------------------------------------------------

    async def refresh(self, token: TokenRecord, *, force: bool) -> TokenRecord:
        task = self._inflight.get(token.id)
        if task is None:
            task = asyncio.ensure_future(self._refresh(token, force=force))
            self._inflight[token.id] = task
            task.add_done_callback(lambda _: self._inflight.pop(token.id, None))
        # shield: a caller that goes away must not cancel the refresh others wait on.
        result = await asyncio.shield(task)
        if isinstance(result, ApiError):
            raise ApiError(result.code, result.message, retry_after=result.retry_after)
        return result

    async def _refresh(self, token: TokenRecord, *, force: bool) -> TokenRecord | ApiError:
        try:
            return await self._refresh_or_wait(token, force=force)
        except ApiError as exc:
            return exc

    def _alive(self, token: TokenRecord, now: float) -> bool:
        return token.access_token is not None and (
            token.access_token_expiry == 0 or token.access_token_expiry > now
        )

    async def _refresh_or_wait(self, token: TokenRecord, *, force: bool) -> TokenRecord:
        config = await self.providers.config(token.project_id, token.app_id)
        if self._alive(token, self.clock()) and not refresh_allowed(
            config, token.access_token_expiry, self.clock()
        ):
            # A provider that refuses early refreshes (Exact Online) would answer a forced
            # one with an error: the token in hand is the freshest there can be for now.
            return token
        seen = token.version
        waited_on_claim = False
        wait_started = 0.0
        delay = _POLL_FIRST
        # Long enough to see a lease taken just before we looked run out, and take it over.
        deadline = time.monotonic() + self.lease_seconds + 2
        while True:
            found = await self.leases.read(token.project_id, token.id)
            if found is None:
                raise not_found_token()
            current, claim = found
            if current.needs_reconnect:
                raise reconnect_required(current)
            now = self.clock()
            if current.version != seen:
                if waited_on_claim:
                    metrics.lease_wait(time.monotonic() - wait_started)
                # Refreshed (or replaced) since our caller read it: that is the answer,
                # however short its remaining life — a refresh does not get fresher.
                if force or self._alive(current, now):
                    return current
                seen = current.version
                waited_on_claim = False
            if current.refresh_token is None:
                raise ApiError(
                    "E131010",
                    "the access token has expired and there is no refresh token; connect"
                    " the user again or upload a new token",
                )
            if claim.held(now):
                if not waited_on_claim:
                    wait_started = time.monotonic()
                waited_on_claim = True
                if time.monotonic() > deadline:
                    raise _unavailable("another server is still refreshing this token")
                await asyncio.sleep(delay)
                delay = min(delay * 2, _POLL_MAX)
                continue
            if waited_on_claim and claim.owner is None:
                # The refresher we waited for gave its lease back without a new token: its
                # call to the provider failed transiently. Trying again at once would only
                # queue every waiter behind the same unresponsive provider. (A lease that
                # merely ran out — its holder died — is taken over below.)
                raise _unavailable("the provider did not answer another server's refresh")
            # A claim that lapsed with its owner still named was never given back: that
            # server died mid-refresh. Take over (the conditional claim admits one of us).
            if await self.leases.claim(current, self.owner, int(now) + self.lease_seconds):
                result = await self._refresh_as_owner(current)
                if result is not None:
                    return result
                # the row changed under us; read it again
            # lost the race for the lease: the loop reads the winner's claim next

    async def _refresh_as_owner(self, token: TokenRecord) -> TokenRecord | None:
        """Holding the lease: ask the provider, store its answer. None when the row changed
        meanwhile (the caller re-reads it)."""
        assert token.refresh_token is not None
        started = time.monotonic()
        template = "custom"

        def measure(outcome: str) -> None:
            metrics.refresh(template, outcome, time.monotonic() - started)

        try:
            app, config = await self.providers.app(token.project_id, token.app_id)
            template = app.config.get("templateId") or "custom"
            answer = refreshed(
                await self.providers.client.refresh(
                    config, token.refresh_token, scopes=token.scopes
                )
            )
        except PermanentOAuthError as exc:
            measure("permanent")
            reason = oauth_error_text(exc)
            logger.info("refresh of token %s refused by the provider: %s", token.id, reason)
            if await self.leases.mark_needs_reconnect(token, reason):
                raise reconnect_required(
                    dataclasses.replace(token, last_refresh_error=reason)
                ) from None
            return None
        except TransientOAuthError as exc:
            measure("transient")
            logger.warning(
                "refresh of token %s failed transiently: %s", token.id, oauth_error_text(exc)
            )
            await asyncio.shield(self.leases.release(token.id, self.owner))
            await self.leases.store.audit.record(refresh_event(token, "E131011"))
            raise _unavailable(oauth_error_text(exc), exc.retry_after) from None
        except OAuthConfigError as exc:
            measure("config")
            await asyncio.shield(self.leases.release(token.id, self.owner))
            await self.leases.store.audit.record(refresh_event(token, "E131014"))
            raise config_error(exc) from None
        except BaseException:
            await asyncio.shield(self.leases.release(token.id, self.owner))
            raise
        measure("success")
        return await asyncio.shield(self.leases.store_refresh(token, answer))


async def verify_refresh(providers: Providers, write: TokenWrite) -> TokenWrite:
    """Refresh an uploaded token once at the provider; the write to store instead (with the
    new access token and any rotated refresh token), or an error — nothing is stored then."""
    if write.refresh_token is None:
        raise ApiError("E011002", "missing argument 'refreshToken': verifyRefresh needs one")
    app, config = await providers.app(write.project_id, write.app_id)
    require_oauth_app(app)
    try:
        answer = refreshed(
            await providers.client.refresh(config, write.refresh_token, scopes=write.scopes)
        )
    except PermanentOAuthError as exc:
        raise ApiError(
            "E131015",
            f"the provider rejected the uploaded refresh token ({oauth_error_text(exc)});"
            " nothing was stored",
        ) from None
    except TransientOAuthError as exc:
        raise _unavailable(oauth_error_text(exc), exc.retry_after) from None
    except OAuthConfigError as exc:
        raise config_error(exc) from None
    return dataclasses.replace(
        write,
        access_token=answer.access_token,
        refresh_token=answer.refresh_token or write.refresh_token,
        id_token=answer.id_token or write.id_token,
        access_token_type=answer.token_type,
        access_token_expiry=answer.expires_at,
        scopes=answer.scopes if answer.scopes is not None else write.scopes,
        token_sub=write.token_sub or answer.subject,
        extra={**write.extra, **answer.extra},
    )
