"""The webhook outbox stays bounded: at most 50 webhooks a project, even when creates race;
one stored payload per event, and one event for a change of many connections; ended
deliveries deleted after ``--webhook-retention``."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.api.test_webhook_delivery import (
    add_webhook,
    api_key_app,
    connect_user,
    deliveries,
    project_client,
)
from tests.conftest import new_store
from tests.support.server import Store, running_server
from tests.support.webhook_receiver import WebhookReceiver, wait_until

MAX_WEBHOOKS = 50


@pytest.fixture
def own_store(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    with new_store(backend, tmp_path_factory) as store:
        yield store


def count_rows(store: Store, table: str) -> int:
    """Rows of an outbox table, read from the store itself (no endpoint lists events)."""
    if store.database_url:
        import psycopg

        with psycopg.connect(store.database_url) as conn:
            row = conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()
            assert row is not None
            return int(row[0])
    with sqlite3.connect(store.data_dir / "outbound.db") as conn:
        return int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


def test_racing_creates_never_pass_the_cap_of_fifty_webhooks(own_store: Store) -> None:
    with running_server(own_store) as server, server.client() as client:
        already = MAX_WEBHOOKS - 15
        for n in range(already):
            add_webhook(client, f"https://hooks.nowhere.invalid/{n}")

        def create(n: int) -> int:
            with server.client() as racer:
                response = racer.post(
                    "/v1/mgmt/outbound/webhooks",
                    json={"url": f"https://hooks.nowhere.invalid/race-{n}"},
                )
            if response.status_code != 200:
                assert response.json()["errorCode"] == "E011004", response.text
            return response.status_code

        with ThreadPoolExecutor(30) as pool:
            statuses = list(pool.map(create, range(30)))
        assert statuses.count(200) == MAX_WEBHOOKS - already
        assert len(client.get("/v1/mgmt/outbound/webhooks").json()["webhooks"]) == MAX_WEBHOOKS


def batch_upload(client: httpx.Client, app_id: str, users: list[str]) -> float:
    """Store a token for each of ``users`` in one batch; how long the upload took."""
    started = time.monotonic()
    response = client.post(
        "/v1/mgmt/outbound/app/user/oauthtoken/batch/upload",
        json={
            "tokens": [
                {"appId": app_id, "userId": user, "accessToken": "access-" + user} for user in users
            ]
        },
    )
    assert response.status_code == 200, response.text
    assert response.json()["failures"] == []
    return time.monotonic() - started


@pytest.mark.slow
def test_a_batch_upload_to_fifty_webhooks_writes_one_event_not_fifty_thousand(
    own_store: Store,
) -> None:
    """A project with 50 webhooks uploads 1,000 tokens in one batch: one event is stored,
    one small delivery per webhook refers to it, every webhook receives one
    ``connection.batch`` event listing the 1,000 connections — and another project's upload
    and delivery meanwhile are not held up."""
    with (
        WebhookReceiver() as receiver,
        WebhookReceiver() as other_receiver,
        running_server(own_store, extra_args=["--webhook-retry-base", "0.5"]) as server,
    ):
        a = project_client(server, (server.project_id, server.management_key))
        b = project_client(server, own_store.new_project())
        with a, b:
            a_app, b_app = api_key_app(a), api_key_app(b)
            hooks = [add_webhook(a, receiver.url, receiver) for _ in range(MAX_WEBHOOKS)]
            add_webhook(b, other_receiver.url, other_receiver)
            users = [f"batch-{n}" for n in range(1000)]
            batch_upload(a, a_app, users)
            assert count_rows(own_store, "webhook_events") == 1
            assert count_rows(own_store, "webhook_deliveries") == MAX_WEBHOOKS

            started = time.monotonic()
            connect_user(b, b_app, "b-user")
            assert time.monotonic() - started < 2, "project B's upload waited"
            other_receiver.wait_for("connection.created", timeout=5, userId="b-user")

            batches = receiver.wait_for("connection.batch", timeout=60, count=MAX_WEBHOOKS)
            assert len(batches) == MAX_WEBHOOKS
            data: dict[str, Any] = batches[0].event["data"]
            assert data["eventType"] == "connection.created"
            assert data["count"] == 1000
            assert data["truncated"] is False
            assert sorted(c["userId"] for c in data["connections"]) == sorted(users)
            assert len({r.webhook_id for r in batches}) == 1  # one event, one webhook-id
            for webhook_id in hooks[:3]:
                [delivery] = deliveries(a, webhook_id)
                assert delivery["type"] == "connection.batch"


def test_a_change_of_ten_connections_is_still_told_one_by_one(own_store: Store) -> None:
    with (
        WebhookReceiver() as receiver,
        running_server(own_store, extra_args=["--webhook-retry-base", "0.5"]) as server,
        server.client() as client,
    ):
        app_id = api_key_app(client)
        add_webhook(client, receiver.url, receiver)
        batch_upload(client, app_id, [f"few-{n}" for n in range(10)])
        receiver.wait_for("connection.created", count=10)
        assert receiver.events("connection.batch") == []


def test_ended_deliveries_are_deleted_after_the_retention_pending_ones_never(
    own_store: Store,
) -> None:
    retention = 4.0
    args = ["--webhook-retention", str(retention), "--webhook-retry-base", "0.5"]
    # failed for good after a second; the held attempt outlasts the whole test
    args += ["--webhook-retry-for", "1", "--webhook-timeout", "60"]
    with (
        WebhookReceiver() as receiver,
        running_server(own_store, extra_args=args) as server,
        server.client() as client,
    ):
        app_id = api_key_app(client)
        delivered = add_webhook(client, receiver.url, receiver)
        refused = WebhookReceiver()  # never listening: its deliveries fail for good
        failed = add_webhook(client, refused.url)
        connect_user(client, app_id, "kept-then-gone")
        seen: set[str] = set()

        def ended() -> bool:
            # each is listed as ended for the retention: seen at some point, not together
            seen.update(d["status"] + "@delivered" for d in deliveries(client, delivered))
            seen.update(d["status"] + "@failed" for d in deliveries(client, failed))
            return {"delivered@delivered", "failed@failed"} <= seen

        wait_until(ended, 30, "the deliveries did not end")
        # a delivery that is still pending is never deleted, however old
        with WebhookReceiver() as holding:
            holding.hold = True
            pending = add_webhook(client, holding.url, holding)
            connect_user(client, app_id, "still-pending")
            wait_until(lambda: holding.busy, 20, "the pending delivery was not sent")
            wait_until(
                lambda: deliveries(client, delivered) == [] and deliveries(client, failed) == [],
                retention * 5 + 10,
                "ended deliveries outlived the retention",
            )
            [still] = deliveries(client, pending)
            assert still["status"] == "pending"
            # the events of deleted deliveries went with them (attempts too); the pending
            # one's stays
            wait_until(
                lambda: count_rows(own_store, "webhook_events") == 1,
                retention * 5,
                "events with no delivery left were kept",
            )
            assert count_rows(own_store, "webhook_attempts") == 0
            holding.hold = False
