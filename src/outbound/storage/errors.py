"""What storage raises, under one root.

    StorageError                    root: anything the store refuses or cannot do
    ├── StorageUnavailable          the database cannot be reached now, or the connection was
    │                               lost mid-operation; nothing committed -> E130503, retry
    ├── DatabaseUnreachable         (also a ValueError) PostgreSQL did not come up within the
    │                               start-up wait -> the server does not start
    ├── StoreKeyMismatch            the master key holds none of the keys the store was sealed
    │                               with -> the server does not start; nothing was written
    ├── IntegrityError              a unique or foreign-key constraint refused a write
    ├── Conflict                    a duplicate app id or name -> the API's conflict answer
    ├── InvalidCursor               (also a ValueError) a page cursor this server did not
    │                               hand out -> 400
    └── LimitReached                a per-project cap is full; nothing was written
        ├── TooManyPending          connect sessions in progress -> E130429 with Retry-After
        └── TooManyWebhooks         webhook endpoints -> E011004

Callers keep catching the precise class; the root lets a caller that only needs "the store
said no" catch one. Messages never carry a secret nor a row's sealed value.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "Conflict",
    "DatabaseUnreachable",
    "IntegrityError",
    "InvalidCursor",
    "LimitReached",
    "StorageError",
    "StorageUnavailable",
    "StoreKeyMismatch",
    "TooManyPending",
    "TooManyWebhooks",
]


class StorageError(Exception):
    """The root of every error the storage package raises."""


class StorageUnavailable(StorageError):
    """The database cannot be reached right now, or lost the connection mid-operation; the
    failed transaction did not commit (or, cut off during COMMIT, is safe to repeat)."""


class DatabaseUnreachable(StorageError, ValueError):
    """PostgreSQL could not be reached (or refused us) within the wait; the message is one
    line and holds no password."""


class IntegrityError(StorageError):
    """A unique or foreign-key constraint refused a write."""


class Conflict(StorageError):
    """A write would break a uniqueness rule (duplicate app id or name)."""


class InvalidCursor(StorageError, ValueError):
    """A cursor this server did not hand out."""


class LimitReached(StorageError):
    """A per-project cap is full; nothing was written."""


class TooManyPending(LimitReached):
    """The project, or the user, has as many connect sessions in progress as allowed."""

    def __init__(self, scope: str, retry_after: int) -> None:
        super().__init__(scope)
        self.scope = scope
        self.retry_after = retry_after


class TooManyWebhooks(LimitReached):
    def __init__(self, limit: int) -> None:
        super().__init__(f"a project has at most {limit} webhooks")
        self.limit = limit


class StoreKeyMismatch(StorageError):
    """The master key setting holds none of the keys the store was sealed with."""

    def __init__(self, needed: set[str], held: list[str] | None, data_dir: Path | None) -> None:
        need = ", ".join(sorted(needed))
        if held is None:
            given = (
                f"no master key is set and {data_dir / 'master.key'} does not exist"
                if data_dir is not None
                else "no master key is set"
            )
        else:
            given = f"the master key setting holds key id {', '.join(held)}"
        where = (
            f"restore master.key from the backup taken with the store into {data_dir}, or set"
            " OUTBOUND_MASTER_KEY to it"
            if data_dir is not None
            else "set OUTBOUND_MASTER_KEY to it (newest first, comma-separated)"
        )
        super().__init__(
            f"this store was sealed with master key id {need}, but {given}: {where}"
            " (see docs/operations.md, Restoring a backup). Nothing was written."
        )
        self.needed = needed
