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

from outbound.crypto import DecryptionError
from outbound.secret import Secret
from outbound.server.background.webhook_delivery import (
    WebhookSender,
    _count,
    next_attempt_delay,
    sign,
)
from outbound.server.background.webhook_http import PostResult
from outbound.storage.webhooks import Attempt, Delivery, Due

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


# -- the sender's pass, in this process: limits, outcomes, what is recorded -------------------


class FakeStore:
    """The parts of ``WebhookStore`` the sender uses, in memory."""

    def __init__(self, due: list[Due], secrets_: dict[str, tuple[str, list[Secret]]]) -> None:
        self._due = due
        self._secrets = secrets_
        self.due_calls: list[tuple[int, int]] = []
        self.claims: list[tuple[str, float, list[str]]] = []
        self.recorded: list[tuple[Delivery, str, Attempt, bool, float | None]] = []

    async def due(self, limit: int, *, per_webhook: int) -> list[Due]:
        self.due_calls.append((limit, per_webhook))
        return self._due[:limit]

    async def claim(self, owner: str, lease: float, ids: list[str]) -> list[Delivery]:
        self.claims.append((owner, lease, list(ids)))
        whose = {d.id: d for d in self._due}
        return [
            delivery(id=i, webhook_id=whose[i].webhook_id, project_id=whose[i].project_id)
            for i in ids
        ]

    async def signing_secrets(self, webhook_id: str, now: float) -> tuple[str, list[Secret]]:
        found = self._secrets.get(webhook_id)
        if found is None:
            raise DecryptionError("sealed value failed authentication")
        return found

    async def record_attempt(
        self,
        delivery: Delivery,
        owner: str,
        attempt: Attempt,
        *,
        delivered: bool,
        next_attempt_at: float | None,
    ) -> None:
        self.recorded.append((delivery, owner, attempt, delivered, next_attempt_at))


class Answers:
    """An HTTP client answering each URL with a fixed status, holding sends until released."""

    def __init__(self, statuses: dict[str, int]) -> None:
        self.statuses = statuses
        self.release = asyncio.Event()
        self.posts: list[str] = []

    async def post(self, url: str, headers: dict[str, str], body: bytes) -> PostResult:
        self.posts.append(url)
        await self.release.wait()
        status = self.statuses[url]
        return PostResult(status, "" if status else "connection refused")

    async def aclose(self) -> None:
        pass


def sender_for(store: FakeStore, http: Answers, **options: Any) -> WebhookSender:
    sender = WebhookSender(store, retry_base=10, retry_for=60, **options)  # type: ignore[arg-type]
    sender.http = http  # type: ignore[assignment]
    return sender


def test_a_pass_keeps_to_the_limits_per_server_project_and_webhook() -> None:
    due = [Due(f"d{i}", "prj_a", f"wh_{i % 2}") for i in range(10)]
    due += [Due("b0", "prj_b", "wh_b"), Due("b1", "prj_b", "wh_b")]
    url = "https://r.example/"
    store = FakeStore(due, {w: (url, [Secret(CURRENT)]) for w in ("wh_0", "wh_1", "wh_b")})
    http = Answers({url: 204})

    async def run() -> None:
        sender = sender_for(store, http, concurrency=6, per_project=3, per_endpoint=2)
        assert sender.lease == sender.timeout + 5
        assert await sender.run_once() == 5
        # candidates: four times the free slots, at most per_endpoint of one webhook
        assert store.due_calls == [(24, 2)]
        [(owner, lease, ids)] = store.claims
        assert (owner, lease) == (sender.owner, sender.timeout + 5)
        # prj_a: 3 (wh_0 twice, wh_1 once — per_project stops it), then prj_b's webhook twice
        assert ids == ["d0", "d1", "d2", "b0", "b1"]
        assert sender._per_project == {"prj_a": 3, "prj_b": 2}
        assert sender._per_webhook == {"wh_0": 2, "wh_1": 1, "wh_b": 2}
        # one slot left: the next pass takes at most one (prj_a and wh_b are full)
        store._due = [Due("d9", "prj_a", "wh_1"), Due("c0", "prj_c", "wh_c")]
        store._secrets["wh_c"] = (url, [Secret(CURRENT)])
        assert await sender.run_once() == 1
        assert store.claims[-1][2] == ["c0"]
        assert store.due_calls[-1] == (4, 2)
        # a full server claims nothing and asks for nothing
        assert await sender.run_once() == 0
        assert len(store.due_calls) == 2
        http.release.set()
        while sender._sending:
            await asyncio.sleep(0.01)
        # every slot is free again, and nothing is left counted
        assert sender._per_project == {} and sender._per_webhook == {}
        assert len(store.recorded) == 6
        await sender.stop()

    asyncio.run(run())


