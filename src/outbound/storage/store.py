"""The vault's store: its repositories over one database and one keyring.

Each concept has its own repository, written once as SQL that both backends run — projects
and management keys (``keys.py``), apps (``apps.py``), tokens (``tokens.py``) — and every
secret column is sealed and opened by one row codec (``codec.py``). :class:`Store` holds them
together (``store.keys``, ``store.apps``, ``store.tokens``); the one query of its own is the
fetch path's key check joined with the token read, which spans two repositories.
"""

from __future__ import annotations

from ..crypto import Keyring
from .apps import Apps
from .audit_log import AuditLog
from .codec import RowCodec
from .database import Database
from .keys import Keys, key_matches, live_key, split_key
from .records import KeyGrant, TokenRecord
from .tokens import Tokens

__all__ = ["Store", "bootstrap"]


class Store:
    def __init__(self, db: Database, keyring: Keyring) -> None:
        self.db = db
        self.keyring = keyring
        self.codec = RowCodec(keyring)
        # Every change below is audited in its own transaction (``audit.record_in``).
        self.audit = AuditLog(db, keyring)
        self.keys = Keys(db, self.audit)
        self.apps = Apps(db, self.codec, self.audit)
        self.tokens = Tokens(db, self.codec, self.audit)

    async def find_tokens_for_key(
        self,
        project_id: str,
        key: str,
        app_id: str,
        user_id: str,
        tenant_id: str,
        external_identifier: str | None = None,
    ) -> tuple[KeyGrant, list[TokenRecord]] | None:
        """:meth:`Keys.authenticate` and :meth:`Tokens.find` together; None when the key is not a
        live key of ``project_id``.

        Where checking the key costs a round trip (PostgreSQL), both go in one statement:
        fetch-token is the request that matters, and a round trip is most of its cost there.
        """
        version = self.db.change_counter()
        if version is not None:  # the key check is answered from memory
            grant = await self.keys.authenticate_at(project_id, key, version)
            if grant is None:
                return None
            if grant.fetch_only and not grant.may_fetch(app_id):
                return grant, []  # read nothing the key may not see
            return grant, await self.tokens.find(
                project_id, app_id, user_id, tenant_id, external_identifier
            )
        parts = split_key(key)
        if parts is None:
            return None
        key_id, secret = parts
        sql = (
            "SELECT k.project_id AS key_project_id, k.digest AS key_digest,"
            " k.digest_kind AS key_digest_kind,"
            " k.fetch_only AS key_fetch_only, k.app_ids AS key_app_ids, t.*"
            " FROM management_keys k LEFT JOIN tokens t"
            " ON t.project_id = k.project_id AND t.app_id = :app_id"
            " AND t.user_id = :user_id AND t.tenant_id = :tenant_id"
        )
        params = {"key_id": key_id, "app_id": app_id, "user_id": user_id, "tenant_id": tenant_id}
        if external_identifier is not None:
            sql += " AND t.external_identifier = :external_identifier"
            params["external_identifier"] = external_identifier
        sql += " WHERE k.id = :key_id AND k.revoked_at IS NULL"
        rows = await self.db.fetchall(sql, params)
        if not rows:
            return None
        live = live_key(key_id, rows[0], "key_")
        digest_key = self.keys._digest_key or await self.keys.digest_key()
        if not key_matches(project_id, secret, live, digest_key):
            return None
        grant = live[2]
        if grant.fetch_only and not grant.may_fetch(app_id):
            return grant, []
        return grant, self.tokens.newest_first([row for row in rows if row["id"] is not None])


async def bootstrap(store: Store) -> tuple[str, str] | None:
    """On a first start with an empty store, a project and its first management key (see
    :meth:`Keys.bootstrap`: exactly one of several servers starting at once creates them)."""
    return await store.keys.bootstrap()
