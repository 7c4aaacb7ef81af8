"""``--audit-checkpoint-interval``: publish each project's audit chain position, on every
server, to the log and as an ``audit.checkpoint`` webhook event (``storage/audit_checkpoints``).
"""

from __future__ import annotations

import asyncio
import logging

from ...background import stop_task
from ...storage import Store
from ...storage.audit_checkpoints import publish_due

__all__ = ["AuditCheckpoints"]

logger = logging.getLogger("outbound.audit")


class AuditCheckpoints:
    def __init__(self, store: Store, interval: float) -> None:
        self.store = store
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.interval > 0:
            self._task = asyncio.create_task(self._run(), name="outbound-audit-checkpoints")

    async def stop(self) -> None:
        await stop_task(self._task)
        self._task = None

    async def run_once(self) -> int:
        # events batched in memory are not in the chain yet: write them first
        await self.store.audit.flush()
        published = await publish_due(self.store.db)
        for point in published:
            logger.info(
                "audit checkpoint project=%s seq=%d hash=%s",
                point.project_id,
                point.seq,
                point.hash,
            )
        return len(published)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.run_once()
            except Exception as exc:
                logger.error("audit checkpoint failed: %s", type(exc).__name__)
