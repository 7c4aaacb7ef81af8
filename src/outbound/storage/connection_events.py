"""Where a connection changes state: the status columns and the webhook outbox, together.

Every function here runs inside the caller's write transaction — the one that stores the
refresh, the upload, the refusal or the delete — and adds the webhook events that change
implies to the outbox (``webhook_events``, one row per event, and ``webhook_deliveries``, one
small row per subscribed webhook that refers to it). So an event is
written exactly when its change commits: a crash loses both or neither, and the senders
(``server/background/webhook_delivery.py``) deliver what is there.

Events (Standard Webhooks payload ``{"type", "timestamp", "data"}``; ``data`` describes the
connection, never a token):

- ``connection.created`` / ``connection.updated``: a token stored for a new owner / stored
  again for an owner that had one (re-consent, new upload) or refreshed with other scopes;
- ``connection.refresh_failing``: refreshes have failed transiently for ``failing_after``
  seconds (sent once, at the first failure past that mark);
- ``connection.recovered``: a refresh succeeded after ``refresh_failing`` was sent;
- ``connection.reconnect_required``: the provider refused the refresh token;
- ``connection.deleted``;
- ``connection.batch``: instead of the events above when one change touches more than
  ``BATCH_AFTER`` connections of a project (``data``: ``eventType``, ``count``, the
  ``connections`` it touched — ids, app, user, tenant — and ``truncated``);
- ``audit.checkpoint``: the project's audit chain position ``{seq, hash}``
  (``audit_checkpoints.py``), only to webhooks that subscribe to it by name.

Background rounds back off from a failing token: after the n-th transient failure in a row it
is not tried again for ``min(BACKOFF_CAP, BACKOFF_BASE * 2**(n-1))`` seconds, half of it
random (jitter), so a provider that is down is not asked for every failing token in every
round and healthy tokens go first.
"""

from __future__ import annotations

import random
import secrets
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Literal, get_args

import orjson

from .connections import Connection, connection_from_row
from .database import Row, Transaction

__all__ = [
    "BACKOFF_BASE",
    "BACKOFF_CAP",
    "BATCH_AFTER",
    "BATCH_EVENT",
    "DEFAULT_EVENT_TYPES",
    "EVENT_TYPES",
    "EventType",
    "backoff_seconds",
    "connections_deleted",
    "connections_stored",
    "enqueue",
    "enqueue_project_event",
    "refresh_failed",
    "refresh_refused",
    "refresh_succeeded",
]

# The events a webhook may subscribe to: the API's schema (a Literal), the CLI's choices and
# the console's checkboxes all come from this one list.
EventType = Literal[
    "connection.created",
    "connection.updated",
    "connection.refresh_failing",
    "connection.recovered",
    "connection.reconnect_required",
    "connection.deleted",
    "audit.checkpoint",
]
EVENT_TYPES: tuple[str, ...] = get_args(EventType)
# what a webhook created without a list of events receives
DEFAULT_EVENT_TYPES: tuple[str, ...] = tuple(e for e in EVENT_TYPES if e.startswith("connection."))

BACKOFF_BASE = 30
BACKOFF_CAP = 3600

# A change of more than BATCH_AFTER connections of one project at once (a batch upload of up
# to 1,000 tokens, an app deleted with its connections) is told by one event, not one per
# connection: the outbox grows by one event per change, not by connections times webhooks. It
# goes to the webhooks subscribed to the change's own type and lists the first BATCH_LISTED.
BATCH_EVENT = "connection.batch"
BATCH_AFTER = 10
BATCH_LISTED = 1000


def backoff_seconds(failures: int) -> float:
    """How long background rounds leave a token alone after ``failures`` transient failures
    in a row: exponential, capped, with "equal jitter" (half fixed, half random)."""
    delay: float = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** min(failures - 1, 20))
    return delay / 2 + random.uniform(0, delay / 2)


