"""The webhook sender: every server runs one; together they deliver each outbox row.

Each pass claims due deliveries (``WebhookStore.claim_due``: one server wins each, for
``WEBHOOK_TIMEOUT`` + a margin), signs them per Standard Webhooks — ``webhook-id`` (the event's
id, the same on every attempt), ``webhook-timestamp``, ``webhook-signature`` with one ``v1,``
signature per live secret (two during a rotation's overlap) — and POSTs them. A 2xx answer
marks the delivery delivered; anything else (another status, a refused connection, a timeout)
schedules the next attempt on an exponential, jittered schedule, until ``retry_for`` seconds
have passed since the delivery was written (or manually retried): then it is ``failed`` and
waits for a manual retry. A server that dies mid-send leaves a claim that lapses; another
server sends the delivery again (at least once — receivers deduplicate on ``webhook-id``).
"""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime

from standardwebhooks import Webhook

from ..background import stop_task
from ..oauth.netguard import NetworkPolicy
from ..storage.webhooks import Attempt, Delivery, WebhookStore
from .webhook_http import WEBHOOK_TIMEOUT, WebhookHTTP

__all__ = ["WebhookSender", "next_attempt_delay", "sign"]

logger = logging.getLogger("outbound.server.webhooks")

# Longest wait between two attempts.
RETRY_CAP = 3600.0
POLL_SECONDS = 0.5
BATCH = 20
CONCURRENCY = 8


def next_attempt_delay(attempts: int, base: float) -> float:
    """Seconds before the attempt after ``attempts`` failed ones: ``base``, doubling,
    capped at an hour, ±20 % at random so that receivers coming back are not hit in step."""
    delay: float = min(RETRY_CAP, base * 2 ** min(attempts - 1, 30))
    return delay * random.uniform(0.8, 1.2)


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
    ) -> None:
        self.store = store
        self.retry_base = retry_base
        self.retry_for = retry_for
        self.http = WebhookHTTP(timeout, network)
        # The claim outlives the longest send, so its holder always finishes first.
        self.lease = timeout + 5
        self.poll = poll
        self.clock = clock
        self.owner = secrets.token_hex(8)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbound-webhooks")

    async def stop(self) -> None:
        await stop_task(self._task)
        self._task = None
        await self.http.aclose()

    async def _run(self) -> None:
        while True:
            try:
                sent = await self.run_once()
            except Exception as exc:
                # The type only: a driver error may quote a row.
                logger.error("webhook pass failed: %s", type(exc).__name__)
                sent = 0
            if not sent:
                await asyncio.sleep(self.poll)

    async def run_once(self) -> int:
        """Claim and send what is due; how many deliveries were attempted."""
        due = await self.store.claim_due(self.owner, self.lease, BATCH)
        slots = asyncio.Semaphore(CONCURRENCY)

        async def one(delivery: Delivery) -> None:
            async with slots:
                await self._send(delivery)

        await asyncio.gather(*(one(delivery) for delivery in due))
        return len(due)

    async def _send(self, delivery: Delivery) -> None:
        now = self.clock()
        url, keys = await self.store.signing_secrets(delivery.webhook_id, now)
        if not url:
            return  # the webhook was deleted (its deliveries with it)
        timestamp = int(now)
        headers = {
            "content-type": "application/json",
            "webhook-id": delivery.event_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(
                [key.reveal() for key in keys], delivery.event_id, timestamp, delivery.payload
            ),
        }
        started = time.monotonic()
        result = await self.http.post(url, headers, delivery.payload.encode())
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
