"""The tokens the vault holds: one row per (project, app, user or tenant, external identifier).

Rows are sealed and opened by the row codec (``codec.py``); a refresh of a stored token goes
through the refresh lease (``leases.py``), not here.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ..audit import AuditEvent, event
from . import connection_events
from .audit_log import AuditLog
from .codec import RowCodec, new_id, now
from .connection_events import stored_connection
from .connections import COLUMNS, Connection, connection_from_row, dump_metadata
from .database import Database, Row
from .records import TokenRecord, TokenWrite

__all__ = ["Tokens", "token_event"]

# A stored token about to be replaced: its version bumped first (which locks the row until the
# transaction ends), so that the new secrets are sealed for the version they are stored at.
_BUMP = (
    "UPDATE tokens SET version = version + 1"
    " WHERE project_id = :project_id AND app_id = :app_id AND user_id = :user_id"
    " AND tenant_id = :tenant_id AND external_identifier = :external_identifier"
    " RETURNING id, version"
)
# A stored token replaced by a new one (an upload, a completed connect) for the same owner.
_REPLACE = (
    "UPDATE tokens SET scopes = :scopes, access_token = :access_token,"
    " refresh_token = :refresh_token, id_token = :id_token,"
    " access_token_type = :access_token_type,"
    " access_token_expiry = :access_token_expiry, last_refresh_time = :now,"
    " last_refresh_error = :note, needs_reconnect = 0, token_sub = :token_sub,"
    " granted_by = :granted_by, extra = :extra, updated_at = :now,"
    # absent metadata (None) keeps the connection's: the official SDKs never send it
    " metadata = COALESCE(:metadata, metadata),"
    # a refresh of the replaced token may be in flight: its lease no longer
    # applies to this one (its write will see the new version and give way)
    " refresh_claim_owner = NULL, refresh_claim_until = 0,"
    " failing_since = 0, failure_count = 0, failing_notified = 0,"
    " next_refresh_at = 0 WHERE id = :id AND version = :version"
)
# The first token of an owner.
_INSERT = (
    "INSERT INTO tokens (id, project_id, app_id, user_id, tenant_id,"
    " external_identifier, scopes, access_token, refresh_token, id_token,"
    " access_token_type, access_token_expiry, last_refresh_time, token_sub,"
    " granted_by, extra, last_refresh_error, created_at, updated_at, metadata, version)"
    " VALUES (:id, :project_id, :app_id, :user_id, :tenant_id, :external_identifier,"
    " :scopes, :access_token, :refresh_token, :id_token, :access_token_type,"
    " :access_token_expiry, :now, :token_sub, :granted_by, :extra, :note,"
    " :now, :now, COALESCE(:metadata, '{}'), :version)"
)


def token_event(row: Row, action: str, **fields: str) -> AuditEvent:
    """The audit event of ``action`` on the token in ``row`` (its ids; never a secret)."""
    return event(
        row["project_id"],
        action,
        app_id=row["app_id"],
        user_id=row["user_id"],
        tenant_id=row["tenant_id"],
        token_id=row["id"],
        **fields,
    )


class Tokens:
    def __init__(self, db: Database, codec: RowCodec, audit: AuditLog) -> None:
        self.db = db
        self.codec = codec
        self.audit = audit

    async def find(
        self,
        project_id: str,
        app_id: str,
        user_id: str,
        tenant_id: str,
        external_identifier: str | None = None,
    ) -> list[TokenRecord]:
        """The tokens of one owner of one app, newest first."""
        sql = (
            "SELECT * FROM tokens WHERE project_id = :project_id AND app_id = :app_id"
            " AND user_id = :user_id AND tenant_id = :tenant_id"
        )
        params = {
            "project_id": project_id,
            "app_id": app_id,
            "user_id": user_id,
            "tenant_id": tenant_id,
        }
        if external_identifier is not None:
            sql += " AND external_identifier = :external_identifier"
            params["external_identifier"] = external_identifier
        return self.newest_first(await self.db.fetchall(sql, params))

    def newest_first(self, rows: Sequence[Row]) -> list[TokenRecord]:
        """The tokens in ``rows``, opened, the most recently updated first."""
        if len(rows) > 1:
            # Almost every owner has one row: sorting here spares SQLite a temp B-tree.
            rows = sorted(rows, key=lambda row: (-row["updated_at"], row["id"]))
        return [self.codec.token(row) for row in rows]

    async def get(self, project_id: str, token_id: str) -> TokenRecord | None:
        row = await self.db.fetchone(
            "SELECT * FROM tokens WHERE project_id = :project_id AND id = :id",
            {"project_id": project_id, "id": token_id},
        )
        return self.codec.token(row) if row else None

    async def put(self, writes: list[TokenWrite], action: str = "token.upload") -> list[str]:
        """Store the tokens in one transaction (all or nothing); returns their ids. Each is
        audited as ``action`` (an upload, or a completed connect).

        A replaced row's version is bumped first and its secrets sealed for that version after,
        in the same transaction, so the sealed values name the version they are stored at (an
        older value put back does not open); a new row starts at version 1."""
        at = now()
        ids = []
        created, updated = [], []
        async with self.db.transaction() as tx:
            for write in writes:
                bumped = await tx.fetchone(_BUMP, self._owner(write))
                if bumped is None:
                    token_id = new_id("tok_")
                    values = self._values(write, at, token_id, 1)
                    await tx.execute(_INSERT, values)
                    created.append(stored_connection(values, token_id, at))
                else:
                    token_id = bumped["id"]
                    values = self._values(write, at, token_id, int(bumped["version"]))
                    await tx.execute(_REPLACE, values)
                    updated.append(stored_connection(values, token_id, at))
                ids.append(token_id)
            await connection_events.connections_stored(tx, created, updated)
            await self.audit.record_in(
                tx,
                *(
                    event(
                        w.project_id,
                        action,
                        app_id=w.app_id,
                        user_id=w.user_id,
                        tenant_id=w.tenant_id,
                        token_id=token_id,
                    )
                    for w, token_id in zip(writes, ids, strict=True)
                ),
            )
        return ids

    @staticmethod
    def _owner(write: TokenWrite) -> dict[str, str]:
        """What names the row ``write`` goes to."""
        return {
            "project_id": write.project_id,
            "app_id": write.app_id,
            "user_id": write.user_id,
            "tenant_id": write.tenant_id,
            "external_identifier": write.external_identifier,
        }

    def _values(self, write: TokenWrite, at: int, token_id: str, version: int) -> dict[str, Any]:
        """The parameters of :data:`_REPLACE` and :data:`_INSERT` for ``write`` stored in the
        row ``token_id`` at ``version``, its secrets sealed for that version."""
        seal = self.codec.seal_token
        return {
            **self._owner(write),
            "id": token_id,
            "version": version,
            "scopes": json.dumps(write.scopes),
            "access_token": seal(write, "access_token", write.access_token, version),
            "refresh_token": seal(write, "refresh_token", write.refresh_token, version),
            "id_token": seal(write, "id_token", write.id_token, version),
            "access_token_type": write.access_token_type,
            "access_token_expiry": write.access_token_expiry,
            "token_sub": write.token_sub,
            "granted_by": write.granted_by,
            "extra": json.dumps(write.extra),
            "note": write.note,
            "metadata": None if write.metadata is None else dump_metadata(write.metadata),
            "now": at,
        }

    async def set_metadata(
        self, project_id: str, token_id: str, metadata: dict[str, Any]
    ) -> Connection | None:
        """Replace a connection's metadata (audited, without it); the connection as it is
        now, or None when the project has no such connection."""
        async with self.db.transaction() as tx:
            sql = (
                "UPDATE tokens SET metadata = :metadata"  # noqa: S608 - COLUMNS is constant
                f" WHERE project_id = :project_id AND id = :id RETURNING {COLUMNS}"
            )
            row = await tx.fetchone(
                sql,
                {"metadata": dump_metadata(metadata), "project_id": project_id, "id": token_id},
            )
            if row is not None:
                await self.audit.record_in(tx, token_event(row, "connection.metadata"))
        return connection_from_row(row) if row else None

    async def delete(self, project_id: str, token_id: str) -> TokenRecord | None:
        async with self.db.transaction() as tx:
            row = await tx.fetchone(
                "DELETE FROM tokens WHERE project_id = :project_id AND id = :id RETURNING *",
                {"project_id": project_id, "id": token_id},
            )
            if row is not None:
                await connection_events.connections_deleted(tx, [row])
                await self.audit.record_in(tx, token_event(row, "token.delete"))
        return self.codec.token(row) if row else None

    async def delete_user_tokens(
        self, project_id: str, app_id: str | None, user_id: str | None
    ) -> list[TokenRecord]:
        sql = "DELETE FROM tokens WHERE project_id = :project_id"
        params = {"project_id": project_id}
        if app_id is not None:
            sql += " AND app_id = :app_id"
            params["app_id"] = app_id
        if user_id is not None:
            sql += " AND user_id = :user_id"
            params["user_id"] = user_id
        else:
            # without a user, "a user's tokens" are still user tokens: tenant tokens stay
            sql += " AND user_id <> ''"
        async with self.db.transaction() as tx:
            rows = await tx.fetchall(sql + " RETURNING *", params)
            await connection_events.connections_deleted(tx, rows)
            if rows:
                await self.audit.record_in(tx, *(token_event(row, "token.delete") for row in rows))
        return [self.codec.token(row) for row in rows]

    async def apps_with_user_token(
        self, project_id: str, user_id: str, tenant_id: str | None, now: int
    ) -> list[str]:
        """Apps where the user holds a usable token: not awaiting reconnection, and either
        unexpired or refreshable."""
        sql = (
            "SELECT DISTINCT app_id FROM tokens WHERE project_id = :project_id"
            " AND user_id = :user_id AND needs_reconnect = 0"
            " AND (refresh_token IS NOT NULL OR access_token_expiry = 0"
            " OR access_token_expiry > :now)"
        )
        params: dict[str, Any] = {"project_id": project_id, "user_id": user_id, "now": now}
        if tenant_id is not None:
            sql += " AND tenant_id = :tenant_id"
            params["tenant_id"] = tenant_id
        rows = await self.db.fetchall(sql + " ORDER BY app_id", params)
        return [row["app_id"] for row in rows]
