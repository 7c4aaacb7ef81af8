"""Device-flow connects (RFC 8628): one row per device code, from ``pending`` to ``connected``
or ``failed``.

The device code is sealed (``sealed.DEVICE_CODE``): it is a bearer credential for the user's
grant until the flow ends. Polling is claimed like a refresh (the lease pattern of
``leases.py``): one conditional ``UPDATE … RETURNING`` takes the rows that are due and that no
live lease holds, writing this server's owner id and a deadline into them, so however many
servers run the poller, one device code is polled by one of them at a time. The poll's outcome
is written back only by the lease's owner (``WHERE claim_owner = :owner``), releasing it; a
server that died mid-poll leaves a lease that ends at ``claim_until``, and another server takes
the row over then.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from typing import Any

from ..audit import event
from ..secret import Secret
from .codec import new_id
from .codec import now as _now
from .connections import dump_metadata
from .database import Row
from .sealed import DEVICE_CODE
from .store import Store

__all__ = ["DeviceConnect", "DeviceConnects"]

# Ended rows are kept this long for the status endpoint, then deleted.
KEEP_ENDED = 3600


@dataclass(frozen=True)
class DeviceConnect:
    id: str
    project_id: str
    app_id: str
    user_id: str
    tenant_id: str
    external_identifier: str
    scopes: list[str]
    metadata: dict[str, Any] | None
    granted_by: str
    status: str
    error: str
    interval: int
    next_poll_at: int
    expires_at: int
    polls: int
    token_id: str
    created_at: int
    updated_at: int
    # only on rows claimed for polling
    device_code: Secret | None = None

    def to_wire(self) -> dict[str, Any]:
        """The status answer: never the device code (nor the user code: it was shown once)."""
        return {
            "id": self.id,
            "appId": self.app_id,
            "userId": self.user_id,
            "tenantId": self.tenant_id,
            "status": self.status,
            "error": self.error,
            "connectionId": self.token_id,
            "interval": self.interval,
            "polls": self.polls,
            "expiresTime": str(self.expires_at),
            "createdTime": str(self.created_at),
            "updatedTime": str(self.updated_at),
        }


class DeviceConnects:
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
        metadata: dict[str, Any] | None,
        granted_by: str,
        device_code: Secret,
        interval: int,
        expires_in: int,
    ) -> DeviceConnect:
        connect_id = new_id("dev_")
        now = _now()
        async with self.db.transaction() as tx:
            await tx.execute(
                "DELETE FROM device_connects WHERE status <> 'pending' AND updated_at < :old",
                {"old": now - KEEP_ENDED},
            )
            row = await tx.fetchone(
                "INSERT INTO device_connects (id, project_id, app_id, user_id, tenant_id,"
                " external_identifier, scopes, metadata, granted_by, device_code, status,"
                " poll_interval, next_poll_at, expires_at, created_at, updated_at) VALUES"
                " (:id, :project_id, :app_id, :user_id, :tenant_id, :external_identifier,"
                " :scopes, :metadata, :granted_by, :device_code, 'pending', :interval,"
                " :next_poll_at, :expires_at, :now, :now) RETURNING *",
                {
                    "id": connect_id,
                    "project_id": project_id,
                    "app_id": app_id,
                    "user_id": user_id,
                    "tenant_id": tenant_id,
                    "external_identifier": external_identifier,
                    "scopes": json.dumps(scopes),
                    "metadata": None if metadata is None else dump_metadata(metadata),
                    "granted_by": granted_by,
                    "device_code": self.codec.seal(
                        device_code, DEVICE_CODE.aad(project_id, connect_id)
                    ),
                    "interval": interval,
                    # §3.5: the client waits at least the interval before its first poll
                    "next_poll_at": math.ceil(time.time() + interval),
                    "expires_at": now + expires_in,
                    "now": now,
                },
            )
            await self.store.audit.record_in(
                tx,
                event(
                    project_id,
                    "connect.link",
                    app_id=app_id,
                    user_id=user_id,
                    tenant_id=tenant_id,
                    detail="device",
                ),
            )
        assert row is not None
        return self._connect(row)

    async def get(self, project_id: str, connect_id: str) -> DeviceConnect | None:
        row = await self.db.fetchone(
            "SELECT * FROM device_connects WHERE project_id = :project_id AND id = :id",
            {"project_id": project_id, "id": connect_id},
        )
        return self._connect(row) if row else None

    async def claim_due(self, owner: str, lease_seconds: int, limit: int) -> list[DeviceConnect]:
        """Take the poll lease of up to ``limit`` pending rows that are due and not leased
        (one statement: racing servers each get other rows); their device codes opened."""
        now = _now()
        async with self.db.transaction() as tx:
            rows = await tx.fetchall(
                "UPDATE device_connects SET claim_owner = :owner, claim_until = :until"
                " WHERE id IN (SELECT id FROM device_connects WHERE status = 'pending'"
                " AND next_poll_at <= :now AND claim_until < :now"
                " ORDER BY next_poll_at LIMIT :limit)"
                # again on the row as it is now: a racing server's lease is not taken over
                " AND status = 'pending' AND claim_until < :now RETURNING *",
                {"owner": owner, "until": now + lease_seconds, "now": now, "limit": limit},
            )
        return [self._connect(row, opened=True) for row in rows]

    async def finish_poll(
        self,
        connect: DeviceConnect,
        owner: str,
        *,
        status: str = "pending",
        error: str = "",
        interval: int | None = None,
        next_poll_at: int = 0,
        token_id: str = "",
    ) -> bool:
        """Write one poll's outcome and release the lease; False when the lease was lost
        (it expired and another server took the row)."""
        now = _now()
        async with self.db.transaction() as tx:
            count: int = await tx.execute(
                "UPDATE device_connects SET status = :status, error = :error,"
                " poll_interval = :interval, next_poll_at = :next_poll_at, token_id = :token_id,"
                " polls = polls + 1, claim_owner = NULL, claim_until = 0, updated_at = :now"
                " WHERE id = :id AND claim_owner = :owner AND status = 'pending'",
                {
                    "status": status,
                    "error": error,
                    "interval": connect.interval if interval is None else interval,
                    "next_poll_at": next_poll_at,
                    "token_id": token_id,
                    "now": now,
                    "id": connect.id,
                    "owner": owner,
                },
            )
            if count and status == "failed":
                await self.store.audit.record_in(
                    tx,
                    event(
                        connect.project_id,
                        "connect.failed",
                        app_id=connect.app_id,
                        user_id=connect.user_id,
                        tenant_id=connect.tenant_id,
                        error_code=error,
                        detail="device",
                    ),
                )
        return count == 1

    def _connect(self, row: Row, *, opened: bool = False) -> DeviceConnect:
        code = (
            self.codec.open(row["device_code"], DEVICE_CODE.aad(row["project_id"], row["id"]))
            if opened
            else None
        )
        metadata = row["metadata"]
        return DeviceConnect(
            id=row["id"],
            project_id=row["project_id"],
            app_id=row["app_id"],
            user_id=row["user_id"],
            tenant_id=row["tenant_id"],
            external_identifier=row["external_identifier"],
            scopes=json.loads(row["scopes"]),
            metadata=None if metadata is None else json.loads(metadata),
            granted_by=row["granted_by"],
            status=row["status"],
            error=row["error"],
            interval=row["poll_interval"],
            next_poll_at=row["next_poll_at"],
            expires_at=row["expires_at"],
            polls=row["polls"],
            token_id=row["token_id"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            device_code=code,
        )
