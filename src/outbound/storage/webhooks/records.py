"""What a webhook endpoint, a delivery and a delivery attempt are, as read from their rows."""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from typing import Any

import orjson

from ...secret import Secret
from ..database import Row, Transaction
from ..records import from_row

__all__ = [
    "PRUNE_CHUNK",
    "SECRET_PREFIX",
    "Attempt",
    "Delivery",
    "DeliveryPage",
    "Due",
    "Webhook",
    "delivery_from_row",
    "new_webhook_secret",
    "webhook_from_row",
    "with_payloads",
]

SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret
PRUNE_CHUNK = 1000


def new_webhook_secret() -> Secret:
    return Secret(SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode())


@dataclass(frozen=True)
class Webhook:
    id: str
    project_id: str
    url: str
    events: list[str]
    created_at: int
    updated_at: int
    previous_until: int

    def to_wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "url": self.url,
            "events": self.events,
            "createdTime": str(self.created_at),
            "updatedTime": str(self.updated_at),
            # while the previous secret still signs alongside the current one
            "previousSecretUntil": str(self.previous_until) if self.previous_until else "",
        }


@dataclass(frozen=True)
class Attempt:
    attempt: int
    started_at: float
    duration_ms: int
    status_code: int
    error: str

    def to_wire(self) -> dict[str, Any]:
        return {
            "attempt": self.attempt,
            "time": str(int(self.started_at)),
            "durationMs": self.duration_ms,
            "statusCode": self.status_code,
            "error": self.error,
        }


@dataclass(frozen=True)
class Delivery:
    id: str
    webhook_id: str
    project_id: str
    event_id: str
    event_type: str
    payload: str
    status: str
    attempts: int
    next_attempt_at: float
    retry_from: int
    created_at: int
    delivered_at: int | None

    def to_wire(self, attempts: list[Attempt] | None = None) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "id": self.id,
            "webhookId": self.webhook_id,
            "eventId": self.event_id,
            "type": self.event_type,
            "status": self.status,
            "attemptCount": self.attempts,
            "createdTime": str(self.created_at),
            "nextAttemptTime": str(int(self.next_attempt_at)) if self.status == "pending" else "",
            "deliveredTime": str(self.delivered_at) if self.delivered_at else "",
            "payload": orjson.loads(self.payload),
        }
        if attempts is not None:
            wire["attempts"] = [attempt.to_wire() for attempt in attempts]
        return wire


@dataclass(frozen=True)
class Due:
    """A delivery that is due, and whose it is (for the sender's per-project and
    per-webhook limits)."""

    id: str
    project_id: str
    webhook_id: str


@dataclass(frozen=True)
class DeliveryPage:
    deliveries: list[tuple[Delivery, list[Attempt]]]
    next_cursor: str


def webhook_from_row(row: Row) -> Webhook:
    return from_row(Webhook, row, events=orjson.loads(row["events"]))


def delivery_from_row(row: Row) -> Delivery:
    return from_row(Delivery, row)


async def with_payloads(tx: Transaction, rows: list[Row]) -> list[Delivery]:
    """The deliveries of ``rows`` (``webhook_deliveries`` rows) with their events' payloads."""
    if not rows:
        return []
    names = {f"e{i}": event_id for i, event_id in enumerate({row["event_id"] for row in rows})}
    found = await tx.fetchall(
        "SELECT id, payload FROM webhook_events WHERE id IN"  # noqa: S608
        f" ({', '.join(':' + name for name in names)})",
        names,
    )
    payloads = {row["id"]: row["payload"] for row in found}
    return [delivery_from_row({**row, "payload": payloads[row["event_id"]]}) for row in rows]
