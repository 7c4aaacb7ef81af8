"""The audit tables: each project's chained events and its head (see ``audit/chain.py``).

Appending locks the project's head row (one upsert that returns it), links the new events to
it and moves it on, all inside the caller's transaction: an audited change and its event
commit together or not at all, and concurrent writers — other servers included — queue on the
head row, so a chain never forks.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from ..audit.chain import Link, StoredEvent, link, tag
from ..audit.events import AuditEvent
from ..crypto import Keyring
from .database import Database, Row, Transaction
from .records import from_row

__all__ = ["EventQuery", "append", "chain_of", "list_events", "projects_with_events", "prune"]

_COLUMNS = (
    "project_id",
    "seq",
    "time_ms",
    "actor",
    "action",
    "app_id",
    "user_id",
    "tenant_id",
    "token_id",
    "outcome",
    "error_code",
    "client",
    "request_id",
    "detail",
    "key_id",
    "mac",
)

# Take (and lock, until the transaction ends) the project's head, creating it on first use.
_LOCK_HEAD = (
    "INSERT INTO audit_heads (project_id, seq, mac, key_id, tag, anchor_seq, anchor_mac,"
    " anchor_key_id, anchor_tag) VALUES (:project_id, 0, :empty, '', :empty, 0, :empty, '',"
    " :empty) ON CONFLICT (project_id) DO UPDATE SET seq = audit_heads.seq"
    " RETURNING seq, mac, anchor_seq, anchor_mac, anchor_key_id, anchor_tag"
)


# events linked between two writes (see ``append``)
_SLICE = 500


def _mac_key(keyring: Keyring) -> tuple[str, bytes]:
    found = keyring.mac_key()
    assert found is not None  # the primary key is always there
    return found


async def append(tx: Transaction, keyring: Keyring, events: Sequence[AuditEvent]) -> int:
    """Link ``events`` to their projects' chains and store them (in ``tx``); how many."""
    by_project: dict[str, list[AuditEvent]] = {}
    for item in events:
        by_project.setdefault(item.project_id, []).append(item)
    key_id, key = _mac_key(keyring)
    for project_id, batch in by_project.items():
        head = await tx.fetchone(_LOCK_HEAD, {"project_id": project_id, "empty": b""})
        assert head is not None
        seq, mac = int(head["seq"]), bytes(head["mac"])
        # Linked and written a slice at a time: a second's fetch events linked in one go would
        # hold the event loop (and every fetch waiting on it) for tens of milliseconds.
        for start in range(0, len(batch), _SLICE):
            rows = []
            for item in batch[start : start + _SLICE]:
                seq += 1
                mac = link(key, mac, item, seq)
                rows.append(_row(item, seq, key_id, mac))
            await tx.executemany(_INSERT, rows)
        await tx.execute(
            "UPDATE audit_heads SET seq = :seq, mac = :mac, key_id = :key_id, tag = :tag"
            " WHERE project_id = :project_id",
            {
                "seq": seq,
                "mac": mac,
                "key_id": key_id,
                "tag": tag(key, "head", project_id, seq, mac),
                "project_id": project_id,
            },
        )
    return len(events)


_INSERT = (
    f"INSERT INTO audit_events ({', '.join(_COLUMNS)})"  # noqa: S608 - constant column names
    f" VALUES ({', '.join('?' for _ in _COLUMNS)})"
)


def _row(e: AuditEvent, seq: int, key_id: str, mac: bytes) -> tuple[Any, ...]:
    # in _COLUMNS order
    return (
        e.project_id,
        seq,
        e.time_ms,
        e.actor,
        e.action,
        e.app_id,
        e.user_id,
        e.tenant_id,
        e.token_id,
        e.outcome,
        e.error_code,
        e.client,
        e.request_id,
        e.detail,
        key_id,
        mac,
    )


def _event(row: Row) -> AuditEvent:
    return from_row(AuditEvent, row)


def _stored(row: Row) -> StoredEvent:
    return StoredEvent(int(row["seq"]), _event(row), row["key_id"], bytes(row["mac"]))


@dataclass(frozen=True)
class EventQuery:
    since_ms: int | None = None
    until_ms: int | None = None
    action: str | None = None
    app_id: str | None = None
    user_id: str | None = None
    after_seq: int = 0
    limit: int = 100


