"""What the console's overview counts: connections by status, failed webhook deliveries.

Each count runs on an index of its own (``ix_tokens_project_created``,
``ix_tokens_project_reconnect``, ``ix_tokens_project_failing``), yet counting a million
index entries still takes a few hundred milliseconds. SQLite reads otherwise run on the event
loop, where that would stall every other request (fetches included), so on SQLite the counts
run on a read-only connection of their own in a worker thread.
"""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any

from .database import Database

__all__ = ["connection_counts", "failed_deliveries"]

_TOTAL = "SELECT COUNT(*) AS n FROM tokens WHERE project_id = :project_id"
_RECONNECT = (
    "SELECT COUNT(*) AS n FROM tokens WHERE project_id = :project_id AND needs_reconnect = 1"
)
_FAILING = (
    "SELECT COUNT(*) AS n FROM tokens WHERE project_id = :project_id AND failing_since > 0"
    " AND needs_reconnect = 0"
)
_FAILED_DELIVERIES = (
    "SELECT COUNT(*) AS n FROM webhook_deliveries WHERE project_id = :project_id"
    " AND status = 'failed'"
)
_RETRYING_DELIVERIES = (
    "SELECT COUNT(*) AS n FROM webhook_deliveries WHERE project_id = :project_id"
    " AND status = 'pending' AND attempts > 0"
)


async def _counts(db: Database, project_id: str, queries: list[str]) -> list[int]:
    params = {"project_id": project_id}
    if db.url.is_postgres:
        rows: list[Any] = [await db.fetchone(sql, params) for sql in queries]
        return [int(row["n"]) if row else 0 for row in rows]
    path = db.url.sqlite_path

    def count() -> list[int]:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
        try:
            return [int(conn.execute(sql, params).fetchone()[0]) for sql in queries]
        finally:
            conn.close()

    return await asyncio.to_thread(count)


async def connection_counts(db: Database, project_id: str) -> dict[str, int]:
    total, reconnect, failing = await _counts(db, project_id, [_TOTAL, _RECONNECT, _FAILING])
    return {
        "active": total - reconnect - failing,
        "refresh_failing": failing,
        "reconnect_required": reconnect,
    }


async def failed_deliveries(db: Database, project_id: str) -> tuple[int, int]:
    """Deliveries that gave up, and deliveries still pending after failed attempts."""
    failed, retrying = await _counts(db, project_id, [_FAILED_DELIVERIES, _RETRYING_DELIVERIES])
    return failed, retrying