def test_each_outcome_is_recorded_with_its_reason_and_next_attempt() -> None:
    ok, failing, refused = "https://ok.example/", "https://500.example/", "https://x.example/"
    due = [
        Due("ok", "prj", "wh_ok"),
        Due("fail", "prj", "wh_fail"),
        Due("gone", "prj", "wh_gone"),
        Due("sealed", "prj", "wh_bad"),
        Due("refused", "prj", "wh_refused"),
    ]
    store = FakeStore(
        due,
        {
            "wh_ok": (ok, [Secret(CURRENT)]),
            "wh_fail": (failing, [Secret(CURRENT)]),
            "wh_gone": ("", []),
            "wh_refused": (refused, [Secret(CURRENT)]),
        },
    )
    http = Answers({ok: 204, failing: 500, refused: 0})
    http.release.set()
    clock = [10.0]  # 10 s after the delivery was written: inside retry_for

    async def run() -> None:
        sender = sender_for(store, http, clock=lambda: clock[0])
        assert await sender.run_once() == 5
        while sender._sending:
            await asyncio.sleep(0.01)
        await sender.stop()

    asyncio.run(run())
    recorded = {d.id: (owner, a, delivered, at) for d, owner, a, delivered, at in store.recorded}
    assert set(recorded) == {"ok", "fail", "sealed", "refused"}  # a deleted webhook: nothing
    for owner, attempt, _, _ in recorded.values():
        assert owner == store.claims[0][0]
        assert attempt.attempt == 0 and attempt.started_at == 10.0
        assert 0 <= attempt.duration_ms < 5000
    assert recorded["ok"][1:] == (
        Attempt(0, 10.0, recorded["ok"][1].duration_ms, 204, ""),
        True,
        None,
    )
    _, attempt, delivered, next_at = recorded["fail"]
    assert (attempt.status_code, attempt.error, delivered) == (500, "HTTP 500", False)
    assert next_at is not None and 10 + 8 <= next_at <= 10 + 12  # base 10 s, ±20 %
    _, attempt, delivered, next_at = recorded["refused"]
    assert (attempt.status_code, attempt.error, delivered) == (0, "connection refused", False)
    assert next_at is not None
    _, attempt, delivered, next_at = recorded["sealed"]
    assert attempt.status_code == 0 and not delivered and next_at is not None
    assert attempt.error == "internal error: the signing secret did not open (DecryptionError)"
    assert http.posts.count(ok) == 1 and http.posts.count(failing) == 1


@pytest.mark.parametrize(
    "status, delivered", [(199, False), (200, True), (299, True), (300, False)]
)
def test_only_a_2xx_answer_delivers(status: int, delivered: bool) -> None:
    url = "https://r.example/"
    store = FakeStore([Due("d", "prj", "wh")], {"wh": (url, [Secret(CURRENT)])})
    http = Answers({url: status})
    http.release.set()

    async def run() -> None:
        sender = sender_for(store, http, clock=lambda: 10.0)
        await sender.run_once()
        while sender._sending:
            await asyncio.sleep(0.01)
        await sender.stop()

    asyncio.run(run())
    [(_, _, attempt, got, next_at)] = store.recorded
    assert got is delivered
    assert attempt.error == ("" if delivered else f"HTTP {status}")
    assert (next_at is None) is delivered


@pytest.mark.parametrize("elapsed, retried", [(59.0, True), (60.0, False), (61.0, False)])
def test_a_delivery_is_given_up_once_retry_for_has_passed(elapsed: float, retried: bool) -> None:
    url = "https://r.example/"
    store = FakeStore([Due("d", "prj", "wh")], {"wh": (url, [Secret(CURRENT)])})
    store.claim = lambda owner, lease, ids: _claimed(  # type: ignore[method-assign]
        delivery(id="d", webhook_id="wh", retry_from=1000, attempts=3)
    )
    http = Answers({url: 503})
    http.release.set()

    async def run() -> None:
        sender = sender_for(store, http, clock=lambda: 1000.0 + elapsed)
        await sender.run_once()
        while sender._sending:
            await asyncio.sleep(0.01)
        await sender.stop()

    asyncio.run(run())
    [(_, _, _, delivered, next_at)] = store.recorded
    assert delivered is False
    if retried:
        # the fourth attempt failed: base 10 s doubled three times, ±20 %
        assert next_at is not None and 1000 + elapsed + 64 <= next_at <= 1000 + elapsed + 96
    else:
        assert next_at is None


async def _claimed(*deliveries: Delivery) -> list[Delivery]:
    return list(deliveries)


def test_counts_never_go_below_zero() -> None:
    counts = {"a": 1}
    _count(counts, "a", 1)
    assert counts == {"a": 2}
    _count(counts, "a", -1)
    assert counts == {"a": 1}
    _count(counts, "a", -1)
    assert counts == {}
    _count(counts, "b", -1)
    assert counts == {}


