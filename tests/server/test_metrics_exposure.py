"""The metrics listener stays on loopback unless told otherwise, and its labels never carry a
string a caller chose (which would publish it, and let callers grow the series without
bound)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import httpx
import pytest

from tests.support.server import LiveServer, Store, free_port, running_server


@pytest.fixture(scope="module")
def metrics_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def server(store: Store, metrics_port: int) -> Iterator[LiveServer]:
    # The API on every interface, the metrics listener's host left at its default.
    with running_server(
        store, extra_args=["--host", "0.0.0.0", "--metrics-port", str(metrics_port)]
    ) as server:
        yield server


def scrape(port: int) -> str:
    response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
    assert response.status_code == 200
    return response.text


def test_metrics_stay_on_loopback_when_the_api_listens_everywhere(
    server: LiveServer, metrics_port: int
) -> None:
    api_port = int(server.base_url.rsplit(":", 1)[1])
    # 127.0.0.2 is another address of this machine: the API answers there (0.0.0.0) ...
    assert httpx.get(f"http://127.0.0.2:{api_port}/health", timeout=5).status_code == 200
    # ... the metrics listener does not: it is bound to 127.0.0.1 alone.
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.2", metrics_port), timeout=5).close()
    assert "outbound_http_requests" in scrape(metrics_port)


def test_labels_never_carry_caller_chosen_strings(server: LiveServer, metrics_port: int) -> None:
    marker = "labelzq"
    with server.client() as http:
        created = http.post(
            "/v1/mgmt/outbound/app/create",
            json={
                "id": "labels-app",
                "name": "labels-app",
                "templateId": f"{marker}-template",
                "clientId": "c",
                "authorizationUrl": "http://127.0.0.1:9/auth",
                "tokenUrl": f"http://127.0.0.1:{free_port()}/token",  # nothing listens
            },
        )
        assert created.status_code == 200, created.text
        uploaded = http.post(
            "/v1/mgmt/outbound/app/user/oauthtoken/upload",
            json={
                "appId": "labels-app",
                "userId": "u",
                "accessToken": "a",
                "accessTokenExpiry": 1,  # long expired: the fetch refreshes first
                "refreshToken": "r",
            },
        )
        assert uploaded.status_code == 200, uploaded.text
        fetched = http.post(
            "/v1/mgmt/outbound/app/user/token/latest", json={"appId": "labels-app", "userId": "u"}
        )
        assert fetched.status_code >= 400  # the refresh was tried, and failed
        # A made-up method never reaches the app (the parser refuses it); a rare one does.
        http.request("PROPFIND", "/health")
        http.get(f"/v1/mgmt/outbound/app/{marker}")
    text = scrape(metrics_port)
    assert marker not in text.lower()
    assert 'outbound_refreshes_total{outcome="transient",template="custom"}' in text
    assert 'method="other"' in text
    assert "PROPFIND" not in text
