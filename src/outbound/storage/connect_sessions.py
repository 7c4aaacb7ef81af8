"""Connect sessions: a single-use link that becomes a single-use OAuth ``state``.

Neither the link id nor the state is stored, only their SHA-256: a copy of the database cannot
be used to complete somebody's connection. Each step consumes its secret with one conditional
``UPDATE … RETURNING``, so a link opens once and a state completes once, however many
requests (or server processes) race with it. The PKCE verifier is sealed by the keyring.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import dataclass

from ..audit import event
from ..crypto import aad
from ..secrets import Secret
from .database import Row
from .store import Store

__all__ = ["ConnectSession", "ConnectSessions"]

# Sessions are kept a while after they end (for nothing but a clear "already used" answer).
_KEEP_ENDED = 24 * 3600


def _now() -> int:
    return int(time.time())


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True)
class ConnectSession:
    link_hash: str
    project_id: str
    app_id: str
    user_id: str
    tenant_id: str
    external_identifier: str
    scopes: list[str]
    redirect_url: str
    redirect_uri: str
    code_verifier: Secret | None


class ConnectSessions:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.db = store.db

    async def create(
        self,
        *,
        project_id: str,
        app_id: str,
        user_id: str,
        tenant_id: str,
        external_identifier: str,
        scopes: list[str],
        redirect_url: str,
        ttl: int,
    ) -> str:
        """A new link id (256 random bits), valid ``ttl`` seconds; only its hash is stored."""
        link_id = secrets.token_urlsafe(32)
        now = _now()
        async with self.db.transaction() as tx:
            await tx.execute(
                "DELETE FROM connect_sessions WHERE link_expires_at < :old"
                " AND state_expires_at < :old",
                {"old": now - _KEEP_ENDED},
            )
            await tx.execute(
                "INSERT INTO connect_sessions (link_hash, project_id, app_id, user_id, tenant_id,"
                " external_identifier, scopes, redirect_url, created_at, link_expires_at)"
                " VALUES (:link_hash, :project_id, :app_id, :user_id, :tenant_id,"
                " :external_identifier, :scopes, :redirect_url, :now, :expires)",
                {
                    "link_hash": _hash(link_id),
                    "project_id": project_id,
                    "app_id": app_id,
                    "user_id": user_id,
                    "tenant_id": tenant_id,
                    "external_identifier": external_identifier,
                    "scopes": json.dumps(scopes),
                    "redirect_url": redirect_url,
                    "now": now,
                    "expires": now + ttl,
                },
            )
            await self.store.audit.record_in(
                tx,
                event(
                    project_id, "connect.link", app_id=app_id, user_id=user_id, tenant_id=tenant_id
                ),
            )
        return link_id

    async def peek_link(self, link_id: str) -> ConnectSession | None:
        """The session behind a link that can still be opened (unused, unexpired)."""
        row = await self.db.fetchone(
            "SELECT * FROM connect_sessions WHERE link_hash = :link_hash"
            " AND opened_at IS NULL AND link_expires_at >= :now",
            {"link_hash": _hash(link_id), "now": _now()},
        )
        return self._session(row) if row else None

    async def open_link(
        self,
        link_id: str,
        *,
        state: str,
        code_verifier: Secret | None,
        scopes: list[str],
        redirect_uri: str,
        state_ttl: int,
    ) -> bool:
        """Use the link up, binding a fresh state (and PKCE verifier) to it. False when the
        link is unknown, expired or already used — also for all but one of racing openers."""
        link_hash = _hash(link_id)
        now = _now()
        verifier = None
        if code_verifier is not None:
            verifier = self.store.keyring.seal(code_verifier.reveal(), self._aad(link_hash))
        async with self.db.transaction() as tx:
            count: int = await tx.execute(
                "UPDATE connect_sessions SET state_hash = :state_hash, code_verifier = :verifier,"
                " scopes = :scopes, redirect_uri = :redirect_uri, opened_at = :now,"
                " state_expires_at = :state_expires"
                " WHERE link_hash = :link_hash AND opened_at IS NULL"
                " AND link_expires_at >= :now",
                {
                    "state_hash": _hash(state),
                    "verifier": verifier,
                    "scopes": json.dumps(scopes),
                    "redirect_uri": redirect_uri,
                    "now": now,
                    "state_expires": now + state_ttl,
                    "link_hash": link_hash,
                },
            )
        return count == 1

    async def complete(self, state: str) -> ConnectSession | None:
        """Use the state up: the session it belongs to, once; None when unknown, expired or
        already used."""
        async with self.db.transaction() as tx:
            row = await tx.fetchone(
                "UPDATE connect_sessions SET completed_at = :now"
                " WHERE state_hash = :state_hash AND completed_at IS NULL"
                " AND state_expires_at >= :now RETURNING *",
                {"state_hash": _hash(state), "now": _now()},
            )
        return self._session(row) if row else None

    def _aad(self, link_hash: str) -> bytes:
        return aad("connect_sessions", link_hash, "code_verifier")

    def _session(self, row: Row) -> ConnectSession:
        verifier = None
        if row["code_verifier"] is not None:
            verifier = Secret(
                self.store.keyring.open(bytes(row["code_verifier"]), self._aad(row["link_hash"]))
            )
        return ConnectSession(
            link_hash=row["link_hash"],
            project_id=row["project_id"],
            app_id=row["app_id"],
            user_id=row["user_id"],
            tenant_id=row["tenant_id"],
            external_identifier=row["external_identifier"],
            scopes=json.loads(row["scopes"]),
            redirect_url=row["redirect_url"],
            redirect_uri=row["redirect_uri"],
            code_verifier=verifier,
        )
