"""Projects and their management keys.

A key is ``obk_<key id>_<secret>``: the id is public (audit events name it), the secret is 256
bits from the OS CSPRNG and only a keyed digest of it, bound to the project and key id, is
stored (``key_digests.py``), so the database alone holds no usable key and a row written or
moved there without the master key matches no secret. Every key — the first one a new server
prints, one an operator creates — is made by :meth:`Keys.create` in the caller's transaction,
audited as ``key.create``.
"""

from __future__ import annotations

import hmac
import json
import secrets
from collections.abc import Sequence

from ..audit import event
from .audit_log import AuditLog
from .codec import new_id, now
from .database import Database, Row, Transaction
from .key_digests import KEYED, digest, load_digest_key
from .records import KeyGrant, ManagementKeyRecord

__all__ = ["Keys", "LiveKey", "key_matches", "live_key", "split_key"]

_KEY_PREFIX = "obk_"
_KEY_ID_LEN = 12

# A live key as checked: (project id, digest of its secret, what it may do).
LiveKey = tuple[str, bytes, KeyGrant]


def _app_ids(row: Row, column: str = "app_ids") -> tuple[str, ...]:
    raw = row[column]
    return tuple(json.loads(raw)) if raw else ()


def split_key(key: str) -> tuple[str, str] | None:
    """``obk_<key id>_<secret>`` → (key id, secret), or None when it cannot be a key."""
    end = len(_KEY_PREFIX) + _KEY_ID_LEN
    if not key.startswith(_KEY_PREFIX) or key[end : end + 1] != "_":
        return None
    return key[len(_KEY_PREFIX) : end], key[end + 1 :]


def key_matches(project_id: str, secret: str, live: LiveKey, digest_key: bytes) -> bool:
    """Whether ``secret`` is the live key's and the key is ``project_id``'s (constant-time)."""
    expected = digest(digest_key, project_id, live[2].key_id, secret)
    ok = hmac.compare_digest(live[1], expected)
    return ok and hmac.compare_digest(live[0].encode(), project_id.encode())


def live_key(key_id: str, row: Row, prefix: str = "") -> LiveKey:
    """The live key in a ``management_keys`` row (its columns named ``prefix`` + name). A row
    whose digest is not keyed matches no secret (see ``key_digests.py``)."""
    grant = KeyGrant(
        key_id,
        fetch_only=bool(row[prefix + "fetch_only"]),
        app_ids=frozenset(_app_ids(row, prefix + "app_ids")),
    )
    keyed = row[prefix + "digest_kind"] == KEYED
    return row[prefix + "project_id"], bytes(row[prefix + "digest"]) if keyed else b"", grant


