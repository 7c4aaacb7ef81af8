"""Webhook URLs are chosen by key holders: the providers' network guard applies to them, at
creation and at each delivery, so a webhook cannot be aimed at the operator's network."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.server import LiveServer, Store, running_server

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
