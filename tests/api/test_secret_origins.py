"""A stored client secret goes only where it was entered for (issue 25, item 1).

A management key can replace an app's client secret but never read it. These tests play the
key holder who tries to have the vault send it to a host they control — by an update that
leaves ``clientSecret`` out, or by a metadata document that changes after the secret was
entered — with real ``outbound serve`` processes on both backends, the honest provider and the
attacker's host each a small recording authorization server on loopback
(``tests/support/recording_provider.py``). The attacker's host must never see the secret.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import new_store
from tests.support.recording_provider import RecordingProvider
from tests.support.server import LiveServer, running_server


@pytest.fixture
def honest() -> Iterator[RecordingProvider]:
    with RecordingProvider() as provider:
        yield provider


@pytest.fixture
def attacker() -> Iterator[RecordingProvider]:
    with RecordingProvider() as provider:
        yield provider


def create_app(http: httpx.Client, secret: str, **fields: Any) -> dict[str, Any]:
    app_id = "sec-" + secrets.token_hex(4)
    app = {"id": app_id, "name": app_id, "clientId": "cid-" + app_id, **fields}
    response = http.post("/v1/mgmt/outbound/app/create", json={**app, "clientSecret": secret})
    assert response.status_code == 200, response.text
    return app


def upload(http: httpx.Client, app_id: str, user: str) -> None:
    response = http.post(
        "/v1/mgmt/outbound/app/user/oauthtoken/upload",
        json={
            "appId": app_id,
            "userId": user,
            "accessToken": "at-" + secrets.token_hex(8),
            "refreshToken": "rt-" + secrets.token_hex(8),
            "accessTokenExpiry": 1,  # long expired: the next fetch refreshes
        },
    )
    assert response.status_code == 200, response.text


def fetch(http: httpx.Client, app_id: str, user: str) -> httpx.Response:
    return http.post(
        "/v1/mgmt/outbound/app/user/token/latest",
        json={"appId": app_id, "userId": user, "options": {"forceRefresh": True}},
    )


def blanked(app: dict[str, Any]) -> dict[str, Any]:
    """The app with every URL of its own cleared."""
    urls = ("discoveryUrl", "authorizationUrl", "tokenUrl", "revocationUrl")
    return {**app, **dict.fromkeys(urls, "")}


# Updates a management-key holder could send, without the secret, to move it to their host.
ATTACKS = {
    # the published finding: URLs blanked, resource at the attacker's host; discovery then
    # finds the attacker's "authorization server" (RFC 9728 -> RFC 8414)
    "resource": lambda app, evil: {**blanked(app), "resource": evil.resource_url},
    "discovery": lambda app, evil: {**blanked(app), "discoveryUrl": evil.discovery_url},
    "token url": lambda app, evil: {**app, "tokenUrl": evil.url + "/token"},
    "revocation url": lambda app, evil: {**app, "revocationUrl": evil.url + "/revoke"},
    # a template with the app's own URLs cleared: the template's token endpoint
    "template": lambda app, evil: {**blanked(app), "templateId": "google"},
}


@pytest.mark.parametrize("attack", ATTACKS)
def test_an_update_without_the_secret_cannot_send_it_to_another_host(
    live_server: LiveServer, honest: RecordingProvider, attacker: RecordingProvider, attack: str
) -> None:
    secret = "cs-" + secrets.token_hex(12)
    with live_server.client() as http:
        app = create_app(http, secret, discoveryUrl=honest.discovery_url)
        upload(http, app["id"], "victim")

        sent = ATTACKS[attack](app, attacker)
        refused = http.post("/v1/mgmt/outbound/app/update", json={"app": sent})
        assert refused.status_code == 400, refused.text
        assert refused.json()["errorCode"] == "E011002"
        assert "app.clientSecret" in refused.json()["errorMessage"]
        stored = http.get(f"/v1/mgmt/outbound/app/{app['id']}").json()["app"]
        assert stored["discoveryUrl"] == honest.discovery_url
        assert stored["resource"] == ""

        # the next refresh goes where the secret was entered for, and only there
        assert fetch(http, app["id"], "victim").status_code == 200
        assert honest.carrying(secret)
        assert attacker.carrying(secret) == []
        assert attacker.posts() == []

        # whoever gives a secret of their own may point the app anywhere
        sent["clientSecret"] = "theirs-" + secrets.token_hex(8)
        accepted = http.post("/v1/mgmt/outbound/app/update", json={"app": sent})
        assert accepted.status_code == 200, accepted.text


def test_an_update_that_keeps_the_token_endpoint_keeps_the_secret(
    live_server: LiveServer, honest: RecordingProvider
) -> None:
    """Changing how the endpoints are found is fine when they stay where they were: the
    effective origin is compared, not the fields."""
    secret = "cs-" + secrets.token_hex(12)
    with live_server.client() as http:
        app = create_app(http, secret, discoveryUrl=honest.discovery_url)
        upload(http, app["id"], "user")
        explicit = {**blanked(app), "tokenUrl": honest.url + "/token"}
        explicit["authorizationUrl"] = honest.url + "/authorize"
        response = http.post("/v1/mgmt/outbound/app/update", json={"app": explicit})
        assert response.status_code == 200, response.text
        assert response.json()["app"]["hasClientSecret"] is True
        assert fetch(http, app["id"], "user").status_code == 200
        assert honest.carrying(secret)


def test_a_secret_is_never_sent_to_an_origin_it_was_not_entered_for(
    backend: str,
    tmp_path_factory: pytest.TempPathFactory,
    honest: RecordingProvider,
    attacker: RecordingProvider,
) -> None:
    """The metadata changes after the secret was entered (the update check cannot see that):
    the refresh and the revocation are refused before anything is sent, with E131010 and a
    ``lastRefreshError`` that says why."""
    secret = "cs-" + secrets.token_hex(12)
    with new_store(backend, tmp_path_factory) as store:
        with running_server(store) as server, server.client() as http:
            app = create_app(http, secret, discoveryUrl=honest.discovery_url)
            upload(http, app["id"], "victim")
            project = (server.project_id, server.management_key)
        # The honest provider's metadata now names the attacker's endpoints (a new server
        # process: discovery documents are cached for an hour).
        honest.token_endpoint = attacker.url + "/token"
        honest.revocation_endpoint = attacker.url + "/revoke"
        with running_server(store, project=project) as server, server.client() as http:
            refused = fetch(http, app["id"], "victim")
            assert refused.status_code == 409, refused.text
            assert refused.json()["errorCode"] == "E131010"
            assert "client secret" in refused.json()["errorMessage"]
            connection = http.get(
                "/v1/mgmt/outbound/connections", params={"appId": app["id"]}
            ).json()["connections"][0]
            assert "client secret" in connection["lastRefreshError"]
            assert attacker.url.removeprefix("http://") in connection["lastRefreshError"]

            deleted = http.delete(
                "/v1/mgmt/outbound/user/tokens", params={"appId": app["id"], "userId": "victim"}
            )
            assert deleted.status_code == 200, deleted.text
            assert attacker.carrying(secret) == []
            assert attacker.posts() == []
            assert secret not in server.log()

            # the operator who means it gives the secret again for the new endpoint
            upload(http, app["id"], "victim")
            again = http.post(
                "/v1/mgmt/outbound/app/update", json={"app": {**app, "clientSecret": secret}}
            )
            assert again.status_code == 200, again.text
            assert fetch(http, app["id"], "victim").status_code == 200
            assert attacker.carrying(secret)
