"""Storage: one schema (alembic migrations), two backends (SQLite, PostgreSQL), one store.

Its own errors share one root, :class:`StorageError` (the hierarchy: ``errors.py``)."""

from .codec import new_id
from .database import Database, connect
from .errors import Conflict, IntegrityError, StorageError, StorageUnavailable
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
    "StorageError",
    "StorageUnavailable",
    "Store",
    "TokenRecord",
    "TokenWrite",
    "bootstrap",
    "connect",
    "new_id",
    "upgrade",
]
