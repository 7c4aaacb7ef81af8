"""Refresh ahead: a background task that refreshes access tokens before they expire, so that a
fetch finds a fresh token instead of waiting on the provider.

Opt-in (``--refresh-ahead SECONDS``). Every server runs one; they coordinate only through the
database. Each round selects a bounded batch of tokens expiring within the horizon that nobody
is refreshing, and refreshes them through the same :class:`~outbound.server.refresh.LeaseRefresher`
as a fetch: its lease admits one server per token, and a server that finds the token already
refreshed by another (a new version with a later expiry) leaves it alone. Failures are logged
— by token id and error code, never a secret — and the next round goes on; a permanent refusal
marks the token as needing reconnection, as a fetch would.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable

from ..audit import Caller, set_caller
from ..storage.leases import RefreshLeases
from .errors import ApiError
from .refresh import LeaseRefresher

__all__ = ["RefreshAhead"]

logger = logging.getLogger("outbound.server.ahead")

BATCH = 100
# Refreshes of one round in flight at once: enough to get through a batch while a provider
# takes its time, few enough not to look like a flood to it.
CONCURRENCY = 4


class RefreshAhead:
    def __init__(
        self,
        leases: RefreshLeases,
        refresher: LeaseRefresher,
        *,
        horizon: int,
        idle_days: int = 0,
        interval: float = 0,
        batch: int = BATCH,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.leases = leases
        self.refresher = refresher
        self.horizon = horizon
        self.idle_seconds = idle_days * 86400
        if interval <= 0:
            interval = max(5, horizon // 4) if horizon > 0 else 300
        self.interval = interval
        self.batch = batch
        self.clock = clock
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbound-refresh-ahead")

    async def stop(self) -> None:
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def _run(self) -> None:
        # Audited as the system's own refreshes (this task's context only).
        set_caller(Caller(trigger="background"))
        # Servers started together would otherwise run their rounds in lockstep.
        await asyncio.sleep(random.uniform(0, self.interval))
        while True:
            try:
                await self.run_once()
            except Exception as exc:
                # The type only: a driver error may quote a row, and a row may hold a secret.
                logger.error("refresh-ahead round failed: %s", type(exc).__name__)
            await asyncio.sleep(self.interval)

    async def run_once(self) -> int:
        """One round; how many of its tokens came out refreshed (by this server, or by another
        while this one waited on its lease)."""
        now = int(self.clock())
        due = await self.leases.expiring(now, self.horizon, self.batch) if self.horizon else []
        if self.idle_seconds:
            seen = set(due)
            idle = await self.leases.idle(now, now - self.idle_seconds, self.batch)
            due += [token for token in idle if token not in seen]
        # Another server picked the same batch: starting from different ends spreads the work
        # instead of queuing both behind the same leases.
        random.shuffle(due)
        slots = asyncio.Semaphore(CONCURRENCY)

        async def one(project_id: str, token_id: str) -> bool:
            async with slots:
                return await self._refresh(project_id, token_id)

        done = await asyncio.gather(*(one(p, t) for p, t in due))
        return sum(done)

    async def _refresh(self, project_id: str, token_id: str) -> bool:
        try:
            found = await self.leases.read(project_id, token_id)
            if found is None:
                return False  # deleted meanwhile
            token, claim = found
            now = self.clock()
            expiring = (
                self.horizon > 0
                and token.access_token_expiry > 0
                and token.access_token_expiry <= now + self.horizon
            )
            idle = bool(self.idle_seconds) and token.last_refresh_time < now - self.idle_seconds
            if (
                token.needs_reconnect
                or claim.held(now)
                or token.refresh_token is None
                or not (expiring or idle)
            ):
                return False  # another server has it, or has refreshed it already
            refreshed = await self.refresher.refresh(token, force=False)
        except ApiError as exc:
            # API error messages never carry a secret (see errors.py).
            logger.warning(
                "refresh ahead of token %s failed: %s %s", token_id, exc.code, exc.message
            )
            return False
        except Exception as exc:
            logger.error("refresh ahead of token %s failed: %s", token_id, type(exc).__name__)
            return False
        if refreshed.version != token.version:
            logger.debug("refreshed token %s ahead of its expiry", token_id)
        return refreshed.version != token.version
