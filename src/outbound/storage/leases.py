"""The refresh lease: how server processes sharing one database agree on who refreshes a token.

A refresher *claims* a token row with one conditional ``UPDATE`` — only when the row still has
the version it saw and no live claim — so exactly one process wins, on SQLite and PostgreSQL
alike, without holding a transaction open across the call to the provider. The winner then
stores the provider's answer in one transaction that bumps the version and clears the claim;
everyone else re-reads the row and uses that answer. A claim that outlives its deadline
(a crashed server) is free for the taking.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, NamedTuple

from ..audit import AuditEvent, caller, event
from ..secret import Secret
from . import connection_events
from .codec import now as _now
from .records import TokenRecord
from .store import Store

__all__ = [
    "Claim",
    "Condition",
    "Picked",
    "RefreshLeases",
    "RefreshedToken",
    "any_of",
    "due_for_refresh_ahead",
    "idle_for_refresh",
    "refresh_event",
]


class Condition(NamedTuple):
    """An SQL condition on a ``tokens`` row, with the parameters it names."""

    sql: str
    params: dict[str, Any]


def due_for_refresh_ahead(now: int, horizon: int) -> Condition:
    """The one rule for "due for refresh ahead": a round selects tokens by it, and applies it
    again to the row as it takes the lease (:meth:`RefreshLeases.claim_picked`), so a token that
    a fetch or another server refreshed in between is left alone.

    Due: a refresh token, no reconnect pending, a known expiry at most ``horizon`` seconds
    away — and at least half its lifetime gone. The second half matters for tokens that live
    no longer than the horizon: a fresh one already expires within it, and would otherwise be
    refreshed again on every round; with it, every token is refreshed once per lifetime, when
    half of it is left."""
    return Condition(
        "(refresh_token IS NOT NULL AND needs_reconnect = 0"
        " AND access_token_expiry > 0 AND access_token_expiry <= :ahead_until"
        " AND 2 * (access_token_expiry - :ahead_now) <= access_token_expiry - last_refresh_time"
        " AND next_refresh_at <= :ahead_now)",
        {"ahead_now": now, "ahead_until": now + horizon},
    )


def idle_for_refresh(now: int, idle_seconds: int) -> Condition:
    """Due for a keep-alive refresh: a refresh token, no reconnect pending, and not refreshed
    for ``idle_seconds`` (refresh tokens that some providers let lapse when unused)."""
    return Condition(
        "(refresh_token IS NOT NULL AND needs_reconnect = 0 AND last_refresh_time < :idle_before"
        " AND next_refresh_at <= :idle_now)",
        {"idle_before": now - idle_seconds, "idle_now": now},
    )


def any_of(*conditions: Condition) -> Condition:
    """Met when one of ``conditions`` is (their parameter names must differ); none: never."""
    if not conditions:
        return Condition("(1 = 0)", {})
    params: dict[str, Any] = {}
    for condition in conditions:
        params.update(condition.params)
    return Condition("(" + " OR ".join(c.sql for c in conditions) + ")", params)


class Picked(NamedTuple):
    """A token a round picked, with the version it had then."""

    project_id: str
    id: str
    version: int


def refresh_event(token: TokenRecord, error_code: str = "") -> AuditEvent:
    """The audit event of a refresh of ``token`` by the current caller; its detail says what
    set the refresh off (fetch, forceRefresh, background)."""
    return event(
        token.project_id,
        "token.refresh",
        app_id=token.app_id,
        user_id=token.user_id,
        tenant_id=token.tenant_id,
        token_id=token.id,
        error_code=error_code,
        detail=caller().trigger or "fetch",
    )


@dataclass(frozen=True)
class Claim:
    owner: str | None
    until: int

    def held(self, now: float) -> bool:
        # Whole seconds, as the database compares them in ``claim``.
        return self.owner is not None and self.until >= int(now)


@dataclass(frozen=True)
class RefreshedToken:
    """What a provider answered to a refresh; ``None`` fields keep what is stored."""

    access_token: Secret
    refresh_token: Secret | None
    id_token: Secret | None
    token_type: str
    expires_at: int
    scopes: list[str] | None
    subject: str
    extra: dict[str, Any]


def _fair(order: str, where: str) -> str:
    """Select ``(project_id, id, version)`` matching ``where``, fair per project, then per app
    within it: every project's first token, then every one's second, and so on, up to
    ``:limit``. Within a project its apps take turns (each app's first token by ``order``,
    then each one's second …), so neither a project with many apps nor an app with many
    tokens crowds the others out of a round; a project alone takes the whole round."""
    return (
        "SELECT project_id, id, version FROM (SELECT project_id, id, version, turn_order,"  # noqa: S608 - constant SQL
        " ROW_NUMBER() OVER (PARTITION BY project_id ORDER BY app_turn, turn_order, id)"
        " AS turn FROM (SELECT project_id, id, version, "
        f"{order} AS turn_order, ROW_NUMBER() OVER (PARTITION BY project_id, app_id"
        f" ORDER BY {order}, id) AS app_turn FROM tokens WHERE {where}) by_app) by_project"
        " ORDER BY turn, turn_order, id LIMIT :limit"
    )


class RefreshLeases:
    def __init__(self, store: Store, *, failing_after: float = 600) -> None:
        self.store = store
        self.db = store.db
        self.codec = store.codec
        # seconds of transient failures before connection.refresh_failing goes out
        self.failing_after = failing_after

    async def read(self, project_id: str, token_id: str) -> tuple[TokenRecord, Claim] | None:
        row = await self.db.fetchone(
            "SELECT * FROM tokens WHERE project_id = :project_id AND id = :id",
            {"project_id": project_id, "id": token_id},
        )
        if row is None:
            return None
        return self.codec.token(row), Claim(row["refresh_claim_owner"], row["refresh_claim_until"])

    async def expiring(self, now: int, horizon: int, limit: int) -> list[Picked]:
        """Up to ``limit`` tokens :func:`due_for_refresh_ahead` that nobody holds a live claim
        on. Taken fairly: round-robin across projects (then their apps), soonest expiry first,
        so one project's backlog cannot crowd the others out of a round."""
        return await self._pick_unclaimed(
            due_for_refresh_ahead(now, horizon), "access_token_expiry", now, limit
        )

    async def idle(self, now: int, idle_seconds: int, limit: int) -> list[Picked]:
        """Up to ``limit`` tokens :func:`idle_for_refresh` that nobody holds a live claim on,
        fairly across projects (then their apps), longest idle first."""
        return await self._pick_unclaimed(
            idle_for_refresh(now, idle_seconds), "last_refresh_time", now, limit
        )

    async def _pick_unclaimed(
        self, condition: Condition, order: str, now: int, limit: int
    ) -> list[Picked]:
        """Up to ``limit`` tokens matching ``condition`` that nobody holds a live claim on,
        taken by :func:`_fair` in ``order``."""
        rows = await self.db.fetchall(
            _fair(
                order,
                f"{condition.sql} AND (refresh_claim_owner IS NULL OR refresh_claim_until < :now)",
            ),
            {**condition.params, "now": now, "limit": limit},
        )
        return [Picked(row["project_id"], row["id"], row["version"]) for row in rows]

    async def claim_picked(
        self, picked: Picked, due: Condition, owner: str, until: int
    ) -> TokenRecord | None:
        """Take the lease on a token a round picked — only if nobody holds a live claim, its
        version is still the one the round read, and the row as it is now still meets ``due``:
        checked and claimed in one statement. The claimed row, or None (refreshed, replaced,
        claimed or deleted since, or no longer due)."""
        async with self.db.transaction() as tx:
            row = await tx.fetchone(
                "UPDATE tokens"  # noqa: S608 - fixed conditions, bound values
                " SET refresh_claim_owner = :owner, refresh_claim_until = :until"
                " WHERE project_id = :project_id AND id = :id AND version = :version"
                f" AND {due.sql}"
                " AND (refresh_claim_owner IS NULL OR refresh_claim_until < :now)"
                " RETURNING *",
                {
                    **due.params,
                    "owner": owner,
                    "until": until,
                    "project_id": picked.project_id,
                    "id": picked.id,
                    "version": picked.version,
                    "now": _now(),
                },
            )
        return self.codec.token(row) if row is not None else None

    async def claim(self, token: TokenRecord, owner: str, until: int) -> bool:
        """Claim the right to refresh ``token`` as it was read (same version), if nobody holds
        a live claim on it. True for exactly one of any number of concurrent claimers."""
        async with self.db.transaction() as tx:
            count: int = await tx.execute(
                "UPDATE tokens SET refresh_claim_owner = :owner, refresh_claim_until = :until"
                " WHERE id = :id AND version = :version AND needs_reconnect = 0"
                " AND (refresh_claim_owner IS NULL OR refresh_claim_until < :now)",
                {
                    "owner": owner,
                    "until": until,
                    "id": token.id,
                    "version": token.version,
                    "now": _now(),
                },
            )
        return count == 1

    async def record_transient_failure(self, token_id: str, owner: str, error: str) -> None:
        """Give the claim back after a transient failure, counting it toward the connection's
        ``refresh_failing`` status and the background rounds' backoff."""
        async with self.db.transaction() as tx:
            await connection_events.refresh_failed(
                tx, token_id, owner, error, failing_after=self.failing_after
            )

    async def release(self, token_id: str, owner: str, *, note: str | None = None) -> None:
        """Give a claim back without changing the token (the refresh failed transiently);
        ``note`` replaces ``last_refresh_error`` (an answer that may have been lost)."""
        async with self.db.transaction() as tx:
            await tx.execute(
                "UPDATE tokens SET refresh_claim_owner = NULL, refresh_claim_until = 0,"
                " last_refresh_error = COALESCE(:note, last_refresh_error)"
                " WHERE id = :id AND refresh_claim_owner = :owner",
                {"id": token_id, "owner": owner, "note": note},
            )

    async def renew(self, token_id: str, owner: str, until: int) -> bool:
        """Extend ``owner``'s claim on a token; False when it no longer holds one."""
        async with self.db.transaction() as tx:
            count: int = await tx.execute(
                "UPDATE tokens SET refresh_claim_until = :until"
                " WHERE id = :id AND refresh_claim_owner = :owner",
                {"id": token_id, "owner": owner, "until": until},
            )
        return count == 1

    async def store_refresh(self, token: TokenRecord, result: RefreshedToken) -> TokenRecord | None:
        """Store a refresh of ``token`` in one transaction — new access token, rotated refresh
        token (or the old one when none came back), expiry, version + 1, claim cleared. The
        secrets are sealed for that next version (their associated data names it): the write
        happens only if the row is still at ``token``'s version, so the version is known.

        None when the row changed since ``token`` was read (replaced by an upload or a new
        connection, or deleted): the caller re-reads instead.
        """
        now = _now()
        seal = self.codec.seal_token
        refresh_token = result.refresh_token or token.refresh_token
        id_token = result.id_token or token.id_token
        scopes = result.scopes if result.scopes is not None else token.scopes
        extra = {**token.extra, **result.extra}
        version = token.version + 1
        async with self.db.transaction() as tx:
            row = await tx.fetchone(
                "UPDATE tokens SET access_token = :access_token, refresh_token = :refresh_token,"
                " id_token = :id_token, access_token_type = :access_token_type,"
                " access_token_expiry = :expiry, scopes = :scopes, token_sub = :token_sub,"
                " extra = :extra, last_refresh_time = :now, last_refresh_error = '',"
                " updated_at = :now, version = :next_version,"
                " refresh_claim_owner = NULL, refresh_claim_until = 0"
                " WHERE id = :id AND version = :version RETURNING *",
                {
                    "access_token": seal(token, "access_token", result.access_token, version),
                    "refresh_token": seal(token, "refresh_token", refresh_token, version),
                    "id_token": seal(token, "id_token", id_token, version),
                    "next_version": version,
                    "access_token_type": result.token_type or token.access_token_type,
                    "expiry": result.expires_at,
                    "scopes": json.dumps(scopes),
                    "token_sub": token.token_sub or result.subject,
                    "extra": json.dumps(extra),
                    "now": now,
                    "id": token.id,
                    "version": token.version,
                },
            )
            if row is not None:
                await connection_events.refresh_succeeded(tx, row, token.scopes)
                await self.store.audit.record_in(tx, refresh_event(token))
        return self.codec.token(row) if row is not None else None

    async def mark_needs_reconnect(self, token: TokenRecord, error: str) -> bool:
        """Record a permanent refusal by the provider — unless the row changed since ``token``
        was read (another server refreshed it meanwhile: its refresh token is not ours)."""
        async with self.db.transaction() as tx:
            row = await tx.fetchone(
                "UPDATE tokens SET needs_reconnect = 1, last_refresh_error = :error,"
                " updated_at = :now, refresh_claim_owner = NULL, refresh_claim_until = 0"
                " WHERE id = :id AND version = :version RETURNING *",
                {"error": error, "now": _now(), "id": token.id, "version": token.version},
            )
            if row is not None:
                await connection_events.refresh_refused(tx, row)
                await self.store.audit.record_in(tx, refresh_event(token, "E131010"))
        return row is not None
