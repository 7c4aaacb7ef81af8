"""The console's one contact with the audit log (``storage/audit_events.py``).

The audit log ships on its own; until it does, ``available()`` is False and the audit page
says so. Everything the console needs of it is read here and nowhere else.
"""

from __future__ import annotations

import dataclasses
import importlib
import time
from dataclasses import dataclass
from typing import Any

from ...storage.database import Database

__all__ = ["AuditPage", "act_as", "actions", "available", "read"]


def _load() -> tuple[Any, Any]:
    # Imported by name, so this module type-checks with and without the audit log present.
    try:
        events = importlib.import_module("outbound.audit.events")
        storage = importlib.import_module("outbound.storage.audit_events")
    except ImportError:  # the audit log is not part of this build yet
        return None, None
    return events, storage


_events, _storage = _load()


@dataclass(frozen=True)
class AuditPage:
    events: list[dict[str, Any]]
    next_cursor: str


def act_as(project_id: str, key_id: str) -> None:
    """Record what this request changes as done by the console session's operator (the key
    it signed in with, or ``console-link`` for a link from the CLI)."""
    if _events is None:
        return
    actor = f"console:key:{key_id}" if key_id else "console:link"
    _events.set_caller(dataclasses.replace(_events.caller(), actor=actor, project_id=project_id))


async def refreshes_by_hour(
    db: Database, project_id: str, hours: int, now: float | None = None
) -> tuple[list[int], list[int]] | None:
    """Refreshes in each of the last ``hours`` hours (oldest first): (succeeded, failed);
    None without the audit log. One range of the ``(project_id, time_ms)`` index."""
    if _storage is None:
        return None
    end_ms = int((now or time.time()) * 1000)
    since_ms = end_ms - hours * 3_600_000
    rows = await db.scan(
        "SELECT (time_ms - :since) / 3600000 AS hour, outcome, COUNT(*) AS n"
        " FROM audit_events WHERE project_id = :project_id AND action = 'token.refresh'"
        " AND time_ms > :since AND time_ms <= :end GROUP BY (time_ms - :since) / 3600000,"
        " outcome",
        {"project_id": project_id, "since": since_ms, "end": end_ms},
    )
    ok, failed = [0] * hours, [0] * hours
    for row in rows:
        hour = min(int(row["hour"]), hours - 1)
        (ok if row["outcome"] == "ok" else failed)[hour] += int(row["n"])
    return ok, failed


def available() -> bool:
    return _storage is not None


def actions() -> list[str]:
    return sorted(_events.ACTIONS) if _events is not None else []


async def read(
    db: Database,
    project_id: str,
    *,
    action: str | None,
    app_id: str | None,
    user_id: str | None,
    since_hours: int | None,
    cursor: int,
    limit: int = 100,
) -> AuditPage:
    """One page of the project's events, oldest first, as plain dicts for the template."""
    if _storage is None:
        return AuditPage([], "")
    since_ms = int((time.time() - since_hours * 3600) * 1000) if since_hours else None
    query = _storage.EventQuery(
        since_ms=since_ms,
        action=action if action in actions() else None,
        app_id=app_id,
        user_id=user_id,
        after_seq=cursor,
        limit=limit + 1,
    )
    found = await _storage.list_events(db, project_id, query)
    page = found[:limit]
    events = [
        {
            "seq": stored.seq,
            "time": stored.event.time_ms // 1000,
            "actor": stored.event.actor,
            "action": stored.event.action,
            "app_id": stored.event.app_id,
            "user_id": stored.event.user_id,
            "tenant_id": stored.event.tenant_id,
            "outcome": stored.event.outcome,
            "error_code": stored.event.error_code,
        }
        for stored in page
    ]
    return AuditPage(events, str(page[-1].seq) if len(found) > limit else "")
