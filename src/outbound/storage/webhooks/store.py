"""Webhook endpoints and their outbox of deliveries.

An endpoint's signing secret (``whsec_`` + base64 of 32 random bytes, the Standard Webhooks
form) is shown once when created or rotated and stored sealed with the keyring, bound to its
row. After a rotation the previous secret goes on signing alongside the new one until
``previous_until``, so receivers can switch over without losing a message.

Deliveries are claimed like refreshes (``leases.py``): one conditional ``UPDATE`` sets a claim
that only one server wins, for longer than a send may take; a server that dies holding one
leaves a claim that lapses, and another server takes the delivery over. At least once: a
delivery is marked delivered only after the receiver answered 2xx.

An event's payload is stored once (``webhook_events``) and each webhook's delivery refers to
it. Deliveries that ended — delivered, or failed for good — are deleted after the retention
(``prune``, ``--webhook-retention``), and an event with them once none refers to it.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence
from typing import Any

import orjson

from ...crypto import Keyring
from ...secret import Secret
from ..codec import now as _now
from ..connections import decode_cursor, encode_cursor
from ..database import Database
from ..errors import TooManyWebhooks
from ..sealed import sealed_column
from .records import (
    PRUNE_CHUNK,
    Attempt,
    Delivery,
    DeliveryPage,
    Due,
    Webhook,
    delivery_from_row,
    new_webhook_secret,
    webhook_from_row,
    with_payloads,
)

__all__ = ["WebhookStore"]


class WebhookStore:
    def __init__(self, db: Database, keyring: Keyring) -> None:
        self.db = db
        self.keyring = keyring

    def _aad(self, project_id: str, webhook_id: str, column: str) -> bytes:
        return sealed_column("webhooks", column).aad(project_id, webhook_id)

    # -- endpoints -----------------------------------------------------------------------

    async def create(
        self, project_id: str, url: str, events: list[str], *, limit: int
    ) -> tuple[Webhook, Secret]:
        """Add an endpoint, unless the project has ``limit`` already (:class:`TooManyWebhooks`).

        The count and the insert are one transaction that first writes the project's row: on
        PostgreSQL that row lock queues concurrent creates of one project behind each other
        (each then counts what the one before committed), on SQLite the write lock does — so
        racing creates never pass the cap together."""
        webhook_id = "wh_" + secrets.token_urlsafe(12)
        secret = new_webhook_secret()
        now = _now()
        async with self.db.transaction() as tx:
            await tx.execute(
                "UPDATE projects SET name = name WHERE id = :project_id",
                {"project_id": project_id},
            )
            row = await tx.fetchone(
                "SELECT COUNT(*) AS n FROM webhooks WHERE project_id = :project_id",
                {"project_id": project_id},
            )
            if row is not None and row["n"] >= limit:
                raise TooManyWebhooks(limit)
            await tx.execute(
                "INSERT INTO webhooks (id, project_id, url, events, secret, created_at,"
                " updated_at) VALUES (:id, :project_id, :url, :events, :secret, :now, :now)",
                {
                    "id": webhook_id,
                    "project_id": project_id,
                    "url": url,
                    "events": orjson.dumps(events).decode(),
                    "secret": self.keyring.seal(
                        secret.reveal(), self._aad(project_id, webhook_id, "secret")
                    ),
                    "now": now,
                },
            )
        return Webhook(webhook_id, project_id, url, events, now, now, 0), secret

    async def all(self, project_id: str) -> list[Webhook]:
        rows = await self.db.fetchall(
            "SELECT * FROM webhooks WHERE project_id = :project_id ORDER BY created_at, id",
            {"project_id": project_id},
        )
        return [webhook_from_row(row) for row in rows]

    async def get(self, project_id: str, webhook_id: str) -> Webhook | None:
        row = await self.db.fetchone(
            "SELECT * FROM webhooks WHERE project_id = :project_id AND id = :id",
            {"project_id": project_id, "id": webhook_id},
        )
        return webhook_from_row(row) if row else None

    async def delete(self, project_id: str, webhook_id: str) -> bool:
        async with self.db.transaction() as tx:
            # Deliveries and attempts go with it (ON DELETE CASCADE; SQLite's foreign keys
            # are on for every connection).
            count: int = await tx.execute(
                "DELETE FROM webhooks WHERE project_id = :project_id AND id = :id",
                {"project_id": project_id, "id": webhook_id},
            )
        return count > 0

    async def rotate(
        self, project_id: str, webhook_id: str, overlap: int
    ) -> tuple[Webhook, Secret] | None:
        """A new secret; the current one keeps signing alongside for ``overlap`` seconds."""
        secret = new_webhook_secret()
        now = _now()
        async with self.db.transaction() as tx:
            row = await tx.fetchone(
                "SELECT * FROM webhooks WHERE project_id = :project_id AND id = :id",
                {"project_id": project_id, "id": webhook_id},
            )
            if row is None:
                return None
            current = self.keyring.open(row["secret"], self._aad(project_id, webhook_id, "secret"))
            previous = self.keyring.seal(
                current, self._aad(project_id, webhook_id, "previous_secret")
            )
            row = await tx.fetchone(
                "UPDATE webhooks SET secret = :secret, previous_secret = :previous,"
                " previous_until = :until, updated_at = :now WHERE id = :id RETURNING *",
                {
                    "secret": self.keyring.seal(
                        secret.reveal(), self._aad(project_id, webhook_id, "secret")
                    ),
                    "previous": previous if overlap > 0 else None,
                    "until": now + overlap if overlap > 0 else 0,
                    "now": now,
                    "id": webhook_id,
                },
            )
        assert row is not None
        return webhook_from_row(row), secret

    async def signing_secrets(self, webhook_id: str, now: float) -> tuple[str, list[Secret]]:
        """The endpoint's URL and the secrets that sign a message sent now (current first)."""
        row = await self.db.fetchone("SELECT * FROM webhooks WHERE id = :id", {"id": webhook_id})
        if row is None:
            return "", []
        project_id = row["project_id"]
        current = self.keyring.open(row["secret"], self._aad(project_id, webhook_id, "secret"))
        found = [Secret(current)]
        if row["previous_secret"] is not None and row["previous_until"] > now:
            found.append(
                Secret(
                    self.keyring.open(
                        row["previous_secret"],
                        self._aad(project_id, webhook_id, "previous_secret"),
                    )
                )
            )
        return row["url"], found

    # -- deliveries ----------------------------------------------------------------------

    async def deliveries(
        self, project_id: str, webhook_id: str, limit: int, cursor: str | None
    ) -> DeliveryPage:
        """One page of the endpoint's deliveries, oldest first, each with its attempts."""
        sql = (
            "SELECT d.*, e.payload FROM webhook_deliveries d"
            " JOIN webhook_events e ON e.id = d.event_id"
            " WHERE d.project_id = :project_id AND d.webhook_id = :webhook_id"
        )
        params: dict[str, Any] = {
            "project_id": project_id,
            "webhook_id": webhook_id,
            "limit": limit + 1,
        }
        if cursor:
            created_at, delivery_id = decode_cursor(cursor)
            sql += " AND (d.created_at, d.id) > (:c_created, :c_id)"
            params.update(c_created=created_at, c_id=delivery_id)
        rows = await self.db.fetchall(sql + " ORDER BY d.created_at, d.id LIMIT :limit", params)
        page = [delivery_from_row(row) for row in rows[:limit]]
        attempts: dict[str, list[Attempt]] = {d.id: [] for d in page}
        if page:
            names = {f"d{i}": d.id for i, d in enumerate(page)}
            found = await self.db.fetchall(
                "SELECT * FROM webhook_attempts WHERE delivery_id IN"  # noqa: S608
                f" ({', '.join(':' + name for name in names)}) ORDER BY delivery_id, attempt",
                names,
            )
            for row in found:
                attempts[row["delivery_id"]].append(
                    Attempt(
                        row["attempt"],
                        row["started_at"],
                        row["duration_ms"],
                        row["status_code"],
                        row["error"],
                    )
                )
        last = page[-1] if len(rows) > limit and page else None
        return DeliveryPage(
            [(d, attempts[d.id]) for d in page],
            encode_cursor(last.created_at, last.id) if last else "",
        )

    async def retry(self, project_id: str, webhook_id: str, delivery_id: str) -> Delivery | None:
        """Send a delivery again now — a failed one, a pending one sooner, or a delivered one
        once more (receivers deduplicate on ``webhook-id``) — with a new retry window."""
        now = time.time()
        async with self.db.transaction() as tx:
            row = await tx.fetchone(
                "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = :now,"
                " retry_from = :now_s WHERE id = :id AND webhook_id = :webhook_id"
                " AND project_id = :project_id RETURNING *",
                {
                    "now": now,
                    "now_s": int(now),
                    "id": delivery_id,
                    "webhook_id": webhook_id,
                    "project_id": project_id,
                },
            )
            if row is None:
                return None
            [delivery] = await with_payloads(tx, [row])
        return delivery

    async def due(self, limit: int, *, per_webhook: int) -> list[Due]:
        """Up to ``limit`` pending deliveries that are due and that nobody holds, at most
        ``per_webhook`` of one webhook, in turns across projects — each project's oldest,
        then each one's second… — so a project with a backlog of thousands never queues
        another project's delivery behind it.

        A read, outside any write transaction: most passes find nothing, and a write
        transaction each time would take the SQLite write lock (and an fsync) for nothing.
        """
        rows = await self.db.fetchall(
            "SELECT id, project_id, webhook_id FROM (SELECT id, project_id, webhook_id,"
            " next_attempt_at, ROW_NUMBER() OVER"
            " (PARTITION BY project_id ORDER BY next_attempt_at, id) AS turn"
            " FROM (SELECT id, project_id, webhook_id, next_attempt_at, ROW_NUMBER() OVER"
            " (PARTITION BY webhook_id ORDER BY next_attempt_at, id) AS in_webhook"
            " FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= :now"
            " AND (claim_owner IS NULL OR claim_until < :now)) due"
            " WHERE in_webhook <= :per_webhook) turns"
            " ORDER BY turn, next_attempt_at, id LIMIT :limit",
            {"now": time.time(), "per_webhook": per_webhook, "limit": limit},
        )
        return [Due(row["id"], row["project_id"], row["webhook_id"]) for row in rows]

    async def claim(self, owner: str, lease: float, ids: Sequence[str]) -> list[Delivery]:
        """Claim the deliveries of ``ids`` that are still pending and that nobody holds, for
        ``lease`` seconds; the claimed ones, with their payloads.

        One short ``UPDATE`` whose ``WHERE`` repeats the claim condition: on PostgreSQL a
        concurrent claimer that waited on the row lock re-checks it against the committed
        row and skips it, on SQLite writers are serialised — either way one server wins each
        delivery.
        """
        if not ids:
            return []
        now = time.time()
        names = {f"d{i}": delivery_id for i, delivery_id in enumerate(ids)}
        async with self.db.transaction() as tx:
            claimed = await tx.fetchall(
                "UPDATE webhook_deliveries SET claim_owner = :owner, claim_until = :until"  # noqa: S608
                f" WHERE id IN ({', '.join(':' + name for name in names)})"
                " AND status = 'pending' AND (claim_owner IS NULL OR claim_until < :now)"
                " RETURNING *",
                {"owner": owner, "until": now + lease, "now": now, **names},
            )
            return await with_payloads(tx, claimed)

    async def record_attempt(
        self,
        delivery: Delivery,
        owner: str,
        attempt: Attempt,
        *,
        delivered: bool,
        next_attempt_at: float | None,
    ) -> None:
        """The outcome of one send: delivered, retry at ``next_attempt_at``, or (None) failed
        for good. Only while ``owner`` still holds the claim."""
        status = "delivered" if delivered else ("pending" if next_attempt_at else "failed")
        async with self.db.transaction() as tx:
            count = await tx.execute(
                "UPDATE webhook_deliveries SET status = :status, attempts = attempts + 1,"
                " next_attempt_at = :next, delivered_at = :delivered_at,"
                " claim_owner = NULL, claim_until = 0"
                " WHERE id = :id AND claim_owner = :owner",
                {
                    "status": status,
                    "next": next_attempt_at or delivery.next_attempt_at,
                    "delivered_at": _now() if delivered else None,
                    "id": delivery.id,
                    "owner": owner,
                },
            )
            if count:
                row = await tx.fetchone(
                    "SELECT attempts FROM webhook_deliveries WHERE id = :id", {"id": delivery.id}
                )
                assert row is not None
                await tx.execute(
                    "INSERT INTO webhook_attempts (delivery_id, attempt, started_at,"
                    " duration_ms, status_code, error) VALUES (:id, :attempt, :started,"
                    " :duration, :status_code, :error)",
                    {
                        "id": delivery.id,
                        "attempt": row["attempts"],
                        "started": attempt.started_at,
                        "duration": attempt.duration_ms,
                        "status_code": attempt.status_code,
                        "error": attempt.error,
                    },
                )

    async def prune(self, before: float, chunk: int = PRUNE_CHUNK) -> int:
        """Delete deliveries that ended (delivered, or failed for good) before ``before``,
        with their attempts, and the events no delivery refers to any more; in short
        transactions of ``chunk`` rows, so senders and writers are never held up long. How
        many deliveries were deleted."""
        deleted = 0
        while True:
            async with self.db.transaction() as tx:
                # next_attempt_at of an ended delivery is when its last attempt was made
                count: int = await tx.execute(
                    "DELETE FROM webhook_deliveries WHERE id IN (SELECT id FROM"
                    " webhook_deliveries WHERE status IN ('delivered', 'failed')"
                    " AND next_attempt_at < :before LIMIT :chunk)",
                    {"before": before, "chunk": chunk},
                )
            deleted += count
            if count < chunk:
                break
        while True:
            async with self.db.transaction() as tx:
                count = await tx.execute(
                    "DELETE FROM webhook_events WHERE id IN (SELECT e.id FROM webhook_events e"
                    " WHERE NOT EXISTS (SELECT 1 FROM webhook_deliveries d"
                    " WHERE d.event_id = e.id) LIMIT :chunk)",
                    {"chunk": chunk},
                )
            if count < chunk:
                break
        return deleted
