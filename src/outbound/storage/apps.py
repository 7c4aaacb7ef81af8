"""The apps of a project: a provider configuration (as stored wire fields) and its client
secret, sealed by the row codec."""

from __future__ import annotations

import json
from typing import Any

from ..audit import event
from ..secret import Secret
from . import connection_events
from .audit_log import AuditLog
from .codec import RowCodec, client_secret_aad, now, private_key_aad
from .database import Database, IntegrityError, Row
from .errors import Conflict
from .records import AppRecord, TokenRecord
from .tokens import token_event

__all__ = ["Apps", "Conflict"]


def _origins(stored: str | None) -> tuple[str, ...] | None:
    return None if stored is None else tuple(json.loads(stored))


def _origins_json(origins: tuple[str, ...] | None) -> str | None:
    return None if origins is None else json.dumps(sorted(origins))


class Apps:
    def __init__(self, db: Database, codec: RowCodec, audit: AuditLog) -> None:
        self.db = db
        self.codec = codec
        self.audit = audit

    def _app(self, row: Row) -> AppRecord:
        return AppRecord(
            project_id=row["project_id"],
            id=row["id"],
            name=row["name"],
            config=json.loads(row["config"]),
            client_secret=self.codec.open(
                row["client_secret"], client_secret_aad(row["project_id"], row["id"])
            ),
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            secret_origins=_origins(row["secret_origins"]),
            shared_callback=bool(row["shared_callback"]),
            private_key=self.codec.open(
                row["private_key"], private_key_aad(row["project_id"], row["id"])
            ),
        )

    async def create(
        self,
        project_id: str,
        app_id: str,
        name: str,
        config: dict[str, Any],
        client_secret: Secret | None,
        secret_origins: tuple[str, ...] | None = None,
        private_key: Secret | None = None,
    ) -> AppRecord:
        at = now()
        try:
            async with self.db.transaction() as tx:
                await tx.execute(
                    "INSERT INTO apps (project_id, id, name, config, client_secret, private_key,"
                    " secret_origins, created_at, updated_at) VALUES (:project_id, :id, :name,"
                    " :config, :secret, :private_key, :origins, :now, :now)",
                    {
                        "project_id": project_id,
                        "id": app_id,
                        "name": name,
                        "config": json.dumps(config),
                        "secret": self.codec.seal(
                            client_secret, client_secret_aad(project_id, app_id)
                        ),
                        "private_key": self.codec.seal(
                            private_key, private_key_aad(project_id, app_id)
                        ),
                        "origins": _origins_json(secret_origins),
                        "now": at,
                    },
                )
                await self.audit.record_in(tx, event(project_id, "app.create", app_id=app_id))
        except IntegrityError as exc:
            raise Conflict(str(exc)) from exc
        return AppRecord(
            project_id,
            app_id,
            name,
            config,
            client_secret,
            at,
            at,
            secret_origins,
            private_key=private_key,
        )

    async def update(
        self,
        project_id: str,
        app_id: str,
        name: str,
        config: dict[str, Any],
        client_secret: Secret | None,
        keep_client_secret: bool,
        secret_origins: tuple[str, ...] | None = None,
        shared_callback: bool = False,
        private_key: Secret | None = None,
        keep_private_key: bool = True,
    ) -> AppRecord | None:
        """Overwrite the app; ``secret_origins`` and ``shared_callback`` replace the stored
        ones (pass the stored ones along to keep them). The private key is replaced only
        when ``keep_private_key`` is false."""
        params: dict[str, Any] = {
            "project_id": project_id,
            "id": app_id,
            "name": name,
            "config": json.dumps(config),
            "origins": _origins_json(secret_origins),
            "shared": 1 if shared_callback else 0,
            "now": now(),
        }
        assignments = (
            "name = :name, config = :config, secret_origins = :origins,"
            " shared_callback = :shared, updated_at = :now"
        )
        if not keep_client_secret:
            assignments += ", client_secret = :secret"
            params["secret"] = self.codec.seal(client_secret, client_secret_aad(project_id, app_id))
        if not keep_private_key:
            assignments += ", private_key = :private_key"
            params["private_key"] = self.codec.seal(
                private_key, private_key_aad(project_id, app_id)
            )
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
        return await self.get(project_id, app_id)

    async def delete(self, project_id: str, app_id: str) -> list[TokenRecord] | None:
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
                    *(token_event(row, "token.delete") for row in rows),
                    event(project_id, "app.delete", app_id=app_id),
                )
        if not count:
            return None
        return [self.codec.token(row) for row in rows]

    async def get(self, project_id: str, app_id: str) -> AppRecord | None:
        row = await self.db.fetchone(
            "SELECT * FROM apps WHERE project_id = :project_id AND id = :id",
            {"project_id": project_id, "id": app_id},
        )
        return self._app(row) if row else None

    async def all(self, project_id: str) -> list[AppRecord]:
        rows = await self.db.fetchall(
            "SELECT * FROM apps WHERE project_id = :project_id ORDER BY created_at, id",
            {"project_id": project_id},
        )
        return [self._app(row) for row in rows]

    async def app_type(self, project_id: str, app_id: str) -> str | None:
        row = await self.db.fetchone(
            "SELECT config FROM apps WHERE project_id = :project_id AND id = :id",
            {"project_id": project_id, "id": app_id},
        )
        if row is None:
            return None
        app_type: str = json.loads(row["config"]).get("appType", "oauth")
        return app_type
