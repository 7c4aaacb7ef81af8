"""The webhook sender: every server runs one; together they deliver each outbox row.

Each pass claims due deliveries (``WebhookStore.due`` and ``claim``: one server wins each, for
``WEBHOOK_TIMEOUT`` + a margin), signs them per Standard Webhooks — ``webhook-id`` (the event's
id, the same on every attempt), ``webhook-timestamp``, ``webhook-signature`` with one ``v1,``
signature per live secret (two during a rotation's overlap) — and POSTs them. A 2xx answer
marks the delivery delivered; anything else — another status, a name that does not resolve,
an address the network guard refuses, a TLS error, a refused or reset connection, no answer
within the attempt's deadline — is recorded as an attempt with its reason and schedules the
next attempt on an exponential, jittered schedule, until ``retry_for`` seconds
have passed since the delivery was written (or manually retried): then it is ``failed`` and
waits for a manual retry. A server that dies mid-send leaves a claim that lapses; another
server sends the delivery again (at least once — receivers deduplicate on ``webhook-id``).

Receivers cannot hold each other up: each attempt has one overall deadline (``timeout``: name
resolution, connection, TLS and the answer's headers together — a receiver dripping its
answer a byte at a time is cut off there), and each claimed delivery is sent by a task of its
own, so the next pass claims while slow sends are still running. A server sends at most
``CONCURRENCY`` deliveries at once, ``PER_PROJECT`` of one project (a project whose
receivers are all slow never takes every slot) and ``PER_ENDPOINT`` to one webhook; due
deliveries are taken in turns across projects (``WebhookStore.due``), so one project's
backlog never queues another project's deliveries behind it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime

from standardwebhooks import Webhook

from ...background import stop_task
from ...net.guard import NetworkPolicy
from ...storage.webhooks import Attempt, Delivery, WebhookStore
from .webhook_http import WEBHOOK_TIMEOUT, PostResult, WebhookHTTP

__all__ = ["WebhookSender", "next_attempt_delay", "sign"]

logger = logging.getLogger("outbound.server.background.webhook_delivery")

# Longest wait between two attempts.
RETRY_CAP = 3600.0
POLL_SECONDS = 0.5
# Sends in flight on one server; of one project (so that a project whose receivers are all
# slow never takes every slot); to one webhook (the receiver's share).
CONCURRENCY = 32
PER_PROJECT = 8
PER_ENDPOINT = 4


def next_attempt_delay(attempts: int, base: float) -> float:
    """Seconds before the attempt after ``attempts`` failed ones: ``base``, doubling,
    capped at an hour, ±20 % at random so that receivers coming back are not hit in step."""
    delay: float = min(RETRY_CAP, base * 2 ** min(attempts - 1, 30))
    return delay * random.uniform(0.8, 1.2)


def _count(counts: dict[str, int], key: str, change: int) -> None:
    left = counts.get(key, 0) + change
    if left > 0:
        counts[key] = left
    else:
        counts.pop(key, None)


def sign(secrets_: list[str], msg_id: str, timestamp: int, body: str) -> str:
    """The ``webhook-signature`` header: a space-separated ``v1,…`` per secret."""
    when = datetime.fromtimestamp(timestamp, UTC)
    return " ".join(Webhook(secret).sign(msg_id, when, body) for secret in secrets_)


class WebhookSender:
    def __init__(
        self,
        store: WebhookStore,
        *,
        retry_base: float,
        retry_for: float,
        timeout: float = WEBHOOK_TIMEOUT,
        poll: float = POLL_SECONDS,
        clock: Callable[[], float] = time.time,
        network: NetworkPolicy | None = None,
        concurrency: int = CONCURRENCY,
        per_endpoint: int = PER_ENDPOINT,
        per_project: int = PER_PROJECT,
    ) -> None:
        self.store = store
        self.retry_base = retry_base
        self.retry_for = retry_for
        self.timeout = timeout
        self.http = WebhookHTTP(timeout, network)
        # The claim outlives the longest send (each starts at once, under one deadline), so
        # its holder always finishes first.
        self.lease = timeout + 5
        self.poll = poll
        self.clock = clock
        self.concurrency = concurrency
        self.per_endpoint = per_endpoint
        self.per_project = per_project
        self.owner = secrets.token_hex(8)
        self._task: asyncio.Task[None] | None = None
        self._sending: set[asyncio.Task[None]] = set()
        # sends in flight here, per project and per webhook
        self._per_project: dict[str, int] = {}
        self._per_webhook: dict[str, int] = {}
        self._finished = asyncio.Event()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbound-webhooks")

    async def stop(self) -> None:
        await stop_task(self._task)
        self._task = None
        # A send cut short leaves its claim to lapse: another server (or this one, restarted)
        # sends the delivery again.
        for task in list(self._sending):
            await stop_task(task)
        await self.http.aclose()

    async def _run(self) -> None:
        while True:
            try:
                claimed = await self.run_once()
            except Exception as exc:
                # The type only: a driver error may quote a row.
                logger.error("webhook pass failed: %s", type(exc).__name__)
                claimed = 0
            if not claimed:
                # Until the poll interval passes or a send ends (its slot is free again).
                self._finished.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.poll):
                        await self._finished.wait()

    async def run_once(self) -> int:
        """Claim what is due and start sending it, each delivery in a task of its own; how
        many deliveries were claimed."""
        free = self.concurrency - len(self._sending)
        if free <= 0:
            return 0
        # Candidates in turns across projects; taken while their project and webhook have
        # room here. More than ``free`` of them, so that a project or webhook at its limit
        # leaves its turn to the next.
        candidates = await self.store.due(free * 4, per_webhook=self.per_endpoint)
        projects, webhooks = dict(self._per_project), dict(self._per_webhook)
        chosen: list[str] = []
        for due in candidates:
            if len(chosen) >= free:
                break
            if (
                projects.get(due.project_id, 0) >= self.per_project
                or webhooks.get(due.webhook_id, 0) >= self.per_endpoint
            ):
                continue
            projects[due.project_id] = projects.get(due.project_id, 0) + 1
            webhooks[due.webhook_id] = webhooks.get(due.webhook_id, 0) + 1
            chosen.append(due.id)
        claimed = await self.store.claim(self.owner, self.lease, chosen)
        for delivery in claimed:
            _count(self._per_project, delivery.project_id, 1)
            _count(self._per_webhook, delivery.webhook_id, 1)
            task = asyncio.create_task(self._send(delivery), name="outbound-webhook-send")
            self._sending.add(task)
            task.add_done_callback(functools.partial(self._sent, delivery))
        return len(claimed)

    def _sent(self, delivery: Delivery, task: asyncio.Task[None]) -> None:
        self._sending.discard(task)
        _count(self._per_project, delivery.project_id, -1)
        _count(self._per_webhook, delivery.webhook_id, -1)
        self._finished.set()
        if not task.cancelled() and task.exception() is not None:
            # Only the recording can fail (the store is unreachable): the claim lapses and
            # the delivery is sent again.
            logger.error("webhook delivery %s: %s", delivery.id, type(task.exception()).__name__)

    async def attempt(
        self, delivery: Delivery, url: str, keys: list[str], now: float
    ) -> PostResult:
        """One attempt, under its overall deadline."""
        timestamp = int(now)
        headers = {
            "content-type": "application/json",
            "webhook-id": delivery.event_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(keys, delivery.event_id, timestamp, delivery.payload),
        }
        try:
            async with asyncio.timeout(self.timeout):
                return await self.http.post(url, headers, delivery.payload.encode())
        except TimeoutError:
            return PostResult(0, f"timeout: no answer within {self.timeout:g} s")

    async def _send(self, delivery: Delivery) -> None:
        now = self.clock()
        started = time.monotonic()
        try:
            url, keys = await self.store.signing_secrets(delivery.webhook_id, now)
        except Exception as exc:
            # A secret that does not open (its key dropped too early): an attempt like any
            # other failure, so it shows and is retried once the key is back.
            result = PostResult(
                0, f"internal error: the signing secret did not open ({type(exc).__name__})"
            )
        else:
            if not url:
                return  # the webhook was deleted (its deliveries with it)
            result = await self.attempt(delivery, url, [key.reveal() for key in keys], now)
        duration_ms = int((time.monotonic() - started) * 1000)
        delivered = 200 <= result.status_code < 300
        error = result.error or ("" if delivered else f"HTTP {result.status_code}")
        next_at: float | None = None
        if not delivered:
            done = self.clock()
            if done - delivery.retry_from < self.retry_for:
                next_at = done + next_attempt_delay(delivery.attempts + 1, self.retry_base)
            logger.warning(
                "webhook delivery %s (%s) to webhook %s failed: %s; %s",
                delivery.id,
                delivery.event_type,
                delivery.webhook_id,
                error,
                "retrying" if next_at else "giving up (retry it by hand)",
            )
        await asyncio.shield(
            self.store.record_attempt(
                delivery,
                self.owner,
                Attempt(0, now, duration_ms, result.status_code, error),
                delivered=delivered,
                next_attempt_at=next_at,
            )
        )
