"""Operator console sessions, and the one-time sign-in links ``outbound console-link`` prints.

A session is a random secret in an HttpOnly cookie; the database keeps only its SHA-256, so a
copy of the database signs nobody in. Every server instance sees the same rows, so signing
out (or an idle or absolute expiry) ends the session everywhere at once. A session remembers
the management key it signed in with: revoking that key ends the session too.

A sign-in link is a row of the same table (``kind = 'link'``) that is used up by its first
sign-in.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from .codec import lookup_hash
from .codec import now as _now
from .database import Database

__all__ = [
    "ABSOLUTE_TTL",
    "IDLE_TTL",
    "LINK_TTL",
    "ConsoleSession",
    "ConsoleSessions",
]

IDLE_TTL = 30 * 60  # a session nobody used for this long is over
ABSOLUTE_TTL = 12 * 3600  # and none outlives a working day
LINK_TTL = 5 * 60
# last_seen_at is written at most this often: most page views cost no write
_TOUCH_EVERY = 60


@dataclass(frozen=True)
class ConsoleSession:
    project_id: str
    # the management key it signed in with ('' for a sign-in link of the CLI)
    key_id: str
    # the CSRF token every form of this session carries (not a credential on its own)
    csrf: str
    created_at: int
    last_seen_at: int

    @property
    def store_access(self) -> bool:
        """Started by ``outbound console-link``: its holder can open the store, so may do what
        the CLI does (manage keys), unlike a session signed in with a management key."""
        return self.key_id == ""


class ConsoleSessions:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def _insert(self, kind: str, project_id: str, key_id: str, ttl: int) -> str:
        secret = secrets.token_urlsafe(32)
        now = _now()
        async with self.db.transaction() as tx:
            # Ended and expired rows go as new ones come: the table stays small.
            await tx.execute(
                "DELETE FROM console_sessions WHERE expires_at < :now OR ended_at IS NOT NULL",
                {"now": now - IDLE_TTL},
            )
            await tx.execute(
                "INSERT INTO console_sessions (id_hash, kind, project_id, key_id, csrf,"
                " created_at, last_seen_at, expires_at) VALUES (:id_hash, :kind, :project_id,"
                " :key_id, :csrf, :now, :now, :expires_at)",
                {
                    "id_hash": lookup_hash(secret),
                    "kind": kind,
                    "project_id": project_id,
                    "key_id": key_id,
                    "csrf": secrets.token_urlsafe(24),
                    "now": now,
                    "expires_at": now + ttl,
                },
            )
        return secret

    async def start(self, project_id: str, key_id: str) -> str:
        """A new session; the secret for the cookie."""
        return await self._insert("session", project_id, key_id, ABSOLUTE_TTL)

    async def new_link(self, project_id: str) -> str:
        """A one-time sign-in secret, valid ``LINK_TTL`` seconds."""
        return await self._insert("link", project_id, "", LINK_TTL)

    async def use_link(self, secret: str) -> str | None:
        """Use up a sign-in link: its project, or None when it is unknown, used or expired."""
        now = _now()
        async with self.db.transaction() as tx:
            row = await tx.fetchone(
                "SELECT project_id FROM console_sessions WHERE id_hash = :id_hash"
                " AND kind = 'link' AND ended_at IS NULL AND expires_at >= :now",
                {"id_hash": lookup_hash(secret), "now": now},
            )
            if row is None:
                return None
            used = await tx.execute(
                "UPDATE console_sessions SET ended_at = :now WHERE id_hash = :id_hash"
                " AND ended_at IS NULL",
                {"id_hash": lookup_hash(secret), "now": now},
            )
        return str(row["project_id"]) if used else None

    async def peek_link(self, secret: str) -> bool:
        row = await self.db.fetchone(
            "SELECT 1 AS one FROM console_sessions WHERE id_hash = :id_hash AND kind = 'link'"
            " AND ended_at IS NULL AND expires_at >= :now",
            {"id_hash": lookup_hash(secret), "now": _now()},
        )
        return row is not None

    async def get(self, secret: str) -> ConsoleSession | None:
        """The live session of a cookie, its idle clock restarted; None when over (signed out,
        idle too long, too old, or its management key revoked)."""
        if not secret or len(secret) > 128:
            return None
        now = _now()
        row = await self.db.fetchone(
            "SELECT s.project_id, s.key_id, s.csrf, s.created_at, s.last_seen_at"
            " FROM console_sessions s WHERE s.id_hash = :id_hash AND s.kind = 'session'"
            " AND s.ended_at IS NULL AND s.expires_at >= :now AND s.last_seen_at >= :idle"
            " AND (s.key_id = '' OR EXISTS (SELECT 1 FROM management_keys k"
            " WHERE k.id = s.key_id AND k.project_id = s.project_id AND k.revoked_at IS NULL))",
            {"id_hash": lookup_hash(secret), "now": now, "idle": now - IDLE_TTL},
        )
        if row is None:
            return None
        if now - row["last_seen_at"] >= _TOUCH_EVERY:
            async with self.db.transaction() as tx:
                await tx.execute(
                    "UPDATE console_sessions SET last_seen_at = :now WHERE id_hash = :id_hash",
                    {"id_hash": lookup_hash(secret), "now": now},
                )
        return ConsoleSession(**row)

    async def end(self, secret: str) -> None:
        async with self.db.transaction() as tx:
            await tx.execute(
                "UPDATE console_sessions SET ended_at = :now WHERE id_hash = :id_hash"
                " AND ended_at IS NULL",
                {"id_hash": lookup_hash(secret), "now": _now()},
            )
