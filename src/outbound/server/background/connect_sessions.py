"""Ended connect sessions go within minutes, even when nobody creates new ones."""

from __future__ import annotations

import asyncio
import logging

from ...background import stop_task
from ...storage import Store
from ...storage.connect_sessions import ConnectSessions

__all__ = ["PURGE_INTERVAL", "PurgeConnectSessions"]

logger = logging.getLogger("outbound.server")

PURGE_INTERVAL = 60.0


class PurgeConnectSessions:
    def __init__(self, store: Store) -> None:
        self.sessions = ConnectSessions(store)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbound-connect-sessions")

    async def stop(self) -> None:
        await stop_task(self._task)
        self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(PURGE_INTERVAL)
            try:
                await self.sessions.purge()
            except Exception as exc:  # a database hiccup: try again next round
                logger.warning("purging ended connect sessions failed: %s", type(exc).__name__)
