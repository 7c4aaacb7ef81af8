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

A late answer is kept, never lost. The caller waits at most ``provider_timeout`` and gets
E131011, but the refresh goes on reading the provider's answer for up to ``commit_timeout``,
renewing its lease meanwhile (no other server sends the old refresh token while its owner is
alive), and stores the answer as it would an on-time one. A provider that rotates refresh
tokens has already rotated this one; dropping its answer would leave the next refresh
sending a used refresh token, which such providers punish by revoking the whole grant.
A fetch that comes while such a refresh is in flight — in this process, or under another
server's renewed lease — joins it and waits up to ``provider_timeout`` from its own arrival, so
the first fetch after a hung provider recovers is answered the late answer's token.
``drain`` lets a shutting-down server finish these refreshes first.

When an answer is lost even so (the connection broke: the engine retried once; or the
commit window ran out), the row says so in ``last_refresh_error``, and a refusal of the next
refresh with that refresh token is reported as "refresh token reused after a lost answer",
not as revoked consent.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import math
import secrets
import time
from collections.abc import Callable

from ... import metrics
from ...oauth import (
    OAuthConfigError,
    PermanentOAuthError,
    SecretOriginError,
    TokenSet,
    TransientOAuthError,
    refresh_allowed,
)
from ...storage import TokenRecord, TokenWrite
from ...storage.grant_tokens import obtained_by_grant
from ...storage.leases import Claim, RefreshedToken, RefreshLeases, refresh_event
from ..http.errors import ApiError, not_found_token
from .grants import obtain
from .providers import Providers, config_error, oauth_error_text, require_oauth_app
from .token_state import alive, due, expired_without_refresh_token, reconnect_required

__all__ = ["LeaseRefresher", "provider_unavailable", "verify_refresh"]

logger = logging.getLogger("outbound.server.tokens.refresh")

# Retry-After for a provider that failed without saying when to come back.
DEFAULT_RETRY_AFTER = 5
_POLL_FIRST = 0.01
_POLL_MAX = 0.2
# What ``last_refresh_error`` starts with after a refresh whose answer never arrived.
LOST_ANSWER = "the provider's answer to a refresh was lost"
REUSED_AFTER_LOST_ANSWER = "refresh token reused after a lost answer"


def secret_origin_refused(reason: str) -> ApiError:
    """E131010: the refresh would have sent the client secret to an origin it is not bound to
    (``oauth.origins``), so it was not sent."""
    return ApiError("E131010", f"the refresh was not sent: {reason}")


def _unavailable(reason: str, retry_after: float | None = None) -> ApiError:
    seconds = DEFAULT_RETRY_AFTER if retry_after is None else max(1, math.ceil(retry_after))
    return ApiError(
        "E131011",
        f"the provider could not refresh the token ({reason}); nothing stored was lost,"
        f" retry in {seconds} s",
        retry_after=seconds,
    )


# E131011 with Retry-After, for other provider calls (a GitHub App installation's check)
provider_unavailable = _unavailable


