"""Webhook URLs are chosen by key holders: the providers' network guard applies to them, at
creation and at each delivery, so a webhook cannot be aimed at the operator's network — not
even by a host name whose DNS answer changes after the webhook was created."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.test_webhook_delivery import add_webhook, api_key_app, connect_user, deliveries
from tests.conftest import new_store
from tests.support.server import LiveServer, Store, running_server
from tests.support.webhook_receiver import WebhookReceiver, wait_until

INTERNAL = [
    "http://127.0.0.1:9/hook",
    "https://127.0.0.1/hook",
    "https://169.254.169.254/latest/meta-data",
    "https://[::ffff:a9fe:a9fe]/hook",
    "https://10.0.0.1/hook",
    "https://2130706433/hook",
    "https://localhost./hook",
]


@pytest.fixture(scope="module")
def guarded_server(store: Store) -> Iterator[LiveServer]:
    """A server with the default policy: public addresses only."""
    with running_server(store, loopback_providers=False) as server:
        yield server


@pytest.mark.parametrize("url", INTERNAL)
def test_a_webhook_aimed_inside_the_network_is_refused(
    guarded_server: LiveServer, url: str
) -> None:
    with guarded_server.client() as client:
        response = client.post("/v1/mgmt/outbound/webhooks", json={"url": url})
        assert response.status_code == 400, response.text
        assert response.json()["errorCode"] == "E011003"
        assert "url" in response.json()["errorMessage"]
        assert client.get("/v1/mgmt/outbound/webhooks").json()["webhooks"] == []


def test_each_delivery_is_vetted_when_sent_not_only_when_the_webhook_was_created(
    backend: str, tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    """The webhook's host name resolves to an allowed address when it is created and when
    the first event is sent; then its DNS answer changes to a refused one (loopback, outside
    the allowed network). The next delivery must be refused before any connection — a sender
    using a plain ``httpx.AsyncClient`` would resolve the new answer and deliver it to the
    receiver listening there."""
    hosts = tmp_path / "hosts.json"
    name = "hooks.rebinding.example"
    hosts.write_text(json.dumps({name: ["127.0.0.2"]}))
    with (
        new_store(backend, tmp_path_factory) as store,
        WebhookReceiver(host="127.0.0.2") as allowed,
        WebhookReceiver(host="127.0.0.1", port=allowed.port) as refused,
        running_server(
            store,
            extra_args=["--webhook-allow-networks", "127.0.0.2/32", "--webhook-retry-base", "0.5"],
            hosts_file=hosts,
        ) as server,
        server.client() as client,
    ):
        app_id = api_key_app(client)
        webhook_id = add_webhook(client, f"http://{name}:{allowed.port}/hooks", allowed)
        refused.secrets.extend(allowed.secrets)
        connect_user(client, app_id, "before")
        allowed.wait_for("connection.created", userId="before")  # the name, as allowed

        hosts.write_text(json.dumps({name: ["127.0.0.1"]}))
        connect_user(client, app_id, "after")
        [delivery] = wait_until(
            lambda: [
                d
                for d in deliveries(client, webhook_id)
                if d["payload"]["data"]["userId"] == "after" and d["attempts"]
            ],
            20,
            "the delivery after the DNS change was never attempted",
        )
        assert delivery["status"] == "pending"
        assert delivery["attempts"][0]["statusCode"] == 0
        assert delivery["attempts"][0]["error"].startswith("refused by the network guard")
        assert refused.requests == 0, "a delivery reached an address the guard refuses"
        assert allowed.events("connection.created", userId="after") == []


def test_a_providers_allowed_network_is_not_open_to_webhooks(
    backend: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The operator allows an internal identity provider's network. Key holders still cannot
    aim webhooks into it (learning which host:port answers what): refused at creation,
    naming --webhook-allow-networks; a webhook stored while that network was allowed for
    webhooks is refused at delivery once it is not, with no request reaching the receiver."""
    internal = ["--provider-allow-networks", "127.0.0.2/32", "--webhook-retry-base", "0.5"]
    with (
        new_store(backend, tmp_path_factory) as store,
        WebhookReceiver(host="127.0.0.2") as receiver,
    ):
        project = store.new_project()
        hook = f"http://127.0.0.2:{receiver.port}/hooks"
        with (
            running_server(
                store,
                project=project,
                loopback_providers=False,
                extra_args=[*internal, "--webhook-allow-networks", "127.0.0.2/32"],
            ) as server,
            server.client() as client,
        ):
            webhook_id = add_webhook(client, hook, receiver)
        with (
            running_server(
                store, project=project, loopback_providers=False, extra_args=internal
            ) as server,
            server.client() as client,
        ):
            # The provider network itself is allowed: an app's token URL there is accepted.
            app = client.post(
                "/v1/mgmt/outbound/app/create",
                json={
                    "name": "internal-idp",
                    "clientId": "c",
                    "authorizationUrl": "http://127.0.0.2:1/auth",
                    "tokenUrl": "http://127.0.0.2:1/token",
                },
            )
            assert app.status_code == 200, app.text
            refused = client.post("/v1/mgmt/outbound/webhooks", json={"url": hook + "/2"})
            assert refused.status_code == 400, refused.text
            assert refused.json()["errorCode"] == "E011003"
            assert "--webhook-allow-networks" in refused.json()["errorMessage"]
            assert "--provider-allow-networks" not in refused.json()["errorMessage"]

            connect_user(client, api_key_app(client), "u")
            [delivery] = wait_until(
                lambda: [d for d in deliveries(client, webhook_id) if d["attempts"]],
                20,
                "the delivery was never attempted",
            )
            error = delivery["attempts"][0]["error"]
            assert error.startswith("refused by the network guard"), error
            assert "--webhook-allow-networks" in error
        assert receiver.requests == 0, "a delivery reached a network allowed for providers only"
