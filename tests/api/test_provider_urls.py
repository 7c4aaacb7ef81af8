"""An app's URLs: what passes, and a stored client secret that stays with its host.

(The refusals are cases of ``test_bad_input.py``; the hostile-address table is
``e2e/test_ssrf.py``.)
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.database import execute
from tests.support.server import LiveServer


@pytest.fixture
def http(live_server: LiveServer) -> Iterator[httpx.Client]:
    with live_server.client() as client:
        yield client


def sealed_secret(server: LiveServer, app_id: str) -> Any:
    rows = execute(
        server.store,
        "SELECT client_secret FROM apps WHERE project_id = ? AND id = ?",
        (server.project_id, app_id),
    )
    return rows[0][0]


def app_with_secret(http: httpx.Client) -> dict[str, Any]:
    app = {
        "id": "secret-" + secrets.token_hex(4),
        "name": "secret-" + secrets.token_hex(4),
        "clientId": "cid",
        "tokenUrl": "https://idp.example/oauth/token",
        "authorizationUrl": "https://idp.example/oauth/authorize",
        "revocationUrl": "https://idp.example/oauth/revoke",
    }
    response = http.post("/v1/mgmt/outbound/app/create", json={**app, "clientSecret": "s-1"})
    assert response.status_code == 200, response.text
    return app


def test_an_update_on_the_same_hosts_keeps_the_secret_without_resending_it(
    live_server: LiveServer, http: httpx.Client
) -> None:
    app = app_with_secret(http)
    sealed = sealed_secret(live_server, app["id"])
    moved_paths = {**app, "tokenUrl": "https://idp.example/v2/token", "description": "d"}
    response = http.post("/v1/mgmt/outbound/app/update", json={"app": moved_paths})
    assert response.status_code == 200, response.text
    assert response.json()["app"]["hasClientSecret"] is True
    assert sealed_secret(live_server, app["id"]) == sealed


def test_a_new_host_with_the_secret_in_the_same_update_is_accepted(
    live_server: LiveServer, http: httpx.Client
) -> None:
    app = app_with_secret(http)
    moved = {**app, "tokenUrl": "https://login.other.example/token"}
    refused = http.post("/v1/mgmt/outbound/app/update", json={"app": moved})
    assert refused.status_code == 400
    assert refused.json()["errorCode"] == "E011002"
    assert "app.clientSecret" in refused.json()["errorMessage"]
    assert "app.tokenUrl" in refused.json()["errorMessage"]
    stored = http.get(f"/v1/mgmt/outbound/app/{app['id']}").json()["app"]
    assert stored["tokenUrl"] == app["tokenUrl"]

    accepted = http.post(
        "/v1/mgmt/outbound/app/update", json={"app": {**moved, "clientSecret": "s-2"}}
    )
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["app"]["tokenUrl"] == "https://login.other.example/token"
    # clearing the secret while moving is fine too: no secret follows
    cleared = http.post(
        "/v1/mgmt/outbound/app/update",
        json={"app": {**moved, "tokenUrl": "https://third.example/t", "clientSecret": ""}},
    )
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["app"]["hasClientSecret"] is False


def test_an_app_without_a_secret_moves_freely(http: httpx.Client) -> None:
    app_id = "nosecret-" + secrets.token_hex(4)
    base = {"id": app_id, "name": app_id, "tokenUrl": "https://idp.example/token"}
    assert http.post("/v1/mgmt/outbound/app/create", json=base).status_code == 200
    moved = {**base, "tokenUrl": "https://elsewhere.example/token"}
    assert http.post("/v1/mgmt/outbound/app/update", json={"app": moved}).status_code == 200


def test_redirect_urls_may_be_https_anywhere_or_http_on_loopback(http: httpx.Client) -> None:
    for url in (
        "https://app.example/connected",
        "https://10.1.2.3/connected",  # the browser goes there, not the server
        "http://127.0.0.1:8000/connected",
        "http://localhost:3000/connected",
    ):
        app_id = "redirect-" + secrets.token_hex(4)
        response = http.post(
            "/v1/mgmt/outbound/app/create",
            json={"id": app_id, "name": app_id, "defaultRedirectUrl": url},
        )
        assert response.status_code == 200, (url, response.text)
