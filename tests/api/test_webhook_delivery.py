"""Webhook deliveries fail in every way a network can fail, and each failure is an attempt;
no receiver, however slow, holds up another's deliveries.

Each test runs its own server on a store of its own: a server of another test sharing the
store would send these deliveries too, on its own schedule and network policy.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import new_store
from tests.support.server import LiveServer, Store, running_server
from tests.support.webhook_receiver import WebhookReceiver, wait_until

WEBHOOK_TIMEOUT = 8.0
# B's delivery must come sooner than A's deadline could free anything
WELL_BEFORE = WEBHOOK_TIMEOUT / 2
FAST = ["--webhook-retry-base", "0.5", "--webhook-timeout", str(WEBHOOK_TIMEOUT)]


@pytest.fixture
def own_store(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    with new_store(backend, tmp_path_factory) as store:
        yield store


def api_key_app(client: httpx.Client) -> str:
    response = client.post(
        "/v1/mgmt/outbound/app/create", json={"name": "keys", "appType": "apikey"}
    )
    assert response.status_code == 200, response.text
    return str(response.json()["app"]["id"])


def add_webhook(client: httpx.Client, url: str, receiver: WebhookReceiver | None = None) -> str:
    response = client.post(
        "/v1/mgmt/outbound/webhooks", json={"url": url, "events": ["connection.created"]}
    )
    assert response.status_code == 200, response.text
    if receiver is not None:
        receiver.secrets.append(response.json()["secret"])
    return str(response.json()["webhook"]["id"])


def connect_user(client: httpx.Client, app_id: str, user: str) -> None:
    """A connection.created event: an API key stored for a new user."""
    response = client.post(
        "/v1/mgmt/outbound/app/user/apikey/upload",
        json={"appId": app_id, "userId": user, "apiKey": "key-" + user},
    )
    assert response.status_code == 200, response.text


def deliveries(client: httpx.Client, webhook_id: str) -> list[dict[str, Any]]:
    response = client.get(f"/v1/mgmt/outbound/webhooks/{webhook_id}/deliveries")
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["deliveries"]
    return found


def project_client(server: LiveServer, project: tuple[str, str]) -> httpx.Client:
    return httpx.Client(
        base_url=server.base_url,
        headers={"Authorization": f"Bearer {project[0]}:{project[1]}"},
        timeout=30,
    )


def test_a_webhook_to_a_host_that_does_not_resolve_gets_attempts_with_the_dns_reason(
    own_store: Store,
) -> None:
    # The default retry schedule: the first attempt comes at once, the second after
    # --webhook-retry-base (5 s); the first must be on record before the second is due.
    retry_base = 5.0
    with running_server(own_store) as server, server.client() as client:
        app_id = api_key_app(client)
        # .invalid never resolves (RFC 6761); https, so creation accepts it unresolved
        webhook_id = add_webhook(client, "https://hooks.nowhere.invalid/in")
        connect_user(client, app_id, "alice")
        written = time.monotonic()
        [delivery] = wait_until(
            lambda: [d for d in deliveries(client, webhook_id) if d["attempts"]],
            retry_base,
            "no attempt recorded within one retry interval",
        )
        assert time.monotonic() - written < retry_base
        [attempt] = delivery["attempts"][:1]
        assert attempt["statusCode"] == 0
        assert attempt["error"] == "DNS: the host name does not resolve"
        assert delivery["status"] == "pending"  # retried on the schedule
        assert int(delivery["nextAttemptTime"]) >= int(attempt["time"])
        # the CLI shows the same
        cli = subprocess.run(
            [sys.executable, "-m", "outbound", "webhooks", "deliveries", webhook_id],
            capture_output=True,
            text=True,
            timeout=60,
            env={
                **os.environ,
                "OUTBOUND_BASE_URL": server.base_url,
                "OUTBOUND_PROJECT_ID": server.project_id,
                "OUTBOUND_MANAGEMENT_KEY": server.management_key,
            },
        )
        assert cli.returncode == 0, cli.stderr
        [line] = cli.stdout.splitlines()
        assert "DNS: the host name does not resolve" in [
            a["error"] for a in json.loads(line)["attempts"]
        ]
        assert "webhook pass failed" not in server.log()


def test_a_receiver_that_refuses_connections_gets_attempts_with_the_reason(
    own_store: Store,
) -> None:
    receiver = WebhookReceiver()  # never started: its port refuses connections
    with running_server(own_store, extra_args=FAST) as server, server.client() as client:
        app_id = api_key_app(client)
        webhook_id = add_webhook(client, receiver.url)
        connect_user(client, app_id, "bob")
        [delivery] = wait_until(
            lambda: [d for d in deliveries(client, webhook_id) if len(d["attempts"]) >= 2],
            20,
            "the refused delivery was not retried",
        )
        assert {a["error"] for a in delivery["attempts"]} == {"connection refused"}


def test_a_receiver_dripping_its_answer_neither_holds_its_attempt_nor_another_project(
    own_store: Store,
) -> None:
    """Project A's receiver answers a byte a second, forever; project B's delivery, written
    while A's is held, still arrives within seconds, and A's attempt ends at the deadline."""
    with (
        WebhookReceiver() as slow,
        WebhookReceiver() as fast,
        running_server(own_store, extra_args=FAST) as server,
    ):
        slow.drip = True
        a = project_client(server, (server.project_id, server.management_key))
        b = project_client(server, own_store.new_project())
        with a, b:
            a_app, b_app = api_key_app(a), api_key_app(b)
            a_hook = add_webhook(a, slow.url, slow)
            add_webhook(b, fast.url, fast)
            connect_user(a, a_app, "a-user")
            wait_until(lambda: slow.busy, 20, "project A's delivery never reached its receiver")
            held_since = time.monotonic()
            connect_user(b, b_app, "b-user")
            fast.wait_for("connection.created", timeout=WELL_BEFORE, userId="b-user")
            # A's attempt is cut off at the overall deadline, though a byte came every second
            [delivery] = wait_until(
                lambda: [d for d in deliveries(a, a_hook) if d["attempts"]],
                WEBHOOK_TIMEOUT + 10,
                "project A's attempt never ended",
            )
            assert delivery["attempts"][0]["error"].startswith("timeout")
            assert delivery["attempts"][0]["durationMs"] < (WEBHOOK_TIMEOUT + 2) * 1000
            assert time.monotonic() - held_since < WEBHOOK_TIMEOUT + 10


def test_one_webhook_gets_at_most_four_deliveries_at_once(own_store: Store) -> None:
    with (
        WebhookReceiver() as receiver,
        running_server(own_store, extra_args=FAST) as server,
        server.client() as client,
    ):
        receiver.hold = True
        app_id = api_key_app(client)
        webhook_id = add_webhook(client, receiver.url, receiver)
        for n in range(12):
            connect_user(client, app_id, f"user-{n}")
        wait_until(lambda: receiver.busy >= 4, 20, "the deliveries were not sent")
        # hold them a while (well within the attempt's deadline): a sender without a
        # per-webhook limit sends more meanwhile
        deadline = time.monotonic() + WELL_BEFORE / 2
        while time.monotonic() < deadline:
            assert receiver.busy <= 4
            time.sleep(0.05)
        receiver.hold = False
        wait_until(
            lambda: len(receiver.events("connection.created")) >= 12,
            60,
            "not every delivery arrived once the receiver answered",
        )
        assert receiver.busy_max == 4
        wait_until(
            lambda: all(d["status"] == "delivered" for d in deliveries(client, webhook_id)),
            20,
            "answered deliveries not marked delivered",
        )


def test_a_project_whose_receivers_are_all_slow_takes_no_other_projects_turn(
    own_store: Store,
) -> None:
    """Project A has 50 webhooks whose receiver takes every delivery in and never answers:
    its 50 deliveries could fill every sending slot of the server for a whole deadline.
    Project B's delivery, written after them, still arrives within seconds."""
    with (
        WebhookReceiver() as held,
        WebhookReceiver() as fast,
        running_server(own_store, extra_args=FAST) as server,
    ):
        held.hold = True
        a = project_client(server, (server.project_id, server.management_key))
        b = project_client(server, own_store.new_project())
        with a, b:
            a_app, b_app = api_key_app(a), api_key_app(b)
            for _ in range(50):
                add_webhook(a, held.url, held)
            add_webhook(b, fast.url, fast)
            connect_user(a, a_app, "a-user")
            wait_until(lambda: held.busy >= 8, 20, "project A's deliveries were not sent")
            connect_user(b, b_app, "b-user")
            fast.wait_for("connection.created", timeout=WELL_BEFORE, userId="b-user")
            assert held.busy_max <= 8  # a project's share of the server's sends


