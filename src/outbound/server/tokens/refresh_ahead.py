"""Refresh ahead: a background task that refreshes access tokens before they expire, so that a
fetch finds a fresh token instead of waiting on the provider.

Opt-in (``--refresh-ahead SECONDS``). Every server runs one; they coordinate only through the
database. Each round selects a bounded batch of tokens that nobody is refreshing and that are
due by one rule (``storage.leases.due_for_refresh_ahead``), and refreshes each under the same
lease as a fetch (:class:`~outbound.server.tokens.refresh.LeaseRefresher`). The lease is taken
only if the row still has the version the round read and still meets the rule, in one statement: a
token that a fetch or another server refreshed meanwhile is left alone. Failures are logged
— by token id and error code, never a secret — and the next round goes on; a permanent refusal
marks the token as needing reconnection, as a fetch would.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable

from ...audit import Caller, set_caller
from ...background import stop_task
from ...storage.leases import (
    Condition,
    Picked,
    RefreshLeases,
    any_of,
    due_for_refresh_ahead,
    idle_for_refresh,
)
from ..http.errors import ApiError
from .refresh import LeaseRefresher

__all__ = ["RefreshAhead"]

logger = logging.getLogger("outbound.server.tokens.refresh_ahead")

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
        await stop_task(self._task)
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

    def due(self, now: int) -> Condition:
        """What makes a token due in this server's rounds: :func:`due_for_refresh_ahead` within
        the horizon, or :func:`idle_for_refresh` — whichever is switched on."""
        rules = []
        if self.horizon:
            rules.append(due_for_refresh_ahead(now, self.horizon))
        if self.idle_seconds:
            rules.append(idle_for_refresh(now, self.idle_seconds))
        return any_of(*rules)

    async def run_once(self) -> int:
        """One round; how many of its tokens this server refreshed."""
        now = int(self.clock())
        due = await self.leases.expiring(now, self.horizon, self.batch) if self.horizon else []
        if self.idle_seconds:
            seen = {(p.project_id, p.id) for p in due}
            idle = await self.leases.idle(now, self.idle_seconds, self.batch)
            due += [p for p in idle if (p.project_id, p.id) not in seen]
        # Another server picked the same batch: starting from different ends spreads the work
        # instead of queuing both behind the same leases.
        random.shuffle(due)
        slots = asyncio.Semaphore(CONCURRENCY)

        async def one(picked: Picked) -> bool:
            async with slots:
                return await self._refresh(picked)

        done = await asyncio.gather(*(one(p) for p in due))
        return sum(done)

    async def _refresh(self, picked: Picked) -> bool:
        token_id = picked.id
        try:
            # The rule again, on the row as it is when the lease is taken, and only at the
            # version this round read: a fetch or another server may have refreshed the token
            # since, and a fresh token refreshed again would cost a grant (and, with rotation,
            # race the refresh token that was just handed out).
            now = int(self.clock())
            token = await self.leases.claim_picked(
                picked,
                self.due(now),
                self.refresher.owner,
                now + self.refresher.lease_seconds,
            )
            if token is None:
                return False  # refreshed, claimed, replaced or deleted meanwhile
            refreshed = await self.refresher.refresh_claimed(token)
        except ApiError as exc:
            # API error messages never carry a secret (see errors.py).
            logger.warning(
                "refresh ahead of token %s failed: %s %s", token_id, exc.code, exc.message
            )
            return False
        except Exception as exc:
            logger.error("refresh ahead of token %s failed: %s", token_id, type(exc).__name__)
            return False
        if refreshed is None:
            return False
        logger.debug("refreshed token %s ahead of its expiry", token_id)
        return True