@dataclasses.dataclass
class _Flight:
    """One refresh of one token in this process, however many callers wait on it."""

    task: asyncio.Task[TokenRecord | ApiError]
    # Set once this process holds the lease and starts talking to the provider: from then on
    # callers wait at most ``provider_timeout``; before, they wait on another server's lease.
    calling: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)
    calling_since: float = 0.0


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
    """The :class:`~outbound.server.tokens.fetch.Refresher` backed by the OAuth engine and the
    database lease."""

    def __init__(
        self,
        leases: RefreshLeases,
        providers: Providers,
        *,
        provider_timeout: float,
        commit_timeout: float = 120.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.leases = leases
        self.providers = providers
        self.provider_timeout = provider_timeout
        self.commit_timeout = max(commit_timeout, provider_timeout)
        # Long enough for discovery plus the token request (each bounded by the timeout)
        # and the commit; renewed while a late answer is awaited. A server that dies holding
        # the lease blocks others this long.
        self.lease_seconds = math.ceil(2 * provider_timeout) + 5
        # Renewals also tell servers waiting on the lease that its owner is alive (and they
        # stop waiting): often enough that they notice within the provider timeout.
        self.renew_every = min(self.lease_seconds / 3, max(provider_timeout / 2, 0.5))
        self.clock = clock
        # Unique per process (and per instance): the lease owner written into the row.
        self.owner = secrets.token_hex(8)
        self._inflight: dict[str, _Flight] = {}
        # Tasks holding a lease and talking to the provider: what ``drain`` waits for.
        self._owning: set[asyncio.Task[object]] = set()

    # -- whether to refresh ----------------------------------------------------------------

    async def due(self, token: TokenRecord, now: float, default_margin: int) -> bool:
        """Whether ``token`` must be refreshed before it is handed out (the app's or
        template's margin, else ``default_margin``)."""
        _, config = await self.providers.app(token.project_id, token.app_id)
        return due(config, token, now, default_margin)

    # -- refreshing ------------------------------------------------------------------------

    async def refresh(self, token: TokenRecord, *, force: bool) -> TokenRecord:
        flight = self._inflight.get(token.id)
        if flight is None:
            flight = _Flight(asyncio.ensure_future(self._refresh(token, force=force)))
            self._inflight[token.id] = flight
            flight.task.add_done_callback(lambda _: self._inflight.pop(token.id, None))
        result = await self._outcome(flight)
        if isinstance(result, ApiError):
            raise ApiError(result.code, result.message, retry_after=result.retry_after)
        return result

    async def _outcome(self, flight: _Flight) -> TokenRecord | ApiError:
        """The flight's result, or E131011 once this caller has waited ``provider_timeout`` for
        its provider call. A caller that joins a call already running — even one whose first
        callers were answered E131011 and whose late answer is arriving — waits its own
        ``provider_timeout`` from when it joined: that answer is the one it would get from a
        new refresh, and starting one is not allowed while this one holds the lease.
        asyncio.wait never cancels the task: neither a caller that goes away nor one that stops
        waiting ends the refresh others wait on, or the late answer it will store."""
        task = flight.task
        joined = time.monotonic()
        if not task.done() and not flight.calling.is_set():
            calling = asyncio.ensure_future(flight.calling.wait())
            try:
                await asyncio.wait({task, calling}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                calling.cancel()
        if not task.done():
            started = max(flight.calling_since, joined)
            remaining = started + self.provider_timeout - time.monotonic()
            if remaining > 0:
                await asyncio.wait({task}, timeout=remaining)
        if not task.done():
            return _unavailable(
                f"no answer within {self.provider_timeout:g} s; the refresh goes on and"
                " its answer will be kept"
            )
        return task.result()

    async def drain(self) -> None:
        """For a graceful shutdown: let refreshes that hold a lease store their answer (at
        most ``commit_timeout``), then stop the ones merely waiting on another server."""
        owning = set(self._owning)
        if owning:
            logger.info("waiting for %d refresh(es) in flight to finish", len(owning))
            await asyncio.wait(owning, timeout=self.commit_timeout)
        for flight in list(self._inflight.values()):
            task = flight.task
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _refresh(self, token: TokenRecord, *, force: bool) -> TokenRecord | ApiError:
        try:
            return await self._refresh_or_wait(token, force=force)
        except ApiError as exc:
            return exc

    async def _refresh_or_wait(self, token: TokenRecord, *, force: bool) -> TokenRecord:
        config = await self.providers.config(token.project_id, token.app_id)
        if alive(token, self.clock()) and not refresh_allowed(
            config, token.access_token_expiry, self.clock()
        ):
            # A provider that refuses early refreshes (Exact Online) would answer a forced
            # one with an error: the token in hand is the freshest there can be for now.
            return token
        seen = token.version
        waited_on_claim = False
        seen_claim: Claim | None = None
        # Seen renewing its lease: its owner is alive, talking to the provider (perhaps reading
        # a late answer after its own callers were told E131011).
        owner_alive = False
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
                if force or alive(current, now):
                    return current
                seen = current.version
                waited_on_claim = False
                seen_claim = None
                owner_alive = False
            if current.refresh_token is None and not obtained_by_grant(current):
                raise expired_without_refresh_token()
            if claim.held(now):
                if not waited_on_claim:
                    wait_started = time.monotonic()
                waited_on_claim = True
                if (
                    seen_claim
                    and claim.owner == seen_claim.owner
                    and claim.until > seen_claim.until
                ):
                    owner_alive = True
                if owner_alive and time.monotonic() - wait_started >= self.provider_timeout:
                    # Its answer is late even for us: our caller hears so within the provider
                    # timeout, like the owner's own callers (the owner keeps the answer).
                    raise _unavailable("another server is still waiting for the provider")
                seen_claim = claim
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

    async def refresh_claimed(self, token: TokenRecord) -> TokenRecord | None:
        """Refresh ``token``, whose lease this server has just taken with the row as read
        (a refresh-ahead round: ``RefreshLeases.claim_picked``). The stored result, or None:
        the provider refuses refreshes this early (its refresh window), or the row changed."""
        # shield: stopping a round must not cut off a refresh the provider may have answered
        # (with rotation, the new refresh token would be lost).
        result = await asyncio.shield(asyncio.ensure_future(self._refresh_claimed(token)))
        if isinstance(result, ApiError):
            raise ApiError(result.code, result.message, retry_after=result.retry_after)
        return result

    async def _refresh_claimed(self, token: TokenRecord) -> TokenRecord | ApiError | None:
        try:
            config = await self.providers.config(token.project_id, token.app_id)
            allowed = refresh_allowed(config, token.access_token_expiry, self.clock())
            if not allowed:
                await self.leases.release(token.id, self.owner)
                return None
        except BaseException:
            await asyncio.shield(self.leases.release(token.id, self.owner))
            raise
        try:
            return await self._refresh_as_owner(token)
        except ApiError as exc:
            return exc

    async def _refresh_as_owner(self, token: TokenRecord) -> TokenRecord | None:
        """Holding the lease: ask the provider, store its answer. None when the row changed
        meanwhile (the caller re-reads it)."""
        task = asyncio.current_task()
        flight = self._inflight.get(token.id)
        if flight is not None and flight.task is task:
            flight.calling_since = time.monotonic()
            flight.calling.set()
        if task is None:
            return await self._ask_and_store(token)
        # Until the answer is stored: a graceful shutdown waits for it (``drain``).
        self._owning.add(task)
        try:
            return await self._ask_and_store(token)
        finally:
            self._owning.discard(task)

    async def _ask_and_store(self, token: TokenRecord) -> TokenRecord | None:
        renewing = asyncio.create_task(self._keep_lease(token.id))
        started = time.monotonic()
        template = "custom"

        def measure(outcome: str) -> None:
            metrics.refresh(template, outcome, time.monotonic() - started)

        try:
            app, config = await self.providers.app(token.project_id, token.app_id)
            template = app.config.get("templateId") or "custom"
            if obtained_by_grant(token):
                # no refresh token: obtained again by the app's grant (tokens/grants.py)
                answer = await obtain(
                    self.providers.client, app, config, token, timeout=self.commit_timeout
                )
            else:
                assert token.refresh_token is not None
                answer = refreshed(
                    await self.providers.client.refresh(
                        config,
                        token.refresh_token,
                        scopes=token.scopes,
                        timeout=self.commit_timeout,
                    )
                )
        except PermanentOAuthError as exc:
            measure("permanent")
            reason = oauth_error_text(exc)
            if exc.after_lost_answer or token.last_refresh_error.startswith(LOST_ANSWER):
                reason = f"{REUSED_AFTER_LOST_ANSWER} ({reason})"
            logger.info("refresh of token %s refused by the provider: %s", token.id, reason)
            marked = await self.leases.mark_needs_reconnect(token, reason)
            if exc.error == "invalid_client":
                # After the lease is given back: an app that registered its own client
                # registers a new one for the user's next connect (a network call).
                await asyncio.shield(
                    self.providers.client_rejected(token.project_id, token.app_id, config.client_id)
                )
            if marked:
                raise reconnect_required(
                    dataclasses.replace(token, last_refresh_error=reason)
                ) from None
            return None
        except TransientOAuthError as exc:
            measure("transient")
            text = oauth_error_text(exc)
            # The provider may have rotated the refresh token in an answer nobody read:
            # say so in the row, so that a refusal of the next refresh is understood.
            reason = f"{LOST_ANSWER} ({text})" if exc.answer_may_be_lost else text
            logger.warning("refresh of token %s failed transiently: %s", token.id, reason)
            await asyncio.shield(self.leases.record_transient_failure(token.id, self.owner, reason))
            await self.leases.store.audit.record(refresh_event(token, "E131011"))
            raise _unavailable(text, exc.retry_after) from None
        except SecretOriginError as exc:
            # Nothing was sent. The connection is fine; the app is not: it stays failing (and
            # backs off) until its client secret is given again for the new endpoint.
            measure("config")
            reason = oauth_error_text(exc)
            logger.warning("refresh of token %s not sent: %s", token.id, reason)
            await asyncio.shield(self.leases.record_transient_failure(token.id, self.owner, reason))
            await self.leases.store.audit.record(refresh_event(token, "E131010"))
            raise secret_origin_refused(reason) from None
        except OAuthConfigError as exc:
            measure("config")
            await asyncio.shield(self.leases.release(token.id, self.owner))
            await self.leases.store.audit.record(refresh_event(token, "E131014"))
            raise config_error(exc) from None
        except BaseException:
            await asyncio.shield(self.leases.release(token.id, self.owner))
            raise
        finally:
            renewing.cancel()
        measure("success")
        return await asyncio.shield(self.leases.store_refresh(token, answer))

    async def _keep_lease(self, token_id: str) -> None:
        """Renew the lease while the provider takes its time, so that no other server takes
        it over and sends the refresh token this one may be rotating."""
        while True:
            await asyncio.sleep(self.renew_every)
            try:
                held = await self.leases.renew(
                    token_id, self.owner, int(self.clock()) + self.lease_seconds
                )
            except Exception as exc:
                # The database may be back by the next renewal; the lease still runs.
                logger.warning(
                    "renewing the lease of token %s failed: %s", token_id, type(exc).__name__
                )
                continue
            if not held:
                return


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
    except SecretOriginError as exc:
        raise secret_origin_refused(oauth_error_text(exc)) from None
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
