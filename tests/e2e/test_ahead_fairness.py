"""Background rounds are fair across projects and back off from failing tokens: one project's
provider being down does not starve another project's healthy tokens."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from tests.e2e.conftest import SERVER_ARGS, Vault, create_app
from tests.support.browser import CallbackCatcher
from tests.support.database import execute
from tests.support.oidc_server import OidcServer
from tests.support.server import Store, running_server
from tests.support.webhook_receiver import wait_until

FAILING = 1000
HEALTHY = 10
# Long enough that the test sees the first round alone before a second one starts.
INTERVAL = 8


@pytest.fixture
def broken_idp() -> Iterator[OidcServer]:
    """A second real provider whose token endpoint answers 503 (down for maintenance)."""
    with OidcServer() as idp:
        idp.fault("status", status=503, seconds=3600)
        yield idp


@pytest.mark.slow
def test_a_failing_project_does_not_starve_a_healthy_one(
    shared_store: Store, idp: OidcServer, broken_idp: OidcServer, catcher: CallbackCatcher
) -> None:
    # Prepare both projects with a server that has no background rounds.
    with running_server(shared_store, extra_args=SERVER_ARGS) as setup:
        oauth_client, healthy_app = create_app(setup, idp, catcher)
        healthy = Vault(setup, idp, oauth_client, catcher, healthy_app)
        users = [healthy.new_user() for _ in range(HEALTHY)]
        for user in users:
            assert healthy.connect_quickly(user)["status"] == "success"

        failing_project, failing_key = shared_store.new_project()
        broken_client = broken_idp.add_client([setup.base_url + "/cb"])
        auth = {"Authorization": f"Bearer {failing_project}:{failing_key}"}
        with setup.client() as http:
            http.headers.update(auth)
            created = http.post(
                "/v1/mgmt/outbound/app/create",
                json={
                    "id": "down",
                    "name": "down",
                    "clientId": broken_client.client_id,
                    "clientSecret": broken_client.client_secret,
                    "discoveryUrl": broken_idp.discovery_url,
                },
            )
            assert created.status_code == 200, created.text
            uploaded = http.post(
                "/v1/mgmt/outbound/app/user/oauthtoken/batch/upload",
                json={
                    "tokens": [
                        {
                            "appId": "down",
                            "userId": f"u{i}",
                            "accessToken": f"at-{i}",
                            "refreshToken": f"rt-{i}",
                        }
                        for i in range(FAILING)
                    ]
                },
            )
            assert uploaded.status_code == 200 and uploaded.json()["failures"] == []

    # Every token expires soon; the failing project's soonest of all.
    now = int(time.time())
    execute(
        shared_store,
        "UPDATE tokens SET access_token_expiry = ?, last_refresh_time = ? WHERE app_id = ?",
        (now + 60, now - 3600, "down"),
    )
    execute(
        shared_store,
        "UPDATE tokens SET access_token_expiry = ?, last_refresh_time = ? WHERE app_id = ?",
        (now + 120, now - 3600, healthy_app),
    )
    versions = dict(
        execute(shared_store, "SELECT id, version FROM tokens WHERE app_id = ?", (healthy_app,))
    )
    idp.reset()

    env = {"OUTBOUND_REFRESH_AHEAD_INTERVAL": str(INTERVAL)}
    args = [*SERVER_ARGS, "--refresh-ahead", "600"]
    with running_server(shared_store, extra_args=args, env=env) as server:
        # The first round starts within one interval; it is over when the broken provider
        # stops being asked.
        wait_until(lambda: broken_idp.grants()["tokenRequests"] > 0, INTERVAL + 10, "no round ran")
        seen = -1
        while (asked := broken_idp.grants()["tokenRequests"]) != seen:
            seen = asked
            time.sleep(1.5)
        refreshed = [
            token_id
            for token_id, version in execute(
                shared_store, "SELECT id, version FROM tokens WHERE app_id = ?", (healthy_app,)
            )
            if version != versions[token_id]
        ]
        log = server.log()

    assert len(refreshed) == HEALTHY, f"{len(refreshed)} of {HEALTHY} refreshed:\n{log[-2000:]}"
    assert idp.successful_grants("refresh_token") == HEALTHY
    # The round shared its batch; the failing tokens it tried back off instead of coming
    # first again next round.
    tried = broken_idp.grants()["tokenRequests"]
    assert 0 < tried < FAILING
    backing_off = execute(
        shared_store,
        "SELECT COUNT(*) FROM tokens WHERE app_id = ? AND failure_count = 1"
        " AND next_refresh_at > ?",
        ("down", int(time.time())),
    )[0][0]
    assert backing_off == tried
