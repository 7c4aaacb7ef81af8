"""Storage: one schema (alembic migrations), two backends (SQLite, PostgreSQL), one store."""

from .database import Database, IntegrityError, StorageUnavailable, connect
from .migrate import upgrade
from .records import AppRecord, KeyGrant, ManagementKeyRecord, TokenRecord, TokenWrite
from .store import Conflict, Store, bootstrap, new_id
from .urls import DatabaseURL

__all__ = [
    "AppRecord",
    "Conflict",
    "Database",
    "DatabaseURL",
    "IntegrityError",
    "KeyGrant",
    "ManagementKeyRecord",
    "StorageUnavailable",
    "Store",
    "TokenRecord",
    "TokenWrite",
    "bootstrap",
    "connect",
    "new_id",
    "upgrade",
]
