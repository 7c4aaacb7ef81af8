"""Two backends behind one small async interface: plain SQL with ``:name`` parameters.

SQLite (the embedded default): reads run on the event loop thread on their own connection —
a primary-key read in WAL mode takes microseconds, less than a hop to a thread would — and
every write transaction runs on one writer thread (``BEGIN IMMEDIATE``), so the loop never
waits on another process's write lock. Reads that may touch many rows (``scan``: listing the
audit log or the connections with filters, the console's counts) run on a reader thread of
their own, with a connection of their own: SQLite lets go of the GIL while it steps, so a
query that walks a million rows never holds up the loop's fetches. PostgreSQL: a psycopg
async pool; ``scan`` is an ordinary read there (the database server does the work).

When the database is out of reach — PostgreSQL restarting, a backend killed
(``pg_terminate_backend``), a pool with no connection to give within ``POOL_TIMEOUT``, SQLite
still locked by another process after its busy timeout — the operation raises
:class:`StorageUnavailable` (the API answers E130503, retryable) instead of a driver error.
A transaction cut off that way was rolled back, or, if the connection died during COMMIT,
its outcome is unknown to us: every write the API makes is safe to repeat. Reads are retried
on another connection first: after a server restart the pool holds dead connections, and a
read should not fail for each of them. The pool replaces dead connections by itself.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from functools import lru_cache
from typing import Any, Protocol, TypeVar

from .errors import IntegrityError, StorageUnavailable
from .urls import DatabaseURL

__all__ = ["Database", "IntegrityError", "Row", "StorageUnavailable", "Transaction", "connect"]

logger = logging.getLogger("outbound.storage")

Row = Mapping[str, Any]
Params = Mapping[str, Any]
T = TypeVar("T")


# How long a PostgreSQL request waits for a pooled connection before giving up (E130503):
# during a database restart a caller should hear "retry" promptly, not hang.
POOL_TIMEOUT = 5.0

_SQLITE_BUSY = ("locked", "busy")


def _sqlite_unavailable(exc: sqlite3.OperationalError) -> bool:
    return any(word in str(exc) for word in _SQLITE_BUSY)


class Transaction(Protocol):
    async def execute(self, sql: str, params: Params | None = None) -> int: ...
    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """One statement for many rows, with ``?`` placeholders and positional rows."""
        ...

    async def fetchone(self, sql: str, params: Params | None = None) -> Row | None: ...
    async def fetchall(self, sql: str, params: Params | None = None) -> list[Row]: ...


class Database(Protocol):
    url: DatabaseURL

    async def fetchone(self, sql: str, params: Params | None = None) -> Row | None: ...
    async def fetchall(self, sql: str, params: Params | None = None) -> list[Row]: ...
    async def scan(self, sql: str, params: Params | None = None) -> list[Row]:
        """``fetchall`` for a read that may touch many rows: never on the event loop."""
        ...

    def transaction(self) -> Any: ...  # async context manager yielding a Transaction
    def change_counter(self) -> int | None: ...
    async def close(self) -> None: ...


def _sqlite_connect(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    # sqlite3.Row: C-implemented, indexable by column name like the dict rows of psycopg
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    # A vault must not lose an acknowledged write: fsync every commit.
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


_MANY_ROWS = 50


class _SqliteTransaction:
    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    async def execute(self, sql: str, params: Params | None = None) -> int:
        cur = await self._db._write(self._db._writer.execute, sql, params or {})
        return cur.rowcount

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        # ``INSERT … VALUES (?, …)`` for many rows, sent _MANY_ROWS rows to a statement. One
        # call into SQLite per row (sqlite3's executemany) hands the GIL back and forth with
        # the event loop's thread on every row, and that convoy cost the loop a third of its
        # fetch throughput while fetch events were written; a call per 50 rows does not.
        # (Named parameters are not used here: with many of them binding is quadratic.)
        head, _, row_sql = sql.partition(" VALUES ")
        writer = self._db._writer

        def run() -> None:
            for start in range(0, len(rows), _MANY_ROWS):
                chunk = rows[start : start + _MANY_ROWS]
                flat = [value for row in chunk for value in row]
                writer.execute(f"{head} VALUES {', '.join([row_sql] * len(chunk))}", flat)

        await self._db._write(run)

    async def fetchone(self, sql: str, params: Params | None = None) -> Row | None:
        def run() -> Row | None:
            row: Row | None = self._db._writer.execute(sql, params or {}).fetchone()
            return row

        return await self._db._write(run)

    async def fetchall(self, sql: str, params: Params | None = None) -> list[Row]:
        def run() -> list[Row]:
            return self._db._writer.execute(sql, params or {}).fetchall()

        return await self._db._write(run)


async def _uncancellable(work: Awaitable[T]) -> T:
    """Await ``work`` to its end even when the awaiting task is cancelled meanwhile; the
    cancellation is raised afterwards."""
    future = asyncio.ensure_future(work)
    cancelled = False
    while True:
        try:
            result = await asyncio.shield(future)
            break
        except asyncio.CancelledError:
            if future.done():
                raise
            cancelled = True
    if cancelled:
        raise asyncio.CancelledError
    return result


class SqliteDatabase:
    def __init__(self, url: DatabaseURL) -> None:
        self.url = url
        path = str(url.sqlite_path)
        self._reader = _sqlite_connect(path)
        self._writer = _sqlite_connect(path)
        self._scanner = _sqlite_connect(path)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")
        self._scans = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-scanner")
        self._lock = asyncio.Lock()

    async def _write(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, fn, *args)
        except sqlite3.IntegrityError as exc:
            raise IntegrityError(str(exc)) from exc
        except sqlite3.OperationalError as exc:
            if _sqlite_unavailable(exc):
                raise StorageUnavailable("the SQLite database stayed locked") from exc
            raise

    async def fetchone(self, sql: str, params: Params | None = None) -> Row | None:
        try:
            row: Row | None = self._reader.execute(sql, params or {}).fetchone()
        except sqlite3.OperationalError as exc:
            if _sqlite_unavailable(exc):
                raise StorageUnavailable("the SQLite database stayed locked") from exc
            raise
        return row

    async def fetchall(self, sql: str, params: Params | None = None) -> list[Row]:
        try:
            return self._reader.execute(sql, params or {}).fetchall()
        except sqlite3.OperationalError as exc:
            if _sqlite_unavailable(exc):
                raise StorageUnavailable("the SQLite database stayed locked") from exc
            raise

    async def scan(self, sql: str, params: Params | None = None) -> list[Row]:
        def run() -> list[Row]:
            return self._scanner.execute(sql, params or {}).fetchall()

        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._scans, run)
        except sqlite3.OperationalError as exc:
            if _sqlite_unavailable(exc):
                raise StorageUnavailable("the SQLite database stayed locked") from exc
            raise

    def change_counter(self) -> int | None:
        """Changes whenever any connection, in any process, commits to the database."""
        value: int = self._reader.execute("PRAGMA data_version").fetchone()[0]
        return value

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        async with self._lock:
            # The writer thread runs BEGIN even if this task is cancelled while waiting for
            # it: left open, that transaction would hold the write lock for good (every later
            # write here fails, and "database is locked" in every other process). So BEGIN
            # and COMMIT always run to the end, and whatever did not commit is rolled back.
            try:
                await _uncancellable(self._write(self._writer.execute, "BEGIN IMMEDIATE"))
                yield _SqliteTransaction(self)
                await _uncancellable(self._write(self._writer.execute, "COMMIT"))
            except BaseException:
                if self._writer.in_transaction:
                    await _uncancellable(self._write(self._writer.execute, "ROLLBACK"))
                raise

    async def close(self) -> None:
        self._executor.shutdown(wait=True)
        self._scans.shutdown(wait=True)
        self._reader.close()
        self._writer.close()
        self._scanner.close()


_NAMED = re.compile(r"(?<![:\w]):(\w+)")


@lru_cache(maxsize=512)
def _to_pyformat(sql: str) -> str:
    """``:name`` (sqlite3's style) → ``%(name)s`` (psycopg's), once per statement text."""
    return _NAMED.sub(r"%(\1)s", sql.replace("%", "%%"))


def _pg_params(params: Params | None) -> Params:
    return params or {}


class _PostgresTransaction:
    def __init__(self, conn: Any) -> None:
        self._conn = conn

    async def execute(self, sql: str, params: Params | None = None) -> int:
        import psycopg

        try:
            cur = await self._conn.execute(_to_pyformat(sql), _pg_params(params))
        except psycopg.errors.IntegrityError as exc:
            raise IntegrityError(str(exc)) from exc
        rowcount: int = cur.rowcount
        return rowcount

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        import psycopg

        try:
            async with self._conn.cursor() as cur:
                await cur.executemany(sql.replace("%", "%%").replace("?", "%s"), rows)
        except psycopg.errors.IntegrityError as exc:
            raise IntegrityError(str(exc)) from exc

    async def fetchone(self, sql: str, params: Params | None = None) -> Row | None:
        import psycopg

        try:
            cur = await self._conn.execute(_to_pyformat(sql), _pg_params(params))
        except psycopg.errors.IntegrityError as exc:
            raise IntegrityError(str(exc)) from exc
        row: Row | None = await cur.fetchone()
        return row

    async def fetchall(self, sql: str, params: Params | None = None) -> list[Row]:
        cur = await self._conn.execute(_to_pyformat(sql), _pg_params(params))
        rows: list[Row] = await cur.fetchall()
        return rows


class PostgresDatabase:
    def __init__(self, url: DatabaseURL, pool: Any) -> None:
        self.url = url
        self._pool = pool
        self._reads_tried = pool.max_size + 1

    @classmethod
    async def open(
        cls, url: DatabaseURL, min_size: int = 2, max_size: int = 10
    ) -> PostgresDatabase:
        from psycopg.rows import dict_row
        from psycopg_pool import AsyncConnectionPool

        pool = AsyncConnectionPool(
            url.libpq,
            min_size=min_size,
            max_size=max_size,
            kwargs={"autocommit": True, "row_factory": dict_row},
            timeout=POOL_TIMEOUT,
            open=False,
        )
        await pool.open(wait=True, timeout=30)
        return cls(url, pool)

    async def _read(self, sql: str, params: Params | None, one: bool) -> Any:
        import psycopg
        from psycopg_pool import PoolTimeout

        for attempt in range(self._reads_tried):
            try:
                async with self._pool.connection() as conn:
                    cur = await conn.execute(_to_pyformat(sql), _pg_params(params))
                    return await (cur.fetchone() if one else cur.fetchall())
            except PoolTimeout as exc:
                raise StorageUnavailable("no database connection within the pool timeout") from exc
            except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
                # A dead pooled connection: the pool discards it; try the next one.
                if attempt + 1 == self._reads_tried:
                    raise StorageUnavailable(_pg_reason(exc)) from exc
        raise AssertionError("unreachable")

    async def fetchone(self, sql: str, params: Params | None = None) -> Row | None:
        row: Row | None = await self._read(sql, params, True)
        return row

    async def fetchall(self, sql: str, params: Params | None = None) -> list[Row]:
        rows: list[Row] = await self._read(sql, params, False)
        return rows

    async def scan(self, sql: str, params: Params | None = None) -> list[Row]:
        rows: list[Row] = await self._read(sql, params, False)
        return rows

    def change_counter(self) -> int | None:
        return None  # no cheap exact signal: every check goes to the database

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        import psycopg

        try:
            async with self._pool.connection() as conn, conn.transaction():
                yield _PostgresTransaction(conn)
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            raise StorageUnavailable(_pg_reason(exc)) from exc

    async def close(self) -> None:
        await self._pool.close()


def _pg_reason(exc: Exception) -> str:
    # The SQLSTATE class, never the driver's text: it may quote a row.
    sqlstate = getattr(exc, "sqlstate", None)
    detail = f"{type(exc).__name__}, {sqlstate}" if sqlstate else type(exc).__name__
    return f"the database connection failed ({detail})"


async def connect(url: DatabaseURL) -> Database:
    if url.is_postgres:
        return await PostgresDatabase.open(url)
    return SqliteDatabase(url)
