"""Webhook signing and retry timing in this process (so that mutation testing can see them):
what a receiver verifies with the official Standard Webhooks library, and how long the sender
waits between attempts."""

from __future__ import annotations

import asyncio
import base64
import time
from typing import Any

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from outbound.server.webhook_http import PostResult
from outbound.server.webhooks import WebhookSender, next_attempt_delay, sign
from outbound.storage.webhooks import Delivery

CURRENT = "whsec_" + base64.b64encode(b"c" * 32).decode()
PREVIOUS = "whsec_" + base64.b64encode(b"p" * 32).decode()
OTHER = "whsec_" + base64.b64encode(b"o" * 32).decode()
BODY = '{"type":"connection.created","data":{"userId":"u1"}}'


def headers(signature: str, msg_id: str, timestamp: int) -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature,
    }


def test_a_receiver_verifies_the_signature_with_its_secret() -> None:
    now = int(time.time())
    signature = sign([CURRENT], "evt_1", now, BODY)
    assert signature.startswith("v1,") and " " not in signature
    Webhook(CURRENT).verify(BODY, headers(signature, "evt_1", now))


@pytest.mark.parametrize(
    "secret, msg_id, body, timestamp_shift",
    [
        (OTHER, "evt_1", BODY, 0),  # another secret
        (CURRENT, "evt_2", BODY, 0),  # another event id
        (CURRENT, "evt_1", BODY + " ", 0),  # another body
        (CURRENT, "evt_1", BODY, 1),  # another timestamp
    ],
)
def test_a_signature_covers_the_id_the_timestamp_and_the_body(
    secret: str, msg_id: str, body: str, timestamp_shift: int
) -> None:
    now = int(time.time())
    signature = sign([CURRENT], "evt_1", now, BODY)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body, headers(signature, msg_id, now + timestamp_shift))


def test_during_a_rotation_both_secrets_verify() -> None:
    now = int(time.time())
    signature = sign([CURRENT, PREVIOUS], "evt_1", now, BODY)
    assert len(signature.split(" ")) == 2
    for secret in (CURRENT, PREVIOUS):
        Webhook(secret).verify(BODY, headers(signature, "evt_1", now))
    with pytest.raises(WebhookVerificationError):
        Webhook(OTHER).verify(BODY, headers(signature, "evt_1", now))


class Recorder:
    def __init__(self) -> None:
        self.posts: list[tuple[str, dict[str, str], bytes]] = []

    async def post(self, url: str, headers: dict[str, str], body: bytes) -> PostResult:
        self.posts.append((url, headers, body))
        return PostResult(204, "")


def delivery(**changes: Any) -> Delivery:
    fields: dict[str, Any] = {
        "id": "dlv_1",
        "webhook_id": "wh_1",
        "project_id": "prj_1",
        "event_id": "evt_1",
        "event_type": "connection.created",
        "payload": BODY,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": 0.0,
        "retry_from": 0,
        "created_at": 0,
        "delivered_at": None,
    }
    return Delivery(**(fields | changes))


def test_an_attempt_is_signed_for_the_event_not_the_delivery() -> None:
    sender = WebhookSender(None, retry_base=1, retry_for=60)  # type: ignore[arg-type]
    recorder = Recorder()
    sender.http = recorder  # type: ignore[assignment]
    now = int(time.time()) + 0.7
    result = asyncio.run(
        sender.attempt(delivery(), "https://receiver.example/hook", [CURRENT], now)
    )
    assert result == PostResult(204, "")
    [(url, sent, body)] = recorder.posts
    assert url == "https://receiver.example/hook"
    assert body == BODY.encode()
    assert sent["content-type"] == "application/json"
    assert sent["webhook-id"] == "evt_1"
    assert sent["webhook-timestamp"] == str(int(now))
    Webhook(CURRENT).verify(body, sent)


def test_an_attempt_that_outlasts_its_deadline_is_a_timeout() -> None:
    class Slow:
        async def post(self, url: str, headers: dict[str, str], body: bytes) -> PostResult:
            await asyncio.sleep(30)
            raise AssertionError("not reached")

    sender = WebhookSender(None, retry_base=1, retry_for=60, timeout=0.05)  # type: ignore[arg-type]
    sender.http = Slow()  # type: ignore[assignment]
    result = asyncio.run(sender.attempt(delivery(), "https://r.example/", [CURRENT], 0.0))
    assert result == PostResult(0, "timeout: no answer within 0.05 s")


@pytest.mark.parametrize(
    "attempts, base, low, high",
    [
        (1, 10.0, 8.0, 12.0),
        (2, 10.0, 16.0, 24.0),
        (4, 10.0, 64.0, 96.0),
        (20, 10.0, 3600 * 0.8, 3600 * 1.2),  # capped at an hour
        (10_000, 1.0, 3600 * 0.8, 3600 * 1.2),  # no overflow on a long outage
    ],
)
def test_attempts_back_off_doubling_with_jitter_up_to_an_hour(
    attempts: int, base: float, low: float, high: float
) -> None:
    delays = [next_attempt_delay(attempts, base) for _ in range(200)]
    assert all(low <= d <= high for d in delays)
    # jitter: receivers coming back are not all hit at the same moment
    assert len(set(delays)) > 150
    assert min(delays) < low + (high - low) * 0.25 and max(delays) > high - (high - low) * 0.25
