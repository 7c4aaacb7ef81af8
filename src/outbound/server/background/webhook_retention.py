"""``--webhook-retention``: delete webhook deliveries that ended, on every server.

A delivery that was delivered, or failed for good, is kept for the retention (to be listed,
or retried by hand) and then deleted with its attempts; an event goes with its last delivery
(``WebhookStore.prune``). Pending deliveries are never deleted. Servers sharing a database
may prune at once: each deletes what it finds, in short transactions.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time

from ...background import stop_task
from ...storage.webhooks import WebhookStore

__all__ = ["WebhookRetention"]

logger = logging.getLogger("outbound.server.background.webhook_delivery")

# Passes at most this far apart; a short retention is pruned more often (a quarter of it).
INTERVAL = 3600.0


class WebhookRetention:
    def __init__(self, webhooks: WebhookStore, seconds: float) -> None:
        self.webhooks = webhooks
        self.seconds = seconds
        self.interval = min(INTERVAL, max(0.5, seconds / 4))
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.seconds > 0:
            self._task = asyncio.create_task(self._run(), name="outbound-webhook-retention")

    async def stop(self) -> None:
        await stop_task(self._task)
        self._task = None

    async def run_once(self) -> int:
        return await self.webhooks.prune(time.time() - self.seconds)

    async def _run(self) -> None:
        # Servers started together would otherwise prune in lockstep.
        await asyncio.sleep(random.uniform(0, self.interval))
        while True:
            try:
                pruned = await self.run_once()
                if pruned:
                    logger.info("deleted %d webhook deliveries past the retention", pruned)
            except Exception as exc:
                # The type only: a driver error may quote a row.
                logger.error("webhook pruning failed: %s", type(exc).__name__)
            await asyncio.sleep(self.interval)