@pytest.mark.parametrize(
    "options, due, claimed",
    [
        # the server's slots: exactly as many as free, the rest left for the next pass
        ({"concurrency": 2}, [("a", "p1", "w1"), ("b", "p2", "w2"), ("c", "p3", "w3")], ["a", "b"]),
        # one per project: each project's first is taken, its second left
        ({"per_project": 1}, [("a", "p1", "w1"), ("b", "p1", "w2"), ("c", "p2", "w3")], ["a", "c"]),
        # one per webhook: the same for a webhook
        (
            {"per_endpoint": 1},
            [("a", "p1", "w1"), ("b", "p2", "w1"), ("c", "p2", "w2")],
            ["a", "c"],
        ),
    ],
)
def test_each_limit_is_reached_exactly(
    options: dict[str, int], due: list[tuple[str, str, str]], claimed: list[str]
) -> None:
    url = "https://r.example/"
    store = FakeStore([Due(*d) for d in due], {w: (url, [Secret(CURRENT)]) for _, _, w in due})
    http = Answers({url: 204})

    async def run() -> None:
        sender = sender_for(store, http, **options)
        assert await sender.run_once() == len(claimed)
        assert store.claims[0][2] == claimed
        assert {task.get_name() for task in sender._sending} == {"outbound-webhook-send"}
        http.release.set()
        await sender.stop()
        # stopped: no send left running, the pass loop gone
        assert sender._task is None
        assert all(task.done() for task in sender._sending) or not sender._sending

    asyncio.run(run())


def test_a_finished_send_frees_exactly_its_own_slot_and_reports_a_failure(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def run() -> None:
        sender = WebhookSender(None, retry_base=1, retry_for=60)  # type: ignore[arg-type]
        sent = delivery(id="dlv_9", project_id="prj_1", webhook_id="wh_1")

        async def ok() -> None:
            pass

        async def broken() -> None:
            raise RuntimeError("store unreachable")

        for body, expect_log in ((ok, False), (broken, True)):
            sender._per_project, sender._per_webhook = {"prj_1": 2}, {"wh_1": 2}
            sender._finished.clear()
            task = asyncio.create_task(body())
            sender._sending.add(task)
            await asyncio.wait([task])
            caplog.clear()
            sender._sent(sent, task)
            assert task not in sender._sending
            assert sender._per_project == {"prj_1": 1} and sender._per_webhook == {"wh_1": 1}
            assert sender._finished.is_set()
            messages = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
            assert messages == (["webhook delivery dlv_9: RuntimeError"] if expect_log else [])
        cancelled = asyncio.create_task(asyncio.sleep(10))
        cancelled.cancel()
        await asyncio.wait([cancelled])
        caplog.clear()
        sender._sent(sent, cancelled)  # a send cut short by stop(): not an error
        assert not [r for r in caplog.records if r.levelname == "ERROR"]

    with caplog.at_level("ERROR", logger="outbound.server"):
        asyncio.run(run())


def test_the_pass_loop_survives_a_failing_pass_and_stops(caplog: pytest.LogCaptureFixture) -> None:
    class Failing(FakeStore):
        async def due(self, limit: int, *, per_webhook: int) -> list[Due]:
            self.due_calls.append((limit, per_webhook))
            if len(self.due_calls) == 1:
                raise RuntimeError("database gone")
            return []

    store = Failing([], {})

    async def run() -> None:
        sender = sender_for(store, Answers({}), poll=0.05)
        sender.start()
        assert sender._task is not None and sender._task.get_name() == "outbound-webhooks"
        deadline = time.monotonic() + 10
        while len(store.due_calls) < 3 and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        task = sender._task
        await sender.stop()
        assert task.done() and sender._task is None

    with caplog.at_level("ERROR", logger="outbound.server"):
        started = time.monotonic()
        asyncio.run(run())
        took = time.monotonic() - started
    # passed again after the failure, at the poll interval (not in a busy loop)
    assert len(store.due_calls) >= 3
    assert len(store.due_calls) < 2 + took / 0.05 + 5
    assert [r.getMessage() for r in caplog.records if r.levelname == "ERROR"] == [
        "webhook pass failed: RuntimeError"
    ]


def test_the_signature_does_not_depend_on_the_servers_time_zone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The signed timestamp is the integer sent in ``webhook-timestamp``, whatever the
    server's local time zone: a naive local time read as UTC by the library would shift it
    by the zone's offset, and every receiver outside UTC+0 servers would refuse it."""
    now = int(time.time())
    try:
        monkeypatch.setenv("TZ", "Asia/Kolkata")  # UTC+5:30, no daylight saving
        time.tzset()
        signature = sign([CURRENT], "evt_1", now, BODY)
    finally:
        monkeypatch.undo()
        time.tzset()
    Webhook(CURRENT).verify(BODY, headers(signature, "evt_1", now))