class HangUp:
    """A listener that takes each request in and resets the connection (RST, no answer)."""

    def __init__(self) -> None:
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = self._sock.accept()
                conn.recv(65536)
                # linger 0: close() sends a reset, not a FIN
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                conn.close()

    def close(self) -> None:
        self._sock.close()


def test_tls_failures_and_resets_are_attempts_with_their_reasons(own_store: Store) -> None:
    hang_up = HangUp()
    try:
        with (
            WebhookReceiver() as plain,
            running_server(own_store, extra_args=FAST) as server,
            server.client() as client,
        ):
            app_id = api_key_app(client)
            # https to a listener that speaks plain http: the TLS handshake fails
            tls = add_webhook(client, f"https://127.0.0.1:{plain.port}/hooks")
            reset = add_webhook(client, f"http://127.0.0.1:{hang_up.port}/hooks")
            connect_user(client, app_id, "carol")
            for webhook_id, reason in (
                (tls, "TLS error: WRONG_VERSION_NUMBER"),
                (reset, "connection reset by the receiver"),
            ):

                def retried(webhook_id: str = webhook_id) -> list[dict[str, Any]]:
                    return [d for d in deliveries(client, webhook_id) if len(d["attempts"]) >= 2]

                [delivery] = wait_until(retried, 20, f"no retried attempts for {reason}")
                assert delivery["status"] == "pending"
                assert {a["error"] for a in delivery["attempts"]} == {reason}
    finally:
        hang_up.close()
