"""A write transaction cancelled at any point — even while its BEGIN is still running on the
writer thread — must never leave the SQLite write lock held: the server's next writes, and
other processes' writes, go on."""

from __future__ import annotations

import asyncio
import random
import sqlite3
from pathlib import Path

from outbound.storage import DatabaseURL
from outbound.storage.database import SqliteDatabase


async def test_cancelled_transactions_never_keep_the_write_lock(tmp_path: Path) -> None:
    db = SqliteDatabase(DatabaseURL.sqlite_in(tmp_path))
    try:
        async with db.transaction() as tx:
            await tx.execute("CREATE TABLE t (x INTEGER)")

        async def write(n: int) -> None:
            async with db.transaction() as tx:
                await tx.execute("INSERT INTO t (x) VALUES (:x)", {"x": n})

        rng = random.Random(7)
        for n in range(300):
            task = asyncio.ensure_future(write(n))
            for _ in range(rng.randrange(4)):
                await asyncio.sleep(0)  # cancel at a different step each time
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

        await write(-1)
        other = sqlite3.connect(tmp_path / "outbound.db", timeout=1)
        try:
            other.execute("INSERT INTO t (x) VALUES (-2)")
            other.commit()
        finally:
            other.close()
        rows = await db.fetchall("SELECT x FROM t WHERE x < 0 ORDER BY x")
        assert [row["x"] for row in rows] == [-2, -1]
    finally:
        await db.close()