async def list_events(db: Database, project_id: str, query: EventQuery) -> list[StoredEvent]:
    """One page of a project's events, oldest first (by ``seq``: the order they were written)."""
    sql = "SELECT * FROM audit_events WHERE project_id = :project_id AND seq > :after"
    params: dict[str, Any] = {"project_id": project_id, "after": query.after_seq}
    for column, value, op in (
        ("time_ms", query.since_ms, ">="),
        ("time_ms", query.until_ms, "<"),
        ("action", query.action, "="),
        ("app_id", query.app_id, "="),
        ("user_id", query.user_id, "="),
    ):
        if value is not None:
            name = f"{column}_{len(params)}"
            sql += f" AND {column} {op} :{name}"
            params[name] = value
    sql += " ORDER BY seq LIMIT :limit"
    params["limit"] = query.limit
    # Filters are served by the (project_id, column, seq) indexes; a filter that matches few
    # of many rows still walks them, off the event loop.
    return [_stored(row) for row in await db.scan(sql, params)]


def _link(row: Row, prefix: str) -> Link:
    return Link(
        int(row[f"{prefix}seq"]),
        bytes(row[f"{prefix}mac"]),
        row[f"{prefix}key_id"],
        bytes(row[f"{prefix}tag"]),
    )


async def chain_of(
    db: Database, project_id: str, page: int = 5000
) -> tuple[Link | None, Link | None, AsyncIterator[StoredEvent]]:
    """A project's head and anchor, and all its events in ``seq`` order (read page by page).

    (``seq`` is part of the primary key; should someone drop that constraint to insert a
    duplicate, the ``time_ms, mac`` order still reads duplicates side by side.)"""
    head_row = await db.fetchone(
        "SELECT * FROM audit_heads WHERE project_id = :project_id", {"project_id": project_id}
    )
    head = _link(head_row, "") if head_row else None
    anchor = _link(head_row, "anchor_") if head_row else None

    async def events() -> AsyncIterator[StoredEvent]:
        after = -1
        while True:
            rows = await db.fetchall(
                "SELECT * FROM audit_events WHERE project_id = :project_id AND seq > :after"
                " ORDER BY seq, time_ms, mac LIMIT :limit",
                {"project_id": project_id, "after": after, "limit": page},
            )
            for row in rows:
                yield _stored(row)
            if len(rows) < page:
                return
            after = int(rows[-1]["seq"])

    return head, anchor, events()


async def projects_with_events(db: Database) -> list[str]:
    rows = await db.fetchall("SELECT project_id FROM audit_heads ORDER BY project_id")
    return [row["project_id"] for row in rows]


async def prune(db: Database, keyring: Keyring, cutoff_ms: int) -> int:
    """Delete every project's events older than ``cutoff_ms``, as a prefix of its chain, and
    move its anchor to the last deleted event so the rest still verifies. How many went."""
    key_id, key = _mac_key(keyring)
    total = 0
    for project_id in await projects_with_events(db):
        async with db.transaction() as tx:
            await tx.fetchone(_LOCK_HEAD, {"project_id": project_id, "empty": b""})
            last = await tx.fetchone(
                "SELECT seq, mac FROM audit_events WHERE project_id = :project_id"
                " AND time_ms < :cutoff ORDER BY seq DESC LIMIT 1",
                {"project_id": project_id, "cutoff": cutoff_ms},
            )
            if last is None:
                continue
            seq, mac = int(last["seq"]), bytes(last["mac"])
            total += await tx.execute(
                "DELETE FROM audit_events WHERE project_id = :project_id AND seq <= :seq",
                {"project_id": project_id, "seq": seq},
            )
            await tx.execute(
                "UPDATE audit_heads SET anchor_seq = :seq, anchor_mac = :mac,"
                " anchor_key_id = :key_id, anchor_tag = :tag WHERE project_id = :project_id",
                {
                    "seq": seq,
                    "mac": mac,
                    "key_id": key_id,
                    "tag": tag(key, "anchor", project_id, seq, mac),
                    "project_id": project_id,
                },
            )
    return total
