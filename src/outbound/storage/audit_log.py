"""Writing audit events: with the change they record, at once, or batched (fetches).

A change (upload, delete, refresh, app or key change, a completed connect) is recorded in the
transaction that makes it: both commit or neither does. A fetch changes nothing, and fetches
are the requests that matter, so their events wait in memory and are written together, one
transaction per ``flush_interval`` (default 1 s). The guarantee: a fetch's event is durable
within ``flush_interval`` of the answer, or at once with ``flush_interval`` 0; a server killed
with ``-9`` loses the fetch events of its last ``flush_interval`` (a clean stop writes them).
A database that refuses the write keeps them pending, retried on the next flush, up to
``MAX_PENDING`` events; beyond that the oldest are dropped, counted and logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from .. import metrics
from ..audit.events import AuditEvent
from ..background import stop_task
from ..crypto import Keyring
from . import audit_events
from .database import Database, Transaction

__all__ = ["MAX_PENDING", "AuditLog"]

logger = logging.getLogger("outbound.audit")

MAX_PENDING = 100_000
# A flush starts early once this many events wait: a bound on memory, not on what a crash can
# lose (that is ``flush_interval``). Each flush is a commit, and on SQLite every commit also
# empties the other connections' page caches and this server's key cache (``Store``), so at
# thousands of fetches a second flushing every 2,000 cost more than the events themselves.
FLUSH_AT = 20_000


class AuditLog:
    def __init__(self, db: Database, keyring: Keyring) -> None:
        self.db = db
        self.keyring = keyring
        # Fetches are recorded unless the operator turns it off (--no-audit-fetches).
        self.fetches = True
        self.flush_interval = 0.0
        self._pending: list[AuditEvent] = []
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None

    # -- the three ways to record ----------------------------------------------------------

    async def record_in(self, tx: Transaction, *events: AuditEvent) -> None:
        """Record ``events`` in the transaction of the change they describe."""
        written = await audit_events.append(tx, self.keyring, events)
        metrics.audit_written(written)

    async def record(self, *events: AuditEvent) -> None:
        """Record ``events`` now, in a transaction of their own."""
        async with self.db.transaction() as tx:
            await self.record_in(tx, *events)

    async def fetched(self, event: AuditEvent) -> None:
        """Record a token fetch: batched when a flush loop runs, else at once."""
        if self.fetches:
            await self.batched(event)

    async def batched(self, event: AuditEvent) -> None:
        """Record an event of a request that changes nothing (a fetch, a proxied call):
        batched when a flush loop runs, else at once."""
        if self._task is None:
            await self.record(event)
            return
        self._pending.append(event)
        if len(self._pending) >= FLUSH_AT and self._wake is not None:
            self._wake.set()

    # -- batching --------------------------------------------------------------------------

    def start(self, flush_interval: float) -> None:
        """Batch fetch events, written every ``flush_interval`` seconds (0: at once)."""
        self.flush_interval = flush_interval
        if flush_interval > 0:
            self._wake = asyncio.Event()
            self._task = asyncio.create_task(self._run(), name="outbound-audit-flush")

    async def stop(self) -> None:
        await stop_task(self._task)
        self._task = None
        await self.flush()

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.flush_interval)
            self._wake.clear()
            await self.flush()

    async def flush(self) -> int:
        batch, self._pending = self._pending, []
        if not batch:
            return 0
        try:
            await self.record(*batch)
        except asyncio.CancelledError:
            # stopped mid-write (the transaction rolled back): the final flush writes them
            self._requeue(batch)
            raise
        except Exception as exc:
            # The type only: a driver error may quote a row.
            logger.error(
                "could not write %d audit events (%s); kept for the next flush",
                len(batch),
                type(exc).__name__,
            )
            self._requeue(batch)
            return 0
        finally:
            metrics.audit_pending(len(self._pending))
        return len(batch)

    def _requeue(self, batch: Sequence[AuditEvent]) -> None:
        self._pending[:0] = batch
        over = len(self._pending) - MAX_PENDING
        if over > 0:
            del self._pending[:over]
            metrics.audit_dropped(over)
            logger.error("dropped the %d oldest unwritten audit events", over)
