"""The vault's storage operations, written once as SQL that both backends run.

Every secret column goes through the keyring on its way in and out; the associated data names
the row's identity and the column, so the database alone never yields a usable secret.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import string
import time
from collections.abc import Sequence
from typing import Any

import orjson

from ..audit import event
from ..crypto import Keyring, aad
from ..secret import Secret
from . import connection_events
from .audit_log import AuditLog
from .connection_events import stored_connection
from .database import Database, IntegrityError, Row
from .records import AppRecord, KeyGrant, ManagementKeyRecord, TokenRecord, TokenWrite

__all__ = ["Conflict", "Store", "new_id"]

_ALPHABET = string.ascii_letters + string.digits
_KEY_PREFIX = "obk_"
_KEY_ID_LEN = 12


class Conflict(Exception):
    """A write would break a uniqueness rule (duplicate app id or name)."""


def new_id(prefix: str, length: int = 22) -> str:
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(length))


def _now() -> int:
    return int(time.time())


class _SealedSecret(Secret):
    """A secret still sealed in its row; opened (and checked) on first ``reveal()``."""

    __slots__ = ("_aad", "_keyring", "_sealed")

    def __init__(self, keyring: Keyring, sealed: bytes, aad: str) -> None:
        # No super().__init__: this sits on the fetch hot path, and the value is not known yet.
        self._value = None  # type: ignore[assignment]
        self._keyring, self._sealed, self._aad = keyring, sealed, aad

    def reveal(self) -> str:
        if self._value is None:
            self._value = self._keyring.open(self._sealed, self._aad.encode())
        return self._value


def _app_ids(row: Row, column: str = "app_ids") -> tuple[str, ...]:
    raw = row[column]
    return tuple(json.loads(raw)) if raw else ()


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


class Store:
    def __init__(self, db: Database, keyring: Keyring) -> None:
        self.db = db
        self.keyring = keyring
        # Every change below is audited in its own transaction (``audit.record_in``).
        self.audit = AuditLog(db, keyring)
        # Live management keys seen since the database last changed: key id -> (project id,
        # digest, grant). Only for backends that can say cheaply and exactly whether anything was
        # committed since (SQLite's data_version); any commit anywhere — a revocation from
        # another process included — empties it, so a revoked key still stops at once.
        self._live_keys: dict[str, tuple[str, bytes, KeyGrant]] = {}
        self._live_keys_version: int | None = None

    # -- projects and management keys ------------------------------------------------------

    async def create_project(self, name: str = "") -> str:
        project_id = new_id("P", 27)
        async with self.db.transaction() as tx:
            await tx.execute(
                "INSERT INTO projects (id, name, created_at) VALUES (:id, :name, :now)",
                {"id": project_id, "name": name, "now": _now()},
            )
        return project_id

    async def project_exists(self, project_id: str) -> bool:
        row = await self.db.fetchone(
            "SELECT 1 AS one FROM projects WHERE id = :id", {"id": project_id}
        )
        return row is not None

    async def count_projects(self) -> int:
        row = await self.db.fetchone("SELECT COUNT(*) AS n FROM projects")
        return int(row["n"]) if row else 0

    async def create_management_key(
        self,
        project_id: str,
        name: str = "",
        *,
        fetch_only: bool = False,
        app_ids: Sequence[str] = (),
    ) -> tuple[str, str]:
        """A new key for the project: ``(key id, key)``. The key is returned once, never stored.

        A ``fetch_only`` key may only fetch tokens, of ``app_ids`` when given."""
        if app_ids and not fetch_only:
            raise ValueError("app ids limit a fetch-only key; give fetch_only=True")
        key_id = secrets.token_hex(_KEY_ID_LEN // 2)
        secret = secrets.token_urlsafe(32)  # 256 bits from the OS CSPRNG
        async with self.db.transaction() as tx:
            await tx.execute(
                "INSERT INTO management_keys (id, project_id, name, digest, created_at,"
                " fetch_only, app_ids) VALUES (:id, :project_id, :name, :digest, :now,"
                " :fetch_only, :app_ids)",
                {
                    "id": key_id,
                    "project_id": project_id,
                    "name": name,
                    "digest": _digest(secret),
                    "now": _now(),
                    "fetch_only": int(fetch_only),
                    "app_ids": json.dumps(sorted(set(app_ids))) if app_ids else "",
                },
            )
            await self.audit.record_in(tx, event(project_id, "key.create", detail=key_id))
        return key_id, f"{_KEY_PREFIX}{key_id}_{secret}"

    async def list_management_keys(self, project_id: str) -> list[ManagementKeyRecord]:
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

    async def revoke_management_key(self, project_id: str, key_id: str) -> bool:
        async with self.db.transaction() as tx:
            count: int = await tx.execute(
                "UPDATE management_keys SET revoked_at = :now"
                " WHERE id = :id AND project_id = :project_id AND revoked_at IS NULL",
                {"now": _now(), "id": key_id, "project_id": project_id},
            )
            if count:
                await self.audit.record_in(tx, event(project_id, "key.revoke", detail=key_id))
        return count > 0

    @staticmethod
    def _split_key(key: str) -> tuple[str, str] | None:
        """``obk_<key id>_<secret>`` → (key id, secret), or None when it cannot be a key."""
        end = len(_KEY_PREFIX) + _KEY_ID_LEN
        if not key.startswith(_KEY_PREFIX) or key[end : end + 1] != "_":
            return None
        return key[len(_KEY_PREFIX) : end], key[end + 1 :]

    @staticmethod
    def _key_matches(project_id: str, secret: str, live: tuple[str, bytes, KeyGrant]) -> bool:
        ok = hmac.compare_digest(live[1], _digest(secret))
        return ok and hmac.compare_digest(live[0].encode(), project_id.encode())

    @staticmethod
    def _live(key_id: str, row: Row, prefix: str = "") -> tuple[str, bytes, KeyGrant]:
        grant = KeyGrant(
            key_id,
            fetch_only=bool(row[prefix + "fetch_only"]),
            app_ids=frozenset(_app_ids(row, prefix + "app_ids")),
        )
        return row[prefix + "project_id"], bytes(row[prefix + "digest"]), grant

    async def authenticate(self, project_id: str, key: str) -> KeyGrant | None:
        """What ``key`` may do when it is a live management key of ``project_id``, else None
        (constant-time check)."""
        return await self._authenticate(project_id, key, self.db.change_counter())

    async def _authenticate(
        self, project_id: str, key: str, version: int | None
    ) -> KeyGrant | None:
        parts = self._split_key(key)
        if parts is None:
            return None
        key_id, secret = parts
        if version is None or version != self._live_keys_version:
            self._live_keys.clear()
            self._live_keys_version = version
        live = self._live_keys.get(key_id)
        if live is None:
            row = await self.db.fetchone(
                "SELECT project_id, digest, fetch_only, app_ids FROM management_keys"
                " WHERE id = :id AND revoked_at IS NULL",
                {"id": key_id},
            )
            if row is None:
                return None
            live = self._live(key_id, row)
            if version is not None and len(self._live_keys) < 10_000:
                self._live_keys[key_id] = live
        return live[2] if self._key_matches(project_id, secret, live) else None

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
            grant = await self._authenticate(project_id, key, version)
            if grant is None:
                return None
            if grant.fetch_only and not grant.may_fetch(app_id):
                return grant, []  # read nothing the key may not see
            return grant, await self.find_tokens(
                project_id, app_id, user_id, tenant_id, external_identifier
            )
        parts = self._split_key(key)
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
        live = self._live(key_id, rows[0], "key_")
        if not self._key_matches(project_id, secret, live):
            return None
        grant = live[2]
        if grant.fetch_only and not grant.may_fetch(app_id):
            return grant, []
        return grant, self._newest_first([row for row in rows if row["id"] is not None])

    # -- apps --------------------------------------------------------------------------------

    def _seal_client_secret(
        self, project_id: str, app_id: str, secret: Secret | None
    ) -> bytes | None:
        if secret is None:
            return None
        return self.keyring.seal(secret.reveal(), aad("apps", project_id, app_id, "client_secret"))

    def _app(self, row: Row) -> AppRecord:
        sealed = row["client_secret"]
        secret = None
        if sealed is not None:
            secret = Secret(
                self.keyring.open(
                    sealed, aad("apps", row["project_id"], row["id"], "client_secret")
                )
            )
        return AppRecord(
            project_id=row["project_id"],
            id=row["id"],
            name=row["name"],
            config=json.loads(row["config"]),
            client_secret=secret,
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )

    async def create_app(
        self,
        project_id: str,
        app_id: str,
        name: str,
        config: dict[str, Any],
        client_secret: Secret | None,
    ) -> AppRecord:
        now = _now()
        try:
            async with self.db.transaction() as tx:
                await tx.execute(
                    "INSERT INTO apps (project_id, id, name, config, client_secret, created_at,"
                    " updated_at) VALUES (:project_id, :id, :name, :config, :secret, :now, :now)",
                    {
                        "project_id": project_id,
                        "id": app_id,
                        "name": name,
                        "config": json.dumps(config),
                        "secret": self._seal_client_secret(project_id, app_id, client_secret),
                        "now": now,
                    },
                )
                await self.audit.record_in(tx, event(project_id, "app.create", app_id=app_id))
        except IntegrityError as exc:
            raise Conflict(str(exc)) from exc
        return AppRecord(project_id, app_id, name, config, client_secret, now, now)

    async def update_app(
        self,
        project_id: str,
        app_id: str,
        name: str,
        config: dict[str, Any],
        client_secret: Secret | None,
        keep_client_secret: bool,
    ) -> AppRecord | None:
        params: dict[str, Any] = {
            "project_id": project_id,
            "id": app_id,
            "name": name,
            "config": json.dumps(config),
            "now": _now(),
        }
        assignments = "name = :name, config = :config, updated_at = :now"
        if not keep_client_secret:
            assignments += ", client_secret = :secret"
            params["secret"] = self._seal_client_secret(project_id, app_id, client_secret)
        try:
            async with self.db.transaction() as tx:
                count = await tx.execute(
                    f"UPDATE apps SET {assignments} WHERE project_id = :project_id AND id = :id",  # noqa: S608
                    params,
                )
                if count:
                    await self.audit.record_in(tx, event(project_id, "app.update", app_id=app_id))
        except IntegrityError as exc:
            raise Conflict(str(exc)) from exc
        if not count:
            return None
        return await self.get_app(project_id, app_id)

    async def delete_app(self, project_id: str, app_id: str) -> list[TokenRecord] | None:
        """Delete the app and its tokens; returns the deleted tokens (for revocation), or None
        when there was no such app."""
        async with self.db.transaction() as tx:
            rows = await tx.fetchall(
                "SELECT * FROM tokens WHERE project_id = :project_id AND app_id = :app_id",
                {"project_id": project_id, "app_id": app_id},
            )
            await tx.execute(
                "DELETE FROM tokens WHERE project_id = :project_id AND app_id = :app_id",
                {"project_id": project_id, "app_id": app_id},
            )
            count = await tx.execute(
                "DELETE FROM apps WHERE project_id = :project_id AND id = :id",
                {"project_id": project_id, "id": app_id},
            )
            await connection_events.connections_deleted(tx, rows)
            if count:
                await self.audit.record_in(
                    tx,
                    *(self._token_event(row, "token.delete") for row in rows),
                    event(project_id, "app.delete", app_id=app_id),
                )
        if not count:
            return None
        return [self._token(row) for row in rows]

    async def get_app(self, project_id: str, app_id: str) -> AppRecord | None:
        row = await self.db.fetchone(
            "SELECT * FROM apps WHERE project_id = :project_id AND id = :id",
            {"project_id": project_id, "id": app_id},
        )
        return self._app(row) if row else None

    async def list_apps(self, project_id: str) -> list[AppRecord]:
        rows = await self.db.fetchall(
            "SELECT * FROM apps WHERE project_id = :project_id ORDER BY created_at, id",
            {"project_id": project_id},
        )
        return [self._app(row) for row in rows]

    async def get_app_type(self, project_id: str, app_id: str) -> str | None:
        row = await self.db.fetchone(
            "SELECT config FROM apps WHERE project_id = :project_id AND id = :id",
            {"project_id": project_id, "id": app_id},
        )
        if row is None:
            return None
        app_type: str = json.loads(row["config"]).get("appType", "oauth")
        return app_type

    # -- tokens ------------------------------------------------------------------------------

    @staticmethod
    def token_aad(
        project_id: str, app_id: str, user_id: str, tenant_id: str, external_id: str, column: str
    ) -> bytes:
        return aad("tokens", project_id, app_id, user_id, tenant_id, external_id, column)

    @staticmethod
    def _token_aad_prefix(row: Row) -> str:
        # token_aad() of this row minus the column, built once per row on the fetch hot path.
        return aad(
            "tokens",
            row["project_id"],
            row["app_id"],
            row["user_id"],
            row["tenant_id"],
            row["external_identifier"],
            "",
        ).decode()

    def _token(self, row: Row) -> TokenRecord:
        identity = self._token_aad_prefix(row)
        access = row["access_token"]
        refresh = row["refresh_token"]
        id_token = row["id_token"]
        return TokenRecord(
            id=row["id"],
            project_id=row["project_id"],
            app_id=row["app_id"],
            user_id=row["user_id"],
            tenant_id=row["tenant_id"],
            external_identifier=row["external_identifier"],
            scopes=orjson.loads(row["scopes"]),
            access_token=None
            if access is None
            else Secret(self.keyring.open(access, (identity + "access_token").encode())),
            # Most fetches hand out only the access token: the others open when first revealed.
            refresh_token=None
            if refresh is None
            else _SealedSecret(self.keyring, refresh, identity + "refresh_token"),
            id_token=None
            if id_token is None
            else _SealedSecret(self.keyring, id_token, identity + "id_token"),
            access_token_type=row["access_token_type"],
            access_token_expiry=row["access_token_expiry"],
            last_refresh_time=row["last_refresh_time"],
            last_refresh_error=row["last_refresh_error"],
            needs_reconnect=bool(row["needs_reconnect"]),
            token_sub=row["token_sub"],
            granted_by=row["granted_by"],
            extra=orjson.loads(row["extra"]),
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            version=row["version"],
        )

    @staticmethod
    def _token_event(row: Row, action: str, **fields: str) -> Any:
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

    def _seal(self, write: TokenWrite, column: str, value: Secret | None) -> bytes | None:
        if value is None:
            return None
        return self.keyring.seal(
            value.reveal(),
            self.token_aad(
                write.project_id,
                write.app_id,
                write.user_id,
                write.tenant_id,
                write.external_identifier,
                column,
            ),
        )

    async def find_tokens(
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
        return self._newest_first(await self.db.fetchall(sql, params))

    def _newest_first(self, rows: Sequence[Row]) -> list[TokenRecord]:
        if len(rows) > 1:
            # Almost every owner has one row: sorting here spares SQLite a temp B-tree.
            rows = sorted(rows, key=lambda row: (-row["updated_at"], row["id"]))
        return [self._token(row) for row in rows]

    async def get_token(self, project_id: str, token_id: str) -> TokenRecord | None:
        row = await self.db.fetchone(
            "SELECT * FROM tokens WHERE project_id = :project_id AND id = :id",
            {"project_id": project_id, "id": token_id},
        )
        return self._token(row) if row else None

    async def put_tokens(self, writes: list[TokenWrite], action: str = "token.upload") -> list[str]:
        """Store the tokens in one transaction (all or nothing); returns their ids. Each is
        audited as ``action`` (an upload, or a completed connect)."""
        now = _now()
        ids = []
        created, updated = [], []
        async with self.db.transaction() as tx:
            for write in writes:
                key = {
                    "project_id": write.project_id,
                    "app_id": write.app_id,
                    "user_id": write.user_id,
                    "tenant_id": write.tenant_id,
                    "external_identifier": write.external_identifier,
                }
                values = {
                    **key,
                    "scopes": json.dumps(write.scopes),
                    "access_token": self._seal(write, "access_token", write.access_token),
                    "refresh_token": self._seal(write, "refresh_token", write.refresh_token),
                    "id_token": self._seal(write, "id_token", write.id_token),
                    "access_token_type": write.access_token_type,
                    "access_token_expiry": write.access_token_expiry,
                    "token_sub": write.token_sub,
                    "granted_by": write.granted_by,
                    "extra": json.dumps(write.extra),
                    "now": now,
                }
                row = await tx.fetchone(
                    "UPDATE tokens SET scopes = :scopes, access_token = :access_token,"
                    " refresh_token = :refresh_token, id_token = :id_token,"
                    " access_token_type = :access_token_type,"
                    " access_token_expiry = :access_token_expiry, last_refresh_time = :now,"
                    " last_refresh_error = '', needs_reconnect = 0, token_sub = :token_sub,"
                    " granted_by = :granted_by, extra = :extra, updated_at = :now,"
                    # a refresh of the replaced token may be in flight: its lease no longer
                    # applies to this one (its write will see the new version and give way)
                    " refresh_claim_owner = NULL, refresh_claim_until = 0,"
                    " failing_since = 0, failure_count = 0, failing_notified = 0,"
                    " next_refresh_at = 0, version = version + 1"
                    " WHERE project_id = :project_id AND app_id = :app_id AND user_id = :user_id"
                    " AND tenant_id = :tenant_id AND external_identifier = :external_identifier"
                    " RETURNING id",
                    values,
                )
                if row is None:
                    token_id = new_id("tok_")
                    await tx.execute(
                        "INSERT INTO tokens (id, project_id, app_id, user_id, tenant_id,"
                        " external_identifier, scopes, access_token, refresh_token, id_token,"
                        " access_token_type, access_token_expiry, last_refresh_time, token_sub,"
                        " granted_by, extra, created_at, updated_at) VALUES (:id, :project_id,"
                        " :app_id, :user_id, :tenant_id, :external_identifier, :scopes,"
                        " :access_token, :refresh_token, :id_token, :access_token_type,"
                        " :access_token_expiry, :now, :token_sub, :granted_by, :extra, :now, :now)",
                        {**values, "id": token_id},
                    )
                    created.append(stored_connection(values, token_id, now))
                else:
                    token_id = row["id"]
                    updated.append(stored_connection(values, token_id, now))
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

    async def delete_token(self, project_id: str, token_id: str) -> TokenRecord | None:
        async with self.db.transaction() as tx:
            row = await tx.fetchone(
                "DELETE FROM tokens WHERE project_id = :project_id AND id = :id RETURNING *",
                {"project_id": project_id, "id": token_id},
            )
            if row is not None:
                await connection_events.connections_deleted(tx, [row])
                await self.audit.record_in(tx, self._token_event(row, "token.delete"))
        return self._token(row) if row else None

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
                await self.audit.record_in(
                    tx, *(self._token_event(row, "token.delete") for row in rows)
                )
        return [self._token(row) for row in rows]

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


async def bootstrap(store: Store) -> tuple[str, str] | None:
    """On a first start with an empty store, a project and its first management key.

    Several servers may start on one store at once: the count and the insert happen in one
    write transaction (SQLite ``BEGIN IMMEDIATE``; a table lock on PostgreSQL), so exactly one
    of them creates the project.
    """
    project_id = new_id("P", 27)
    key_id = secrets.token_hex(_KEY_ID_LEN // 2)
    secret = secrets.token_urlsafe(32)
    async with store.db.transaction() as tx:
        if store.db.url.is_postgres:
            await tx.execute("LOCK TABLE projects IN EXCLUSIVE MODE")
        row = await tx.fetchone("SELECT COUNT(*) AS n FROM projects")
        if row and row["n"]:
            return None
        now = _now()
        await tx.execute(
            "INSERT INTO projects (id, name, created_at) VALUES (:id, 'default', :now)",
            {"id": project_id, "now": now},
        )
        await tx.execute(
            "INSERT INTO management_keys (id, project_id, name, digest, created_at)"
            " VALUES (:id, :project_id, 'bootstrap', :digest, :now)",
            {"id": key_id, "project_id": project_id, "digest": _digest(secret), "now": now},
        )
        await store.audit.record_in(tx, event(project_id, "key.create", detail=key_id))
    return project_id, f"{_KEY_PREFIX}{key_id}_{secret}"
