"""Apply the alembic migrations at start, once, however many servers start together."""

from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, create_engine, text

from .urls import DatabaseURL

logger = logging.getLogger("outbound.storage.migrate")

_MIGRATIONS = Path(__file__).parent / "migrations"
# Arbitrary constant: the PostgreSQL advisory lock every starting server queues on.
_PG_LOCK_ID = 0x0B0_7B0D


def _alembic_config(connection: object) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def _head() -> str | None:
    return ScriptDirectory.from_config(_alembic_config(None)).get_current_head()


def _migrate(conn: Connection) -> str | None:
    """Upgrade to head; the revision the store was at (None: a new store). Alembic's lines
    (its context, each migration) are news only when an existing store is migrated: on a new
    store or one already at head they go to debug."""
    alembic_log = logging.getLogger("alembic")
    saved = alembic_log.level
    if not alembic_log.isEnabledFor(logging.DEBUG):
        alembic_log.setLevel(logging.WARNING)
    try:
        current = MigrationContext.configure(conn).get_current_revision()
        head = _head()
        if current is not None and current != head:
            logger.info("migrating the store from revision %s to %s", current, head)
            alembic_log.setLevel(saved)
        command.upgrade(_alembic_config(conn), "head")
    finally:
        alembic_log.setLevel(saved)
    return current


def revisions(url: DatabaseURL) -> tuple[str | None, str | None]:
    """(the store's migration revision, the newest this version knows). Reads only: a
    missing SQLite file is not created; a store never migrated is at None."""
    if not url.is_postgres and (url.sqlite_path is None or not url.sqlite_path.exists()):
        return None, _head()
    engine = create_engine(url.sqlalchemy)
    alembic_log = logging.getLogger("alembic")
    saved = alembic_log.level
    if not alembic_log.isEnabledFor(logging.DEBUG):
        alembic_log.setLevel(logging.WARNING)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision(), _head()
    finally:
        alembic_log.setLevel(saved)
        engine.dispose()


def upgrade(url: DatabaseURL) -> str | None:
    """Migrate the store to the newest revision, one process at a time; the revision it was
    at before (None: it was new)."""
    engine = create_engine(url.sqlalchemy)
    try:
        if url.is_postgres:
            with engine.connect() as conn:
                conn.execute(text("SELECT pg_advisory_lock(:id)"), {"id": _PG_LOCK_ID})
                try:
                    conn.commit()
                    before = _migrate(conn)
                    conn.commit()
                finally:
                    conn.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": _PG_LOCK_ID})
                    conn.commit()
        else:
            assert url.sqlite_path is not None
            lock_path = url.sqlite_path.with_name(url.sqlite_path.name + ".migrate-lock")
            fd = os.open(lock_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            with os.fdopen(fd, "a") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                with engine.connect() as conn:
                    before = _migrate(conn)
                    conn.commit()
    finally:
        engine.dispose()
    return before
