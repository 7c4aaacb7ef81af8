"""The vault's store: its repositories over one database and one keyring.

Each concept has its own repository, written once as SQL that both backends run — projects
and management keys (``keys.py``), apps (``apps.py``), tokens (``tokens.py``) — and every
secret column is sealed and opened by one row codec (``codec.py``). :class:`Store` holds them
together and keeps the operations its callers use (server, CLI, tests) under their names.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..crypto import Keyring
from ..secret import Secret
from .apps import Apps, Conflict
from .audit_log import AuditLog
from .codec import RowCodec, new_id
from .database import Database
from .keys import Keys, key_matches, live_key, split_key
from .records import AppRecord, KeyGrant, ManagementKeyRecord, TokenRecord, TokenWrite
from .tokens import Tokens

__all__ = ["Conflict", "Store", "bootstrap", "new_id"]


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

    # -- projects and management keys ------------------------------------------------------

    async def create_project(self, name: str = "") -> str:
        return await self.keys.create_project(name)

    async def project_exists(self, project_id: str) -> bool:
        return await self.keys.project_exists(project_id)

    async def count_projects(self) -> int:
        return await self.keys.count_projects()

    async def create_management_key(
        self,
        project_id: str,
        name: str = "",
        *,
        fetch_only: bool = False,
        app_ids: Sequence[str] = (),
    ) -> tuple[str, str]:
        """A new key for the project: ``(key id, key)`` (see :meth:`Keys.create`)."""
        return await self.keys.create(project_id, name, fetch_only=fetch_only, app_ids=app_ids)

    async def list_management_keys(self, project_id: str) -> list[ManagementKeyRecord]:
        return await self.keys.all(project_id)

    async def revoke_management_key(self, project_id: str, key_id: str) -> bool:
        return await self.keys.revoke(project_id, key_id)

    async def authenticate(self, project_id: str, key: str) -> KeyGrant | None:
        """What ``key`` may do when it is a live management key of ``project_id``, else None
        (constant-time check)."""
        return await self.keys.authenticate(project_id, key)

    async def find_tokens_for_key(
        self,
        project_id: str,
        key: str,
        app_id: str,
        user_id: str,
        tenant_id: str,
        external_identifier: str | None = None,
    ) -> tuple[KeyGrant, list[TokenRecord]] | None:
        """:meth:`authenticate` and :meth:`find_tokens` together; None when the key is not a
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
        if not key_matches(project_id, secret, live):
            return None
        grant = live[2]
        if grant.fetch_only and not grant.may_fetch(app_id):
            return grant, []
        return grant, self.tokens.newest_first([row for row in rows if row["id"] is not None])

    # -- apps --------------------------------------------------------------------------------

    async def create_app(
        self,
        project_id: str,
        app_id: str,
        name: str,
        config: dict[str, Any],
        client_secret: Secret | None,
    ) -> AppRecord:
        return await self.apps.create(project_id, app_id, name, config, client_secret)

    async def update_app(
        self,
        project_id: str,
        app_id: str,
        name: str,
        config: dict[str, Any],
        client_secret: Secret | None,
        keep_client_secret: bool,
    ) -> AppRecord | None:
        return await self.apps.update(
            project_id, app_id, name, config, client_secret, keep_client_secret
        )

    async def delete_app(self, project_id: str, app_id: str) -> list[TokenRecord] | None:
        """Delete the app and its tokens; returns the deleted tokens (for revocation), or None
        when there was no such app."""
        return await self.apps.delete(project_id, app_id)

    async def get_app(self, project_id: str, app_id: str) -> AppRecord | None:
        return await self.apps.get(project_id, app_id)

    async def list_apps(self, project_id: str) -> list[AppRecord]:
        return await self.apps.all(project_id)

    async def get_app_type(self, project_id: str, app_id: str) -> str | None:
        return await self.apps.app_type(project_id, app_id)

    # -- tokens ------------------------------------------------------------------------------

    async def find_tokens(
        self,
        project_id: str,
        app_id: str,
        user_id: str,
        tenant_id: str,
        external_identifier: str | None = None,
    ) -> list[TokenRecord]:
        """The tokens of one owner of one app, newest first."""
        return await self.tokens.find(project_id, app_id, user_id, tenant_id, external_identifier)

    async def get_token(self, project_id: str, token_id: str) -> TokenRecord | None:
        return await self.tokens.get(project_id, token_id)

    async def put_tokens(self, writes: list[TokenWrite], action: str = "token.upload") -> list[str]:
        """Store the tokens in one transaction (all or nothing); returns their ids."""
        return await self.tokens.put(writes, action)

    async def delete_token(self, project_id: str, token_id: str) -> TokenRecord | None:
        return await self.tokens.delete(project_id, token_id)

    async def delete_user_tokens(
        self, project_id: str, app_id: str | None, user_id: str | None
    ) -> list[TokenRecord]:
        return await self.tokens.delete_user_tokens(project_id, app_id, user_id)

    async def apps_with_user_token(
        self, project_id: str, user_id: str, tenant_id: str | None, now: int
    ) -> list[str]:
        """Apps where the user holds a usable token: not awaiting reconnection, and either
        unexpired or refreshable."""
        return await self.tokens.apps_with_user_token(project_id, user_id, tenant_id, now)


async def bootstrap(store: Store) -> tuple[str, str] | None:
    """On a first start with an empty store, a project and its first management key (see
    :meth:`Keys.bootstrap`: exactly one of several servers starting at once creates them)."""
    return await store.keys.bootstrap()
