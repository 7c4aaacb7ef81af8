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
import time
from dataclasses import dataclass
from typing import Any

from ..audit import AuditEvent, caller, event
from ..secrets import Secret
from .records import TokenRecord
from .store import Store

__all__ = ["Claim", "RefreshLeases", "RefreshedToken", "refresh_event"]


def _now() -> int:
    return int(time.time())


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


class RefreshLeases:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.db = store.db

    async def read(self, project_id: str, token_id: str) -> tuple[TokenRecord, Claim] | None:
        row = await self.db.fetchone(
            "SELECT * FROM tokens WHERE project_id = :project_id AND id = :id",
            {"project_id": project_id, "id": token_id},
        )
        if row is None:
            return None
        return self.store._token(row), Claim(row["refresh_claim_owner"], row["refresh_claim_until"])

    async def expiring(self, now: int, horizon: int, limit: int) -> list[tuple[str, str]]:
        """``(project_id, id)`` of up to ``limit`` tokens worth refreshing ahead of time,
        soonest expiry first: a refresh token, no reconnect pending, a known expiry at most
        ``horizon`` seconds away — and at most half its lifetime away, so a token that lives
        shorter than ``horizon`` is not refreshed on every round — and no live claim."""
        rows = await self.db.fetchall(
            "SELECT project_id, id FROM tokens"
            " WHERE refresh_token IS NOT NULL AND needs_reconnect = 0"
            " AND access_token_expiry > 0 AND access_token_expiry <= :horizon"
            " AND 2 * (access_token_expiry - :now) <= access_token_expiry - last_refresh_time"
            " AND (refresh_claim_owner IS NULL OR refresh_claim_until < :now)"
            " ORDER BY access_token_expiry LIMIT :limit",
            {"now": now, "horizon": now + horizon, "limit": limit},
        )
        return [(row["project_id"], row["id"]) for row in rows]

    async def idle(self, now: int, idle_before: int, limit: int) -> list[tuple[str, str]]:
        """``(project_id, id)`` of up to ``limit`` tokens whose refresh token has not been used
        since ``idle_before``, longest idle first (refresh tokens some providers let lapse)."""
        rows = await self.db.fetchall(
            "SELECT project_id, id FROM tokens"
            " WHERE refresh_token IS NOT NULL AND needs_reconnect = 0"
            " AND last_refresh_time < :idle_before"
            " AND (refresh_claim_owner IS NULL OR refresh_claim_until < :now)"
            " ORDER BY last_refresh_time LIMIT :limit",
            {"now": now, "idle_before": idle_before, "limit": limit},
        )
        return [(row["project_id"], row["id"]) for row in rows]

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

    async def release(self, token_id: str, owner: str) -> None:
        """Give a claim back without changing the token (the refresh failed transiently)."""
        async with self.db.transaction() as tx:
            await tx.execute(
                "UPDATE tokens SET refresh_claim_owner = NULL, refresh_claim_until = 0"
                " WHERE id = :id AND refresh_claim_owner = :owner",
                {"id": token_id, "owner": owner},
            )

    async def store_refresh(self, token: TokenRecord, result: RefreshedToken) -> TokenRecord | None:
        """Store a refresh of ``token`` in one transaction — new access token, rotated refresh
        token (or the old one when none came back), expiry, version + 1, claim cleared.

        None when the row changed since ``token`` was read (replaced by an upload or a new
        connection, or deleted): the caller re-reads instead.
        """
        now = _now()
        sealed = self._sealer(token)
        refresh_token = result.refresh_token or token.refresh_token
        id_token = result.id_token or token.id_token
        scopes = result.scopes if result.scopes is not None else token.scopes
        extra = {**token.extra, **result.extra}
        async with self.db.transaction() as tx:
            row = await tx.fetchone(
                "UPDATE tokens SET access_token = :access_token, refresh_token = :refresh_token,"
                " id_token = :id_token, access_token_type = :access_token_type,"
                " access_token_expiry = :expiry, scopes = :scopes, token_sub = :token_sub,"
                " extra = :extra, last_refresh_time = :now, last_refresh_error = '',"
                " updated_at = :now, version = version + 1,"
                " refresh_claim_owner = NULL, refresh_claim_until = 0"
                " WHERE id = :id AND version = :version RETURNING *",
                {
                    "access_token": sealed("access_token", result.access_token),
                    "refresh_token": sealed("refresh_token", refresh_token),
                    "id_token": sealed("id_token", id_token),
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
                await self.store.audit.record_in(tx, refresh_event(token))
        return self.store._token(row) if row is not None else None

    async def mark_needs_reconnect(self, token: TokenRecord, error: str) -> bool:
        """Record a permanent refusal by the provider — unless the row changed since ``token``
        was read (another server refreshed it meanwhile: its refresh token is not ours)."""
        async with self.db.transaction() as tx:
            count: int = await tx.execute(
                "UPDATE tokens SET needs_reconnect = 1, last_refresh_error = :error,"
                " updated_at = :now, refresh_claim_owner = NULL, refresh_claim_until = 0"
                " WHERE id = :id AND version = :version",
                {"error": error, "now": _now(), "id": token.id, "version": token.version},
            )
            if count == 1:
                await self.store.audit.record_in(tx, refresh_event(token, "E131010"))
        return count == 1

    def _sealer(self, token: TokenRecord) -> Any:
        def seal(column: str, value: Secret | None) -> bytes | None:
            if value is None:
                return None
            return self.store.keyring.seal(
                value.reveal(),
                self.store.token_aad(
                    token.project_id,
                    token.app_id,
                    token.user_id,
                    token.tenant_id,
                    token.external_identifier,
                    column,
                ),
            )

        return seal