def _new_id(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(16)


def _timestamp(occurred: float) -> str:
    return datetime.fromtimestamp(occurred, UTC).isoformat().replace("+00:00", "Z")


def _payload(event_type: str, connection: Connection, occurred: float) -> bytes:
    return orjson.dumps(
        {
            "type": event_type,
            "timestamp": _timestamp(occurred),
            "data": {
                "connectionId": connection.id,
                "appId": connection.app_id,
                "userId": connection.user_id,
                "tenantId": connection.tenant_id,
                "status": connection.status,
                "scopes": connection.scopes,
                "error": connection.last_refresh_error,
            },
        }
    )


def _batch_payload(event_type: str, group: list[Connection], occurred: float) -> bytes:
    """One ``connection.batch`` event for a change of more than ``BATCH_AFTER`` connections:
    the kind of change, how many, and who (the first ``BATCH_LISTED``)."""
    listed = group[:BATCH_LISTED]
    return orjson.dumps(
        {
            "type": BATCH_EVENT,
            "timestamp": _timestamp(occurred),
            "data": {
                "eventType": event_type,
                "count": len(group),
                "connections": [
                    {
                        "connectionId": c.id,
                        "appId": c.app_id,
                        "userId": c.user_id,
                        "tenantId": c.tenant_id,
                    }
                    for c in listed
                ],
                "truncated": len(group) > len(listed),
            },
        }
    )


async def enqueue(tx: Transaction, event_type: str, connections: Iterable[Connection]) -> int:
    """Add the events of one change to the outbox of every webhook of its project subscribed
    to ``event_type``: one event per connection, or one ``connection.batch`` event for all of
    them when the change touched more than ``BATCH_AFTER`` connections of the project (a batch
    upload, an app deleted with its connections). Each event's payload is stored once, and
    each webhook's delivery refers to it. How many deliveries were written."""
    by_project: dict[str, list[Connection]] = {}
    for connection in connections:
        by_project.setdefault(connection.project_id, []).append(connection)
    written = 0
    now = time.time()
    for project_id, group in by_project.items():
        targets = await _subscribers(tx, project_id, event_type)
        if not targets:
            continue
        if len(group) > BATCH_AFTER:
            events = [(BATCH_EVENT, _batch_payload(event_type, group, now))]
        else:
            events = [(event_type, _payload(event_type, c, now)) for c in group]
        for type_, payload in events:
            written += await _write_event(tx, project_id, type_, payload, targets, now)
    return written


async def enqueue_project_event(
    tx: Transaction, project_id: str, event_type: str, data: Mapping[str, Any]
) -> int:
    """One event about the project itself (not a connection) to every webhook of the project
    subscribed to ``event_type``; how many deliveries were written."""
    targets = await _subscribers(tx, project_id, event_type)
    if not targets:
        return 0
    now = time.time()
    payload = {"type": event_type, "timestamp": _timestamp(now), "data": data}
    return await _write_event(tx, project_id, event_type, orjson.dumps(payload), targets, now)


async def _subscribers(tx: Transaction, project_id: str, event_type: str) -> list[str]:
    """The ids of the project's webhooks subscribed to ``event_type``."""
    hooks = await tx.fetchall(
        "SELECT id, events FROM webhooks WHERE project_id = :project_id",
        {"project_id": project_id},
    )
    return [hook["id"] for hook in hooks if event_type in orjson.loads(hook["events"])]


async def _write_event(
    tx: Transaction,
    project_id: str,
    event_type: str,
    payload: bytes,
    targets: list[str],
    now: float,
) -> int:
    """The event stored once, and one pending delivery of it per webhook in ``targets``."""
    event_id = _new_id("msg_")
    await tx.execute(
        "INSERT INTO webhook_events (id, project_id, event_type, payload, created_at)"
        " VALUES (:id, :project_id, :event_type, :payload, :now_s)",
        {
            "id": event_id,
            "project_id": project_id,
            "event_type": event_type,
            "payload": payload.decode(),
            "now_s": int(now),
        },
    )
    for webhook_id in targets:
        await tx.execute(
            "INSERT INTO webhook_deliveries (id, webhook_id, project_id, event_id,"
            " event_type, status, attempts, next_attempt_at, retry_from, created_at)"
            " VALUES (:id, :webhook_id, :project_id, :event_id, :event_type,"
            " 'pending', 0, :now, :now_s, :now_s)",
            {
                "id": _new_id("whd_"),
                "webhook_id": webhook_id,
                "project_id": project_id,
                "event_id": event_id,
                "event_type": event_type,
                "now": now,
                "now_s": int(now),
            },
        )
    return len(targets)


async def connections_stored(
    tx: Transaction, created: Iterable[Connection], updated: Iterable[Connection]
) -> None:
    """Tokens stored by an upload or a connect (``put_tokens``)."""
    await enqueue(tx, "connection.created", created)
    await enqueue(tx, "connection.updated", updated)


async def connections_deleted(tx: Transaction, rows: Iterable[Row]) -> None:
    await enqueue(tx, "connection.deleted", (connection_from_row(row) for row in rows))


async def refresh_succeeded(tx: Transaction, row: Row, scopes_before: list[str]) -> None:
    """A refresh was stored (``row`` as it is now, failure columns not yet cleared)."""
    if row["failing_since"] or row["next_refresh_at"]:
        await tx.execute(
            "UPDATE tokens SET failing_since = 0, failure_count = 0, failing_notified = 0,"
            " next_refresh_at = 0 WHERE id = :id",
            {"id": row["id"]},
        )
    connection = connection_from_row({**row, "failing_since": 0})
    if row["failing_notified"]:
        await enqueue(tx, "connection.recovered", [connection])
    if sorted(connection.scopes) != sorted(scopes_before):
        await enqueue(tx, "connection.updated", [connection])


async def refresh_refused(tx: Transaction, row: Row) -> None:
    """The provider refused the refresh token (``row`` already marked needs_reconnect)."""
    if row["failing_since"] or row["next_refresh_at"]:
        await tx.execute(
            "UPDATE tokens SET failing_since = 0, failure_count = 0, failing_notified = 0,"
            " next_refresh_at = 0 WHERE id = :id",
            {"id": row["id"]},
        )
    await enqueue(tx, "connection.reconnect_required", [connection_from_row(row)])


async def refresh_failed(
    tx: Transaction,
    token_id: str,
    owner: str,
    error: str,
    *,
    failing_after: float,
    now: float | None = None,
) -> bool:
    """A refresh failed transiently: give the lease back, count the failure, back off, and
    once failures have lasted ``failing_after`` seconds send ``refresh_failing`` (once).
    False when ``owner`` no longer held the lease (nothing changed)."""
    now = time.time() if now is None else now
    row = await tx.fetchone(
        "UPDATE tokens SET refresh_claim_owner = NULL, refresh_claim_until = 0,"
        " failing_since = CASE WHEN failing_since = 0 THEN :now ELSE failing_since END,"
        " failure_count = failure_count + 1, last_refresh_error = :error"
        " WHERE id = :id AND refresh_claim_owner = :owner RETURNING *",
        {"now": int(now), "error": error, "id": token_id, "owner": owner},
    )
    if row is None:
        return False
    notify = not row["failing_notified"] and now - row["failing_since"] >= failing_after
    await tx.execute(
        "UPDATE tokens SET next_refresh_at = :next, failing_notified = :notified WHERE id = :id",
        {
            "next": int(now + backoff_seconds(row["failure_count"])),
            "notified": 1 if notify or row["failing_notified"] else 0,
            "id": token_id,
        },
    )
    if notify:
        await enqueue(tx, "connection.refresh_failing", [connection_from_row(row)])
    return True


def stored_connection(values: Mapping[str, Any], token_id: str, now: int) -> Connection:
    """The connection a ``put_tokens`` write leaves behind (active, no error)."""
    return Connection(
        id=token_id,
        project_id=values["project_id"],
        app_id=values["app_id"],
        user_id=values["user_id"],
        tenant_id=values["tenant_id"],
        status="active",
        scopes=orjson.loads(values["scopes"]),
        access_token_expiry=values["access_token_expiry"],
        last_refresh_time=now,
        last_refresh_error="",
        failing_since=0,
        failure_count=0,
        created_at=now,
    )