class Keys:
    def __init__(self, db: Database, audit: AuditLog) -> None:
        self.db = db
        self.audit = audit
        self._digest_key: bytes | None = None
        # Live management keys seen since the database last changed: key id -> (project id,
        # digest, grant). Only for backends that can say cheaply and exactly whether anything was
        # committed since (SQLite's data_version); any commit anywhere — a revocation from
        # another process included — empties it, so a revoked key still stops at once.
        self._live_keys: dict[str, LiveKey] = {}
        self._live_keys_version: int | None = None

    async def digest_key(self) -> bytes:
        """The store's management key digest key (created on first use; ``key_digests.py``)."""
        if self._digest_key is None:
            async with self.db.transaction() as tx:
                self._digest_key = await load_digest_key(tx, self.audit.keyring)
        return self._digest_key

    # -- projects ----------------------------------------------------------------------------

    async def create_project(self, name: str = "") -> str:
        async with self.db.transaction() as tx:
            return await self._insert_project(tx, name)

    @staticmethod
    async def _insert_project(tx: Transaction, name: str) -> str:
        project_id = new_id("P", 27)
        await tx.execute(
            "INSERT INTO projects (id, name, created_at) VALUES (:id, :name, :now)",
            {"id": project_id, "name": name, "now": now()},
        )
        return project_id

    async def project_exists(self, project_id: str) -> bool:
        row = await self.db.fetchone(
            "SELECT 1 AS one FROM projects WHERE id = :id", {"id": project_id}
        )
        return row is not None

    async def projects(self) -> list[Row]:
        """Every project: ``id``, ``name``, ``created_at``, oldest first."""
        return await self.db.fetchall(
            "SELECT id, name, created_at FROM projects ORDER BY created_at, id"
        )

    async def bootstrap(self) -> tuple[str, str] | None:
        """On a first start with an empty store, a project and its first management key.

        Several servers may start on one store at once: the count and the insert happen in one
        write transaction (SQLite ``BEGIN IMMEDIATE``; a table lock on PostgreSQL), so exactly
        one of them creates the project.
        """
        async with self.db.transaction() as tx:
            if self.db.url.is_postgres:
                await tx.execute("LOCK TABLE projects IN EXCLUSIVE MODE")
            row = await tx.fetchone("SELECT COUNT(*) AS n FROM projects")
            if row and row["n"]:
                return None
            project_id = await self._insert_project(tx, "default")
            _, key = await self.create_in(tx, project_id, "bootstrap")
        return project_id, key

    # -- management keys ---------------------------------------------------------------------

    async def create(
        self,
        project_id: str,
        name: str = "",
        *,
        fetch_only: bool = False,
        app_ids: Sequence[str] = (),
    ) -> tuple[str, str]:
        """A new key for the project: ``(key id, key)``. The key is returned once, never stored.

        A ``fetch_only`` key may only fetch tokens, of ``app_ids`` when given."""
        async with self.db.transaction() as tx:
            return await self.create_in(
                tx, project_id, name, fetch_only=fetch_only, app_ids=app_ids
            )

    async def create_in(
        self,
        tx: Transaction,
        project_id: str,
        name: str,
        *,
        fetch_only: bool = False,
        app_ids: Sequence[str] = (),
    ) -> tuple[str, str]:
        """:meth:`create` in the transaction ``tx`` (of the project's creation, say)."""
        if app_ids and not fetch_only:
            raise ValueError("app ids limit a fetch-only key; give fetch_only=True")
        key_id = secrets.token_hex(_KEY_ID_LEN // 2)
        secret = secrets.token_urlsafe(32)  # 256 bits from the OS CSPRNG
        if self._digest_key is None:
            self._digest_key = await load_digest_key(tx, self.audit.keyring)
        await tx.execute(
            "INSERT INTO management_keys (id, project_id, name, digest, digest_kind, created_at,"
            " fetch_only, app_ids) VALUES (:id, :project_id, :name, :digest, :keyed, :now,"
            " :fetch_only, :app_ids)",
            {
                "id": key_id,
                "project_id": project_id,
                "name": name,
                "digest": digest(self._digest_key, project_id, key_id, secret),
                "keyed": KEYED,
                "now": now(),
                "fetch_only": int(fetch_only),
                "app_ids": json.dumps(sorted(set(app_ids))) if app_ids else "",
            },
        )
        await self.audit.record_in(tx, event(project_id, "key.create", detail=key_id))
        return key_id, f"{_KEY_PREFIX}{key_id}_{secret}"

    async def all(self, project_id: str) -> list[ManagementKeyRecord]:
        rows = await self.db.fetchall(
            "SELECT id, project_id, name, created_at, revoked_at, fetch_only, app_ids"
            " FROM management_keys WHERE project_id = :project_id ORDER BY created_at, id",
            {"project_id": project_id},
        )
        return [
            ManagementKeyRecord(
                **{**row, "fetch_only": bool(row["fetch_only"]), "app_ids": _app_ids(row)}
            )
            for row in rows
        ]

    async def revoke(self, project_id: str, key_id: str) -> bool:
        async with self.db.transaction() as tx:
            count: int = await tx.execute(
                "UPDATE management_keys SET revoked_at = :now"
                " WHERE id = :id AND project_id = :project_id AND revoked_at IS NULL",
                {"now": now(), "id": key_id, "project_id": project_id},
            )
            if count:
                await self.audit.record_in(tx, event(project_id, "key.revoke", detail=key_id))
        return count > 0

    async def authenticate(self, project_id: str, key: str) -> KeyGrant | None:
        """What ``key`` may do when it is a live management key of ``project_id``, else None
        (constant-time check)."""
        return await self.authenticate_at(project_id, key, self.db.change_counter())

    async def authenticate_at(
        self, project_id: str, key: str, version: int | None
    ) -> KeyGrant | None:
        """:meth:`authenticate` with the database's change counter as the caller read it
        (``Database.change_counter()``): with one, a key seen since is checked from memory."""
        parts = split_key(key)
        if parts is None:
            return None
        key_id, secret = parts
        if version is None or version != self._live_keys_version:
            self._live_keys.clear()
            self._live_keys_version = version
        live = self._live_keys.get(key_id)
        if live is None:
            row = await self.db.fetchone(
                "SELECT project_id, digest, digest_kind, fetch_only, app_ids FROM management_keys"
                " WHERE id = :id AND revoked_at IS NULL",
                {"id": key_id},
            )
            if row is None:
                return None
            live = live_key(key_id, row)
            if version is not None and len(self._live_keys) < 10_000:
                self._live_keys[key_id] = live
        digest_key = self._digest_key or await self.digest_key()
        return live[2] if key_matches(project_id, secret, live, digest_key) else None
