"""An MCP app's resource and registration endpoint are provider URLs like any other: the
network guard refuses them at create and update when they point inside the operator's network
(every later call — resource metadata, the authorization server's metadata, registration —
goes through the same guarded client, tests/net/test_guard.py)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from tests.support.server import LiveServer, Store, running_server

INTERNAL = [
    "https://127.0.0.1/mcp",
    "https://10.0.0.7/mcp",
    "https://169.254.169.254/latest",
    "https://[::ffff:a9fe:a9fe]/mcp",
    "https://0x7f.0.0.1/mcp",
    "https://metadata.google.internal/mcp",
]


@pytest.fixture(scope="module")
def guarded_server(store: Store) -> Iterator[LiveServer]:
    """A server with the default policy: public addresses only."""
    with running_server(store, loopback_providers=False) as server:
        yield server


@pytest.mark.parametrize("field", ["resource", "dcrUrl"])
@pytest.mark.parametrize("url", INTERNAL)
def test_an_mcp_url_inside_the_network_is_refused(
    guarded_server: LiveServer, field: str, url: str
) -> None:
    app_id = "mcp-" + secrets.token_hex(4)
    body = {"id": app_id, "name": app_id, "useDcr": True, "resource": "https://mcp.example.com/mcp"}
    body[field] = url
    with guarded_server.client() as client:
        response = client.post("/v1/mgmt/outbound/app/create", json=body)
        assert response.status_code == 400, response.text
        assert response.json()["errorCode"] == "E011003"
        assert field in response.json()["errorMessage"]
        assert client.get(f"/v1/mgmt/outbound/app/{app_id}").status_code == 404
