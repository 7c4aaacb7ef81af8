"""Connect sessions: a single-use link that becomes a single-use OAuth ``state``.

Neither the link id nor the state is stored, only their SHA-256: a copy of the database cannot
be used to complete somebody's connection. Each step consumes its secret with one conditional
``UPDATE … RETURNING``, so a link opens once and a state completes once, however many
requests (or server processes) race with it. The PKCE verifier is sealed by the keyring.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

from ..audit import event
from ..secret import Secret
from .codec import lookup_hash
from .codec import now as _now
from .connections import dump_metadata
from .database import Row, Transaction
from .errors import TooManyPending
from .records import from_row
from .sealed import CONNECT_CODE_VERIFIER
from .store import Store

__all__ = ["ConnectSession", "ConnectSessions", "TooManyPending"]

# Sessions that ended (used up or expired) are deleted this long after: they hold nothing
# anyone can use, and a flood of links must not fill the table.
KEEP_ENDED = 60


# Sessions in progress (not completed, and the link — or, once opened, its state — not
# expired) of one project, and of one owner in it; with the soonest time one of them ends.
_COUNT_PROJECT = (
    "SELECT COUNT(*) AS n, MIN(CASE WHEN opened_at IS NULL THEN link_expires_at"
    " ELSE state_expires_at END) AS first_end FROM connect_sessions"
    " WHERE project_id = :project_id AND completed_at IS NULL"
    " AND ((opened_at IS NULL AND link_expires_at >= :now)"
    " OR (opened_at IS NOT NULL AND state_expires_at >= :now))"
)
_COUNT_OWNER = _COUNT_PROJECT + " AND user_id = :user_id AND tenant_id = :tenant_id"


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
    granted_by: str = ""
    # the metadata the connection gets (None: it keeps what it holds)
    metadata: dict[str, Any] | None = None


# A new session: its link's hash, never the link.
_INSERT = (
    "INSERT INTO connect_sessions (link_hash, project_id, app_id, user_id, tenant_id,"
    " external_identifier, scopes, redirect_url, created_at, link_expires_at,"
    " granted_by, metadata)"
    " VALUES (:link_hash, :project_id, :app_id, :user_id, :tenant_id,"
    " :external_identifier, :scopes, :redirect_url, :now, :expires, :granted_by,"
    " :metadata)"
)


async def _check_caps(tx: Transaction, params: dict[str, Any], *, owner: int, project: int) -> None:
    """:class:`TooManyPending` when the owner has ``owner`` sessions in progress, or the
    project ``project`` (0: no cap); its ``retry_after`` is when the first of them ends."""
    for scope, cap, sql in (("owner", owner, _COUNT_OWNER), ("project", project, _COUNT_PROJECT)):
        if not cap:
            continue
        row = await tx.fetchone(sql, params)
        if row is not None and int(row["n"]) >= cap:
            raise TooManyPending(scope, max(1, int(row["first_end"]) - params["now"] + 1))


class ConnectSessions:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.db = store.db
        self.codec = store.codec

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
        granted_by: str = "",
        max_per_owner: int = 0,
        max_per_project: int = 0,
        metadata: dict[str, Any] | None = None,
    ) -> str:
        """A new link id (256 random bits), valid ``ttl`` seconds; only its hash is stored.

        :class:`TooManyPending` when the owner (user, or tenant) already has
        ``max_per_owner`` sessions in progress, or the project ``max_per_project`` (0: no
        cap)."""
        link_id = secrets.token_urlsafe(32)
        now = _now()
        params = {"project_id": project_id, "user_id": user_id, "tenant_id": tenant_id, "now": now}
        async with self.db.transaction() as tx:
            await self._purge(tx, now)
            await _check_caps(tx, params, owner=max_per_owner, project=max_per_project)
            await tx.execute(
                _INSERT,
                {
                    "link_hash": lookup_hash(link_id),
                    "project_id": project_id,
                    "app_id": app_id,
                    "user_id": user_id,
                    "tenant_id": tenant_id,
                    "external_identifier": external_identifier,
                    "scopes": json.dumps(scopes),
                    "redirect_url": redirect_url,
                    "now": now,
                    "expires": now + ttl,
                    "granted_by": granted_by,
                    "metadata": None if metadata is None else dump_metadata(metadata),
                },
            )
            await self.store.audit.record_in(
                tx,
                event(
                    project_id, "connect.link", app_id=app_id, user_id=user_id, tenant_id=tenant_id
                ),
            )
        return link_id

    async def purge(self) -> int:
        """Delete sessions that ended (used up or expired) over a minute ago; how many."""
        async with self.db.transaction() as tx:
            return await self._purge(tx, _now())

    @staticmethod
    async def _purge(tx: Any, now: int) -> int:
        count: int = await tx.execute(
            "DELETE FROM connect_sessions WHERE (completed_at IS NOT NULL AND completed_at < :old)"
            " OR (link_expires_at < :old AND state_expires_at < :old)",
            {"old": now - KEEP_ENDED},
        )
        return count

    async def peek_link(self, link_id: str) -> ConnectSession | None:
        """The session behind a link that can still be opened (unused, unexpired)."""
        row = await self.db.fetchone(
            "SELECT * FROM connect_sessions WHERE link_hash = :link_hash"
            " AND opened_at IS NULL AND link_expires_at >= :now",
            {"link_hash": lookup_hash(link_id), "now": _now()},
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
        browser: str,
    ) -> bool:
        """Use the link up, binding a fresh state (and PKCE verifier) to it and to the
        ``browser`` secret (a cookie) the callback must come back with. False when the link is
        unknown, expired or already used — also for all but one of racing openers."""
        link_hash = lookup_hash(link_id)
        now = _now()
        verifier = self.codec.seal(code_verifier, self._aad(link_hash))
        async with self.db.transaction() as tx:
            count: int = await tx.execute(
                "UPDATE connect_sessions SET state_hash = :state_hash, code_verifier = :verifier,"
                " scopes = :scopes, redirect_uri = :redirect_uri, opened_at = :now,"
                " state_expires_at = :state_expires, browser_hash = :browser_hash"
                " WHERE link_hash = :link_hash AND opened_at IS NULL"
                " AND link_expires_at >= :now",
                {
                    "state_hash": lookup_hash(state),
                    "verifier": verifier,
                    "scopes": json.dumps(scopes),
                    "redirect_uri": redirect_uri,
                    "now": now,
                    "state_expires": now + state_ttl,
                    "browser_hash": lookup_hash(browser),
                    "link_hash": link_hash,
                },
            )
        return count == 1

    async def complete(self, state: str, browser: str) -> ConnectSession | None:
        """Use the state up: the session it belongs to, once, and only for the browser that
        opened the link (its cookie ``browser``); None when unknown, expired, already used or
        presented by another browser (see :meth:`other_browser`)."""
        async with self.db.transaction() as tx:
            row = await tx.fetchone(
                "UPDATE connect_sessions SET completed_at = :now"
                " WHERE state_hash = :state_hash AND completed_at IS NULL"
                " AND state_expires_at >= :now"
                # NULL: opened before browsers were bound (an upgrade mid-flow)
                " AND (browser_hash IS NULL OR browser_hash = :browser_hash) RETURNING *",
                {
                    "state_hash": lookup_hash(state),
                    "now": _now(),
                    "browser_hash": lookup_hash(browser),
                },
            )
        return self._session(row) if row else None

    async def other_browser(self, state: str) -> bool:
        """Whether ``state`` belongs to a session in progress (that another browser opened)."""
        row = await self.db.fetchone(
            "SELECT 1 AS one FROM connect_sessions WHERE state_hash = :state_hash"
            " AND completed_at IS NULL AND state_expires_at >= :now",
            {"state_hash": lookup_hash(state), "now": _now()},
        )
        return row is not None

    def _aad(self, link_hash: str) -> bytes:
        return CONNECT_CODE_VERIFIER.aad(link_hash)

    def _session(self, row: Row) -> ConnectSession:
        verifier = self.codec.open(row["code_verifier"], self._aad(row["link_hash"]))
        return from_row(
            ConnectSession,
            row,
            scopes=json.loads(row["scopes"]),
            code_verifier=verifier,
            metadata=None if row["metadata"] is None else json.loads(row["metadata"]),
        )
