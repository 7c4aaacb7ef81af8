"""What the console's overview counts: connections by status, failed webhook deliveries.

Each count runs on an index of its own (``ix_tokens_project_created``,
``ix_tokens_project_reconnect``, ``ix_tokens_project_failing``), so a project with a million
tokens is counted without reading its rows.
"""

from __future__ import annotations

from .database import Database

__all__ = ["connection_counts", "failed_deliveries"]


async def _count(db: Database, sql: str, project_id: str) -> int:
    row = await db.fetchone(sql, {"project_id": project_id})
    return int(row["n"]) if row else 0


async def connection_counts(db: Database, project_id: str) -> dict[str, int]:
    total = await _count(
        db, "SELECT COUNT(*) AS n FROM tokens WHERE project_id = :project_id", project_id
    )
    reconnect = await _count(
        db,
        "SELECT COUNT(*) AS n FROM tokens WHERE project_id = :project_id AND needs_reconnect = 1",
        project_id,
    )
    failing = await _count(
        db,
        "SELECT COUNT(*) AS n FROM tokens WHERE project_id = :project_id AND failing_since > 0"
        " AND needs_reconnect = 0",
        project_id,
    )
    return {
        "active": total - reconnect - failing,
        "refresh_failing": failing,
        "reconnect_required": reconnect,
    }


async def failed_deliveries(db: Database, project_id: str) -> int:
    return await _count(
        db,
        "SELECT COUNT(*) AS n FROM webhook_deliveries WHERE project_id = :project_id"
        " AND status = 'failed'",
        project_id,
    )
