"""The ``--metrics-port`` listener: Prometheus exposition on a port of its own, and the
connections-by-status gauge it keeps fresh.

A separate listener keeps metrics off the API's port (nothing to authenticate, nothing to
expose to the internet by accident) and off the event loop: prometheus-client serves it from a
thread. The gauge is recounted every ``CONNECTIONS_INTERVAL`` seconds, not per scrape, so a
scrape never costs a count over a large store.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from ... import metrics
from ...background import stop_task
from ...storage.connection_stats import count_by_status
from ...storage.database import Database

__all__ = ["CONNECTIONS_INTERVAL", "MetricsListener"]

logger = logging.getLogger("outbound.server.metrics")

CONNECTIONS_INTERVAL = 30.0


class MetricsListener:
    def __init__(self, db: Database, host: str, port: int) -> None:
        self.db = db
        self.host = host
        self.port = port
        self._server: Any = None
        self._thread: Any = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        from prometheus_client import start_http_server

        registry = metrics.enable().registry
        self._server, self._thread = start_http_server(self.port, addr=self.host, registry=registry)
        self._task = asyncio.create_task(self._count_connections(), name="outbound-metrics")
        logger.info("metrics on http://%s:%d/metrics", self.host, self.port)

    async def stop(self) -> None:
        await stop_task(self._task)
        self._task = None
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
        metrics.disable()

    async def _count_connections(self) -> None:
        while True:
            try:
                metrics.connections(await count_by_status(self.db))
            except Exception as exc:
                logger.error("counting connections failed: %s", type(exc).__name__)
            await asyncio.sleep(CONNECTIONS_INTERVAL)
