"""Connection status and signed webhooks, end to end: real servers, the real oidc-provider,
and a receiver on loopback that verifies every signature with the ``standardwebhooks``
package."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.e2e.conftest import SERVER_ARGS, Vault, create_app
from tests.support.browser import CallbackCatcher
from tests.support.database import execute
from tests.support.oidc_server import OidcServer
from tests.support.server import (
    LiveServer,
    Store,
    postgres_database,
    running_server,
    start_server,
    stop_server,
)
from tests.support.webhook_receiver import WebhookReceiver, wait_until

FAILING_AFTER = 2
RETRY_BASE = 0.5
SIGNALS_ARGS = [
    *SERVER_ARGS,
    "--failing-after",
    str(FAILING_AFTER),
    "--webhook-retry-base",
    str(RETRY_BASE),
]


@pytest.fixture
def own_store(backend: str, tmp_path: Path) -> Iterator[Store]:
    """A store of the test's own: no other test's server (and its webhook sender) shares it."""
    if backend == "postgres":
        with postgres_database() as url:
            yield Store(tmp_path, url)
    else:
        yield Store(tmp_path)


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as receiver:
        yield receiver


@pytest.fixture(scope="module")
def signals_store(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """The signals server's own store: a server of another test on the shared store would
    send these webhooks too, on its own (slower) retry schedule."""
    data_dir = tmp_path_factory.mktemp(f"signals-{backend}")
    if backend == "postgres":
        with postgres_database() as url:
            yield Store(data_dir, url)
    else:
        yield Store(data_dir)


@pytest.fixture(scope="module")
def signals(
    signals_store: Store, idp: OidcServer, catcher: CallbackCatcher
) -> Iterator[tuple[Vault, set[str]]]:
    """A server with a short --failing-after and retry base, an app at the provider, and the
    set of every secret the tests saw (none may reach a webhook body or the log)."""
    with running_server(signals_store, extra_args=SIGNALS_ARGS) as server:
        oauth_client, app_id = create_app(server, idp, catcher)
        vault = Vault(server, idp, oauth_client, catcher, app_id)
        canaries: set[str] = {oauth_client.client_secret, server.management_key}
        yield vault, canaries
        leaked = [s for s in {*canaries, *vault.seen} if s in server.log()]
        assert not leaked, f"{len(leaked)} secrets in the server log"


def add_webhook(
    server: LiveServer, receiver: WebhookReceiver, events: list[str] | None = None
) -> str:
    with server.client() as http:
        response = http.post(
            "/v1/mgmt/outbound/webhooks", json={"url": receiver.url, "events": events}
        )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["secret"].startswith("whsec_")
    receiver.secrets.append(answer["secret"])
    return str(answer["webhook"]["id"])


def remove_webhook(server: LiveServer, webhook_id: str) -> None:
    with server.client() as http:
        assert http.delete(f"/v1/mgmt/outbound/webhooks/{webhook_id}").status_code == 200


def connections(server: LiveServer, **params: str) -> list[dict[str, Any]]:
    with server.client() as http:
        response = http.get("/v1/mgmt/outbound/connections", params=params)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["connections"]
    return found


def deliveries(server: LiveServer, webhook_id: str) -> list[dict[str, Any]]:
    with server.client() as http:
        response = http.get(f"/v1/mgmt/outbound/webhooks/{webhook_id}/deliveries")
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["deliveries"]
    return found


def upload(server: LiveServer, app_id: str, user: str, **fields: Any) -> None:
    with server.client() as http:
        response = http.post(
            "/v1/mgmt/outbound/app/user/oauthtoken/upload",
            json={"appId": app_id, "userId": user, **fields},
        )
    assert response.status_code == 200, response.text


def assert_no_canaries(receiver: WebhookReceiver, canaries: set[str]) -> None:
    bodies = b"".join(r.body for r in receiver.received) + b"".join(receiver.rejected)
    # the webhook's own signing secrets included
    leaked = [c for c in {*canaries, *receiver.secrets} if c and c.encode() in bodies]
    assert not leaked, f"{len(leaked)} secrets in webhook bodies"
    assert receiver.rejected == [], "a delivery failed signature verification"


def test_a_connections_life_is_told_by_signed_webhooks(
    signals: tuple[Vault, set[str]], fresh_idp: OidcServer, receiver: WebhookReceiver
) -> None:
    vault, canaries = signals
    webhook_id = add_webhook(vault.server, receiver)
    user = vault.new_user()
    try:
        # connect -> created
        assert vault.connect_quickly(user)["status"] == "success"
        token = vault.token(user, withRefreshToken=True)
        canaries.update([token["accessToken"], token["refreshToken"]])
        created = receiver.wait_for("connection.created", userId=user)[0].event
        assert created["data"] == {
            "connectionId": token["id"],
            "appId": vault.app_id,
            "userId": user,
            "tenantId": "",
            "status": "active",
            "scopes": token["scopes"],
            "error": "",
        }
        assert created["timestamp"].endswith("Z")
        [listed] = connections(vault.server, userId=user)
        assert listed["status"] == "active"
        assert listed["id"] == token["id"]

        # revoked at the provider, then a forced refresh -> reconnect_required
        assert fresh_idp.revoke_account(user) == 1
        refused = vault.fetch(user, forceRefresh=True)
        assert refused.json()["errorCode"] == "E131010"
        event = receiver.wait_for("connection.reconnect_required", userId=user)[0].event
        assert event["data"]["status"] == "reconnect_required"
        assert "invalid_grant" in event["data"]["error"]
        [listed] = connections(vault.server, userId=user, status="reconnect_required")
        assert listed["id"] == token["id"]
        assert "invalid_grant" in listed["lastRefreshError"]
        assert connections(vault.server, userId=user, status="active") == []

        # connecting again -> updated, active
        assert vault.connect_quickly(user)["status"] == "success"
        updated = receiver.wait_for("connection.updated", userId=user)[0].event
        assert updated["data"]["status"] == "active"
        canaries.update(_secrets(vault.token(user, withRefreshToken=True)))
        assert connections(vault.server, userId=user)[0]["status"] == "active"

        # delete -> deleted
        with vault.http as http:
            deleted = http.delete("/v1/mgmt/outbound/token", params={"id": token["id"]})
        assert deleted.status_code == 200
        receiver.wait_for("connection.deleted", connectionId=token["id"])
        assert connections(vault.server, userId=user) == []

        # each event once, in order, with the webhook's deliveries listed as delivered
        types = [r.event["type"] for r in receiver.events(userId=user)]
        assert types == [
            "connection.created",
            "connection.reconnect_required",
            "connection.updated",
            "connection.deleted",
        ]
        listed_deliveries = deliveries(vault.server, webhook_id)
        assert [d["status"] for d in listed_deliveries] == ["delivered"] * 4
        assert all(d["attempts"][-1]["statusCode"] == 204 for d in listed_deliveries)
        assert_no_canaries(receiver, canaries)
    finally:
        remove_webhook(vault.server, webhook_id)


def test_a_provider_down_past_failing_after_then_back(
    signals: tuple[Vault, set[str]], fresh_idp: OidcServer, receiver: WebhookReceiver
) -> None:
    vault, canaries = signals
    user = vault.new_user()
    assert vault.connect_quickly(user)["status"] == "success"
    canaries.update(_secrets(vault.token(user, withRefreshToken=True)))
    webhook_id = add_webhook(
        vault.server, receiver, ["connection.refresh_failing", "connection.recovered"]
    )
    try:
        fresh_idp.fault("status", status=503, seconds=120)
        vault.expire(user)
        first = time.time()
        assert vault.fetch(user).json()["errorCode"] == "E131011"
        [listed] = connections(vault.server, userId=user)
        assert listed["status"] == "refresh_failing"
        assert listed["failureCount"] == 1
        assert abs(int(listed["failingSince"]) - first) <= 2
        assert connections(vault.server, userId=user, status="refresh_failing") == [listed]

        # Not yet past --failing-after: no event.
        assert vault.fetch(user).json()["errorCode"] == "E131011"
        time.sleep(0.5)
        assert receiver.events("connection.refresh_failing", userId=user) == []

        time.sleep(FAILING_AFTER)
        assert vault.fetch(user).json()["errorCode"] == "E131011"
        failing = receiver.wait_for("connection.refresh_failing", userId=user)[0].event
        assert failing["data"]["status"] == "refresh_failing"
        assert "503" in failing["data"]["error"]
        # once, however many failures follow
        assert vault.fetch(user).json()["errorCode"] == "E131011"

        fresh_idp.heal()
        recovered_token = vault.token(user, withRefreshToken=True)
        canaries.update(_secrets(recovered_token))
        receiver.wait_for("connection.recovered", userId=user)
        [listed] = connections(vault.server, userId=user)
        assert listed["status"] == "active"
        assert listed["failingSince"] == ""
        assert listed["lastRefreshError"] == ""
        time.sleep(1)
        types = [r.event["type"] for r in receiver.events(userId=user)]
        assert types == ["connection.refresh_failing", "connection.recovered"]
        assert_no_canaries(receiver, canaries)
    finally:
        remove_webhook(vault.server, webhook_id)


def test_a_receiver_down_for_a_while_gets_the_event_after_with_the_attempts_listed(
    signals: tuple[Vault, set[str]], receiver: WebhookReceiver
) -> None:
    vault, canaries = signals
    webhook_id = add_webhook(vault.server, receiver, ["connection.created"])
    try:
        receiver.down()
        user = vault.new_user()
        upload(
            vault.server,
            vault.app_id,
            user,
            accessToken="canary-access-" + user,
            refreshToken="canary-refresh-" + user,
        )
        canaries.update(["canary-access-" + user, "canary-refresh-" + user])

        def failed_attempts() -> int:
            [delivery] = deliveries(vault.server, webhook_id)
            return len(delivery["attempts"])

        wait_until(lambda: failed_attempts() >= 3, 20, "the sender did not retry")
        [pending] = deliveries(vault.server, webhook_id)
        assert pending["status"] == "pending"
        assert all(a["statusCode"] == 0 and a["error"] for a in pending["attempts"])
        # exponential: each wait longer than the one before (jitter is ±20 %)
        times = [int(a["time"]) for a in pending["attempts"]]
        assert times == sorted(times)

        receiver.up()
        [received] = receiver.wait_for("connection.created", userId=user)
        assert received.webhook_id == pending["eventId"]
        [delivered] = deliveries(vault.server, webhook_id)
        assert delivered["status"] == "delivered"
        assert delivered["attempts"][-1]["statusCode"] == 204
        assert len(delivered["attempts"]) >= 4
        assert_no_canaries(receiver, canaries)
    finally:
        remove_webhook(vault.server, webhook_id)


def test_a_rotated_secret_signs_alongside_the_new_one_during_the_overlap(
    signals: tuple[Vault, set[str]], receiver: WebhookReceiver
) -> None:
    vault, _ = signals
    webhook_id = add_webhook(vault.server, receiver, ["connection.created"])
    old = receiver.secrets[0]
    try:
        with vault.server.client() as http:
            rotated = http.post(f"/v1/mgmt/outbound/webhooks/{webhook_id}/rotate", json={})
        assert rotated.status_code == 200, rotated.text
        new = rotated.json()["secret"]
        assert new != old and new.startswith("whsec_")
        # A receiver that knows only the old secret, and one that knows only the new one,
        # both accept the message.
        for known in ([old], [new]):
            receiver.secrets[:] = known
            user = vault.new_user()
            upload(vault.server, vault.app_id, user, accessToken="a-" + user)
            [received] = receiver.wait_for("connection.created", userId=user)
            assert received.signatures == 2

        with vault.server.client() as http:
            rotated = http.post(
                f"/v1/mgmt/outbound/webhooks/{webhook_id}/rotate", json={"overlapSeconds": 0}
            )
        newest = rotated.json()["secret"]
        receiver.secrets[:] = [newest]
        user = vault.new_user()
        upload(vault.server, vault.app_id, user, accessToken="a-" + user)
        [received] = receiver.wait_for("connection.created", userId=user)
        assert received.signatures == 1
        assert receiver.rejected == []
        with vault.server.client() as http:
            listed = http.get("/v1/mgmt/outbound/webhooks").json()["webhooks"]
        assert [w["id"] for w in listed] == [webhook_id]
        assert "secret" not in str(listed).lower().replace("previoussecretuntil", "")
    finally:
        remove_webhook(vault.server, webhook_id)


def test_a_delivery_that_keeps_failing_is_marked_failed_and_can_be_retried(
    own_store: Store, receiver: WebhookReceiver
) -> None:
    args = ["--webhook-retry-base", "0.3", "--webhook-retry-for", "1.5"]
    with running_server(own_store, extra_args=args) as server:
        app_id = _api_key_app(server)
        webhook_id = add_webhook(server, receiver, ["connection.created"])
        receiver.down()
        with server.client() as http:
            http.post(
                "/v1/mgmt/outbound/app/user/apikey/upload",
                json={"appId": app_id, "userId": "u1", "apiKey": "canary-key-u1"},
            ).raise_for_status()

        [failed] = wait_until(
            lambda: [d for d in deliveries(server, webhook_id) if d["status"] == "failed"],
            20,
            "the delivery was never given up",
        )
        assert len(failed["attempts"]) >= 2
        receiver.up()
        time.sleep(1)
        assert receiver.received == []  # failed means no more automatic attempts

        with server.client() as http:
            retried = http.post(
                f"/v1/mgmt/outbound/webhooks/{webhook_id}/deliveries/{failed['id']}/retry"
            )
            assert retried.status_code == 200, retried.text
            assert retried.json()["delivery"]["status"] == "pending"
            missing = http.post(f"/v1/mgmt/outbound/webhooks/{webhook_id}/deliveries/nope/retry")
            assert missing.status_code == 404
            assert missing.json()["errorCode"] == "E131031"
        receiver.wait_for("connection.created", userId="u1")
        [delivered] = deliveries(server, webhook_id)
        assert delivered["status"] == "delivered"
        assert_no_canaries(receiver, {"canary-key-u1"})


def test_a_server_killed_mid_delivery_leaves_it_to_another(
    own_store: Store, receiver: WebhookReceiver
) -> None:
    store = own_store
    project = store.new_project()
    first = start_server(store, project=project)
    second: LiveServer | None = None
    try:
        app_id = _api_key_app(first)
        webhook_id = add_webhook(first, receiver, ["connection.created"])
        receiver.hold = True  # take the first attempt in, never answer it
        with first.client() as http:
            http.post(
                "/v1/mgmt/outbound/app/user/apikey/upload",
                json={"appId": app_id, "userId": "u1", "apiKey": "canary-key-u1"},
            ).raise_for_status()
        wait_until(lambda: receiver.requests >= 1, 10, "the first server never sent")
        os.kill(first.process.pid, signal.SIGKILL)
        first.process.wait()
        receiver.hold = False

        second = start_server(store, project=project)
        # The dead server's claim lapses (the send timeout plus a margin), then the second
        # server sends it.
        [received] = receiver.wait_for("connection.created", timeout=40, userId="u1")
        time.sleep(1)
        assert len(receiver.received) == 1
        [delivered] = deliveries(second, webhook_id)
        assert delivered["status"] == "delivered"
        assert delivered["eventId"] == received.webhook_id
        assert_no_canaries(receiver, {"canary-key-u1"})
    finally:
        stop_server(first)
        if second is not None:
            stop_server(second)


def test_two_servers_deliver_every_event_exactly_once(
    own_store: Store, receiver: WebhookReceiver
) -> None:
    store = own_store
    project = store.new_project()
    servers = [start_server(store, project=project) for _ in range(2)]
    try:
        app_id = _api_key_app(servers[0])
        webhook_id = add_webhook(servers[0], receiver, ["connection.created", "connection.deleted"])
        users = [f"user-{i}" for i in range(30)]
        for i, user in enumerate(users):
            with servers[i % 2].client() as http:
                http.post(
                    "/v1/mgmt/outbound/app/user/apikey/upload",
                    json={"appId": app_id, "userId": user, "apiKey": f"canary-key-{user}"},
                ).raise_for_status()
        # one user at a time: a delete of more than 10 connections is one batch event
        for i, user in enumerate(users):
            with servers[(i + 1) % 2].client() as http:
                http.delete(
                    "/v1/mgmt/outbound/user/tokens", params={"appId": app_id, "userId": user}
                ).raise_for_status()
        receiver.wait_for("connection.created", count=len(users))
        receiver.wait_for("connection.deleted", count=len(users))
        # Every delivery settled — delivered, and no server holding a claim on it (a send in
        # flight holds one) — so a duplicate would have arrived by now: no fixed wait.
        deadline = time.monotonic() + 60
        while execute(
            store,
            "SELECT COUNT(*) FROM webhook_deliveries WHERE webhook_id = ?"
            " AND (status <> 'delivered' OR claim_owner IS NOT NULL)",
            (webhook_id,),
        )[0][0]:
            assert time.monotonic() < deadline, "deliveries never settled"
            time.sleep(0.1)
        ids = [r.webhook_id for r in receiver.received]
        assert len(ids) == 2 * len(users)
        assert len(set(ids)) == len(ids), "an event was delivered twice"
        assert sorted(
            r.event["data"]["userId"] for r in receiver.events("connection.created")
        ) == sorted(users)
        # The deliveries list pages through all of them, each once.
        paged: list[str] = []
        cursor = ""
        with servers[1].client() as http:
            while True:
                params = {"limit": "7", **({"cursor": cursor} if cursor else {})}
                page = http.get(
                    f"/v1/mgmt/outbound/webhooks/{webhook_id}/deliveries", params=params
                ).json()
                paged += [d["eventId"] for d in page["deliveries"]]
                cursor = page["nextCursor"]
                if not cursor:
                    break
        assert sorted(paged) == sorted(ids)
        assert_no_canaries(receiver, {f"canary-key-{user}" for user in users})
    finally:
        for server in servers:
            stop_server(server)


def test_webhooks_are_per_project(signals_store: Store, signals: tuple[Vault, set[str]]) -> None:
    vault, _ = signals
    with WebhookReceiver() as receiver:
        webhook_id = add_webhook(vault.server, receiver, ["connection.created"])
        other_project, other_key = signals_store.new_project()
        other = httpx.Client(
            base_url=vault.server.base_url,
            headers={"Authorization": f"Bearer {other_project}:{other_key}"},
            timeout=30,
        )
        with other:
            assert other.get("/v1/mgmt/outbound/webhooks").json() == {"webhooks": []}
            for response in (
                other.delete(f"/v1/mgmt/outbound/webhooks/{webhook_id}"),
                other.post(f"/v1/mgmt/outbound/webhooks/{webhook_id}/rotate"),
                other.get(f"/v1/mgmt/outbound/webhooks/{webhook_id}/deliveries"),
            ):
                assert response.status_code == 404
                assert response.json()["errorCode"] == "E131030"
            assert other.get("/v1/mgmt/outbound/connections").json()["connections"] == []
        remove_webhook(vault.server, webhook_id)


def _api_key_app(server: LiveServer) -> str:
    with server.client() as http:
        response = http.post(
            "/v1/mgmt/outbound/app/create", json={"name": "keys", "appType": "apikey"}
        )
    assert response.status_code == 200, response.text
    return str(response.json()["app"]["id"])


def _secrets(token: dict[str, Any]) -> list[str]:
    return [token[k] for k in ("accessToken", "refreshToken", "idToken") if token.get(k)]
