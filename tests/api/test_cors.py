"""CORS answers only for the browser's connect endpoint, only for the configured origins."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.server import LiveServer, Store, running_server

APP_ORIGIN = "https://app.example.com"
PREFLIGHT = {
    "Origin": APP_ORIGIN,
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization,content-type",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    store = Store(Path(tmp_path_factory.mktemp("cors")))
    with running_server(store, extra_args=["--cors-origins", f"{APP_ORIGIN}/"]) as server:
        yield server


def test_the_browser_connect_endpoint_answers_preflights_of_allowed_origins(
    server: LiveServer,
) -> None:
    url = server.base_url + "/v1/outbound/oauth/connect"
    allowed = httpx.options(url, headers=PREFLIGHT)
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == APP_ORIGIN
    assert "POST" in allowed.headers["access-control-allow-methods"]
    assert "authorization" in allowed.headers["access-control-allow-headers"].lower()

    refused = httpx.options(url, headers={**PREFLIGHT, "Origin": "https://evil.example"})
    assert refused.status_code == 400
    assert "access-control-allow-origin" not in refused.headers

    # the real request carries the header too (here refused: no session token)
    response = httpx.post(url, json={"appId": "a"}, headers={"Origin": APP_ORIGIN})
    assert response.status_code == 401
    assert response.headers["access-control-allow-origin"] == APP_ORIGIN


def test_the_management_api_never_answers_cors(server: LiveServer) -> None:
    for path in ("/v1/mgmt/outbound/apps", "/v1/mgmt/outbound/app/user/token/latest"):
        response = httpx.options(server.base_url + path, headers=PREFLIGHT)
        assert "access-control-allow-origin" not in response.headers
        response = httpx.post(
            server.base_url + path, json={}, headers={**server.auth_header, "Origin": APP_ORIGIN}
        )
        assert "access-control-allow-origin" not in response.headers


def test_no_origins_configured_means_no_cors(live_server: LiveServer) -> None:
    response = httpx.options(live_server.base_url + "/v1/outbound/oauth/connect", headers=PREFLIGHT)
    assert "access-control-allow-origin" not in response.headers
