"""A method the endpoint does not take: 405 in the error shape, with an Allow header naming
every method the URL does take (found by the fuzzer: no Allow at all, or only the first
route's methods)."""

from __future__ import annotations

import httpx
import pytest

from tests.support.server import LiveServer


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("TRACE", "/v1/outbound/oauth/start", "GET, HEAD, POST"),
        ("DELETE", "/v1/mgmt/outbound/apps", "GET, HEAD"),
        ("PUT", "/v1/mgmt/outbound/webhooks", "GET, HEAD, POST"),
        # /app/{id:path} (load an app, GET) matches this path too: an app may be named "connect"
        ("OPTIONS", "/v1/mgmt/outbound/app/connect", "GET, HEAD, POST"),
        # the hot path passes other methods through to the routes
        ("PATCH", "/v1/mgmt/outbound/app/user/token", "GET, HEAD, POST"),
    ],
)
def test_405_names_the_allowed_methods(
    live_server: LiveServer, method: str, path: str, allow: str
) -> None:
    response = httpx.request(
        method, live_server.base_url + path, headers=live_server.auth_header, timeout=10
    )
    assert response.status_code == 405
    assert response.json()["errorCode"] == "E130405"
    assert response.headers["allow"] == allow
