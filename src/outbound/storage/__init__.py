"""Storage: one schema (alembic migrations), two backends (SQLite, PostgreSQL), one store."""

from .apps import Conflict
from .codec import new_id
from .database import Database, IntegrityError, StorageUnavailable, connect
from .migrate import upgrade
from .records import AppRecord, KeyGrant, ManagementKeyRecord, TokenRecord, TokenWrite
from .store import Store, bootstrap
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
