"""Read and tamper with a server's database directly, as an attacker with the disk would."""

from __future__ import annotations

import sqlite3
from typing import Any

from tests.support.server import Store


def execute(store: Store, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Run one statement (``?`` placeholders) against the store's database; returns rows."""
    if store.database_url:
        import psycopg

        with psycopg.connect(store.database_url, autocommit=True) as conn:
            cur = conn.execute(sql.replace("?", "%s"), params)
            return list(cur.fetchall()) if cur.description else []
    lite = sqlite3.connect(store.data_dir / "outbound.db", timeout=10)
    try:
        with lite:
            rows = lite.execute(sql, params)
            return rows.fetchall() if rows.description else []
    finally:
        lite.close()


def raw_dump(store: Store) -> bytes:
    """Everything the database holds, as bytes: the files on disk, or a full pg_dump."""
    if store.database_url:
        import subprocess

        return subprocess.run(
            ["pg_dump", "--no-owner", store.database_url],
            capture_output=True,
            check=True,
            timeout=60,
        ).stdout
    return b"".join(
        path.read_bytes()
        for path in sorted(store.data_dir.iterdir())
        if path.name.startswith("outbound.db")
    )
