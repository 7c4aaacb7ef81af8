"""Refresh ahead (``--refresh-ahead``): servers sharing one database refresh tokens before they
expire, in the background, each token once."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.e2e.conftest import SERVER_ARGS, Vault, create_app
from tests.support.browser import CallbackCatcher
from tests.support.database import execute
from tests.support.oidc_server import OidcServer
from tests.support.server import (
    LiveServer,
    Store,
    free_port,
    postgres_database,
    start_server,
    stop_server,
)

HORIZON = 600
# Short rounds, so that the test waits seconds rather than the default 150.
INTERVAL = 0.5


@pytest.fixture(params=[pytest.param("postgres", marks=pytest.mark.postgres), "sqlite"])
def shared_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "postgres":
        with postgres_database() as url:
            yield Store(tmp_path, url)
    else:
        yield Store(tmp_path)


@contextlib.contextmanager
def _cluster(
    store: Store, idp: OidcServer, catcher: CallbackCatcher, args: list[str]
) -> Iterator[list[Vault]]:
    """Two servers on one database, behind one public URL."""
    ports = [free_port(), free_port()]
    public_url = f"http://127.0.0.1:{ports[0]}"
    project = store.new_project()
    servers: list[LiveServer] = []
    try:
        for port in ports:
            servers.append(
                start_server(
                    store,
                    port=port,
                    project=project,
                    extra_args=[*SERVER_ARGS, "--public-url", public_url, *args],
                    env={"OUTBOUND_REFRESH_AHEAD_INTERVAL": str(INTERVAL)},
                )
            )
        oauth_client, app_id = create_app(servers[0], idp, catcher, callback_base=public_url)
        yield [Vault(server, idp, oauth_client, catcher, app_id) for server in servers]
    finally:
        for server in servers:
            stop_server(server)


def _stored(vault: Vault, user: str) -> tuple[int, int]:
    """The stored access token's expiry and the row's version."""
    rows = execute(
        vault.server.store,
        "SELECT access_token_expiry, version FROM tokens WHERE app_id = ? AND user_id = ?",
        (vault.app_id, user),
    )
    return int(rows[0][0]), int(rows[0][1])


def test_servers_refresh_an_expiring_token_once_without_a_fetch(
    shared_store: Store, idp: OidcServer, catcher: CallbackCatcher
) -> None:
    with _cluster(shared_store, idp, catcher, ["--refresh-ahead", str(HORIZON)]) as cluster:
        first, second = cluster
        user = first.new_user()
        assert first.connect_quickly(user)["status"] == "success"
        before = first.token(user, withRefreshToken=True)
        idp.reset()
        first.expire(user, seconds_left=60)
        expiry, version = _stored(first, user)

        deadline = time.monotonic() + 15
        while _stored(first, user)[0] <= expiry:
            assert time.monotonic() < deadline, "no server refreshed the token ahead of expiry"
            time.sleep(0.1)
        # Both servers go on with their rounds: neither refreshes the token again.
        time.sleep(4 * INTERVAL)

        new_expiry, new_version = _stored(first, user)
        assert new_expiry >= time.time() + 3000  # the provider's tokens live an hour
        assert new_version == version + 1
        assert idp.grants() == {"tokenRequests": 1, "success": {"refresh_token": 1}, "error": {}}
        token = second.token(user, withRefreshToken=True)
        assert token["accessToken"] != before["accessToken"]
        assert idp.introspect(token["accessToken"])["active"] is True
        assert idp.is_active(token["refreshToken"])
        assert first.token(user)["accessToken"] == token["accessToken"]
        assert idp.grants()["tokenRequests"] == 1
        for vault in cluster:
            log = vault.server.log()
            assert "refresh ahead of token" not in log  # no failure was logged
            secrets = [before["accessToken"], before["refreshToken"], *token.values()]
            leaked = [s for s in secrets if isinstance(s, str) and len(s) > 16 and s in log]
            assert not leaked


def test_without_refresh_ahead_tokens_are_refreshed_only_when_fetched(
    shared_store: Store, idp: OidcServer, catcher: CallbackCatcher
) -> None:
    with _cluster(shared_store, idp, catcher, []) as cluster:
        first, second = cluster
        user = first.new_user()
        assert first.connect_quickly(user)["status"] == "success"
        before = first.token(user)
        idp.reset()
        first.expire(user, seconds_left=60)
        stored = _stored(first, user)

        # Many rounds' worth of time, had the rounds been on.
        time.sleep(6 * INTERVAL)

        assert _stored(first, user) == stored
        assert idp.grants()["tokenRequests"] == 0
        # The token was due all along: the fetch refreshes it (inside the refresh margin).
        assert second.token(user)["accessToken"] != before["accessToken"]
        assert idp.successful_grants("refresh_token") == 1
