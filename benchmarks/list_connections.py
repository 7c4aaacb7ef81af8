"""How fast the connections list pages through a big store (the list indexes at work).

    python benchmarks/list_connections.py [--count 1000000] [--database-url postgresql://…]

Seeds ``count`` connections (no secrets: the list never reads them) across 10 apps, a few
hundred of them refresh_failing or reconnect_required, then times the list's queries —
first page, a page deep in via the cursor, by app, by user, by status — as the server runs
them (``outbound.storage.connections.list_connections``). On PostgreSQL the table is
ANALYZEd after the load, as autovacuum would.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from outbound.storage import DatabaseURL, connect, upgrade
from outbound.storage.connections import list_connections

BATCH = 20_000
APPS = 10


def _seed(url: DatabaseURL, count: int) -> None:
    now = int(time.time())
    columns = (
        "id, project_id, app_id, user_id, tenant_id, external_identifier, scopes,"
        " access_token_type, access_token_expiry, last_refresh_time, needs_reconnect,"
        " failing_since, failure_count, created_at, updated_at"
    )
    names = [c.strip() for c in columns.split(",")]
    if url.is_postgres:
        import psycopg

        conn = psycopg.connect(url.libpq, autocommit=False)
        marks = ", ".join(f"%({n})s" for n in names)
    else:
        import sqlite3

        conn = sqlite3.connect(str(url.sqlite_path))  # type: ignore[assignment]
        marks = ", ".join(f":{n}" for n in names)
    cur = conn.cursor()
    cur.execute(f"INSERT INTO projects (id, name, created_at) VALUES ('Pbench', 'bench', {now})")
    for a in range(APPS):
        cur.execute(
            "INSERT INTO apps (project_id, id, name, config, created_at, updated_at)"
            f" VALUES ('Pbench', 'app{a}', 'app{a}', '{{}}', {now}, {now})"
        )
    sql = f"INSERT INTO tokens ({columns}) VALUES ({marks})"
    for offset in range(0, count, BATCH):
        rows = [
            {
                "id": f"tok_{i:09d}",
                "project_id": "Pbench",
                "app_id": f"app{i % APPS}",
                "user_id": f"user-{i:07d}",
                "tenant_id": "",
                "external_identifier": "",
                "scopes": '["read"]',
                "access_token_type": "Bearer",
                "access_token_expiry": now + 3600,
                "last_refresh_time": now,
                "needs_reconnect": 1 if i % 5000 == 1 else 0,
                "failing_since": now if i % 5000 == 2 else 0,
                "failure_count": 1 if i % 5000 == 2 else 0,
                # a creation time spread over a year, as a real store's would be
                "created_at": now - 365 * 86400 + i * (365 * 86400 // max(count, 1)),
                "updated_at": now,
            }
            for i in range(offset, min(offset + BATCH, count))
        ]
        cur.executemany(sql, rows)
        conn.commit()
    if url.is_postgres:
        # What autovacuum does shortly after a bulk load: without statistics the planner
        # takes the freshly loaded table for an empty one and sorts whole projects.
        cur.execute("ANALYZE tokens")
        conn.commit()
    conn.close()


async def _time(db: object, label: str, **kwargs: object) -> None:
    runs = []
    page = None
    for _ in range(20):
        started = time.perf_counter()
        page = await list_connections(db, "Pbench", **kwargs)  # type: ignore[arg-type]
        runs.append((time.perf_counter() - started) * 1000)
    assert page is not None
    print(
        f"{label:<40} {len(page.connections):>4} rows  median {statistics.median(runs):7.2f} ms"
        f"  max {max(runs):7.2f} ms"
    )


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = (
            DatabaseURL.parse(args.database_url)
            if args.database_url
            else DatabaseURL.sqlite_in(Path(tmp))
        )
        upgrade(url)
        started = time.monotonic()
        _seed(url, args.count)
        print(f"seeded {args.count:,} connections in {time.monotonic() - started:.0f} s")
        db = await connect(url)
        try:
            first = await list_connections(db, "Pbench", limit=100)
            deep = first
            for _ in range(5):
                deep = await list_connections(db, "Pbench", limit=1000, cursor=deep.next_cursor)
            middle = await list_connections(
                db, "Pbench", limit=1, cursor=None, user_id=f"user-{args.count // 2:07d}"
            )
            await _time(db, "first page (100)", limit=100)
            await _time(db, "page after 5,100 rows (100)", limit=100, cursor=deep.next_cursor)
            if middle.connections:
                from outbound.storage.connections import encode_cursor

                c = middle.connections[0]
                await _time(
                    db,
                    "page from the middle (100)",
                    limit=100,
                    cursor=encode_cursor(c.created_at, c.id),
                )
            await _time(db, "by app (100)", limit=100, app_id="app3")
            await _time(db, "by user", limit=100, user_id=f"user-{args.count // 3:07d}")
            await _time(db, "status=reconnect_required (100)", status="reconnect_required")
            await _time(db, "status=refresh_failing (100)", status="refresh_failing")
            await _time(db, "status=active (100)", status="active")
            await _time(db, "app + status=refresh_failing", app_id="app2", status="refresh_failing")
        finally:
            await db.close()


if __name__ == "__main__":
    asyncio.run(main())
