"""``--audit-retention-days``: prune old audit events, hourly, on every server.

Pruning removes a prefix of each project's chain and leaves a signed anchor in its place
(``storage/audit_events.prune``), so what remains still verifies. Servers sharing a database
may prune at once: each project's head row serialises them, and the second finds nothing left.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time

from ...background import stop_task
from ...storage import Store
from ...storage.audit_events import prune

__all__ = ["AuditRetention"]

logger = logging.getLogger("outbound.audit")

INTERVAL = 3600.0


class AuditRetention:
    def __init__(self, store: Store, days: int) -> None:
        self.store = store
        self.days = days
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.days > 0:
            self._task = asyncio.create_task(self._run(), name="outbound-audit-retention")

    async def stop(self) -> None:
        await stop_task(self._task)
        self._task = None

    async def run_once(self) -> int:
        cutoff_ms = int((time.time() - self.days * 86400) * 1000)
        return await prune(self.store.db, self.store.keyring, cutoff_ms)

    async def _run(self) -> None:
        # Servers started together would otherwise prune in lockstep.
        await asyncio.sleep(random.uniform(1, 60))
        while True:
            try:
                pruned = await self.run_once()
                if pruned:
                    logger.info("pruned %d audit events older than %d days", pruned, self.days)
            except Exception as exc:
                logger.error("audit pruning failed: %s", type(exc).__name__)
            await asyncio.sleep(INTERVAL)
