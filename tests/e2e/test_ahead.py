"""Refresh ahead (``--refresh-ahead``): servers sharing one database refresh tokens before they
expire, in the background, each token once."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable
from typing import Any

from tests.e2e.conftest import Vault, server_cluster
from tests.support.browser import CallbackCatcher
from tests.support.database import execute
from tests.support.oidc_server import OidcServer
from tests.support.server import Store

HORIZON = 600
# Short rounds, so that the test waits seconds rather than the default 150.
INTERVAL = 0.5
# Tokens expiring at once: more than a round's concurrency, so the servers' rounds overlap.
USERS = 6


def _cluster(
    store: Store, idp: OidcServer, catcher: CallbackCatcher, args: list[str]
) -> contextlib.AbstractContextManager[list[Vault]]:
    """Two servers on one database, behind one public URL, with short rounds."""
    env = {"OUTBOUND_REFRESH_AHEAD_INTERVAL": str(INTERVAL)}
    return server_cluster(store, idp, catcher, args, env=env)


def _stored(vault: Vault, user: str) -> tuple[int, int]:
    """The stored access token's expiry and the row's version."""
    rows = execute(
        vault.server.store,
        "SELECT access_token_expiry, version FROM tokens WHERE app_id = ? AND user_id = ?",
        (vault.app_id, user),
    )
    return int(rows[0][0]), int(rows[0][1])


def test_servers_refresh_expiring_tokens_once_without_a_fetch(
    shared_store: Store, idp: OidcServer, catcher: CallbackCatcher
) -> None:
    with _cluster(shared_store, idp, catcher, ["--refresh-ahead", str(HORIZON)]) as cluster:
        first, second = cluster
        users = [first.new_user() for _ in range(USERS)]
        for user in users:
            assert first.connect_quickly(user)["status"] == "success"
        before = {user: first.token(user, withRefreshToken=True) for user in users}
        # (Read before expiring them: a round may refresh the first while the last expires.)
        versions = {user: _stored(first, user)[1] for user in users}
        idp.reset()
        for user in users:
            first.expire(user, seconds_left=60)

        deadline = time.monotonic() + 15
        while any(_stored(first, u)[1] == versions[u] for u in users):
            assert time.monotonic() < deadline, "tokens not refreshed ahead of expiry:\n" + "".join(
                v.server.log()[-3000:] for v in cluster
            )
            time.sleep(0.1)
        # Both servers go on with their rounds: neither refreshes a token again.
        time.sleep(4 * INTERVAL)

        # One refresh per token at the provider, however the two servers' rounds overlapped.
        assert idp.grants() == {
            "tokenRequests": USERS,
            "success": {"refresh_token": USERS},
            "error": {},
        }
        for user in users:
            expiry, version = _stored(first, user)
            assert expiry >= time.time() + 3000  # the provider's tokens live an hour
            assert version == versions[user] + 1
            token = second.token(user, withRefreshToken=True)
            assert token["accessToken"] != before[user]["accessToken"]
            assert idp.introspect(token["accessToken"])["active"] is True
            assert idp.is_active(token["refreshToken"])
            assert not idp.is_active(before[user]["refreshToken"])
            assert first.token(user)["accessToken"] == token["accessToken"]
            first.seen.update(_secrets(before[user]), _secrets(token))
        assert idp.grants()["tokenRequests"] == USERS
        for vault in cluster:
            log = vault.server.log()
            assert "refresh ahead of token" not in log  # no failure was logged
            _assert_no_secrets(log, first.seen)


def test_a_refused_refresh_ahead_marks_the_token_for_reconnection(
    shared_store: Store, idp: OidcServer, catcher: CallbackCatcher
) -> None:
    with _cluster(shared_store, idp, catcher, ["--refresh-ahead", str(HORIZON)]) as cluster:
        first, second = cluster
        user = first.new_user()
        assert first.connect_quickly(user)["status"] == "success"
        first.seen.update(_secrets(first.token(user, withRefreshToken=True)))
        assert idp.revoke_account(user) == 1
        idp.reset()
        first.expire(user, seconds_left=60)

        deadline = time.monotonic() + 15
        while not _needs_reconnect(first, user):
            assert time.monotonic() < deadline, "the refusal was never recorded"
            time.sleep(0.1)
        time.sleep(4 * INTERVAL)

        # Asked once, refused once, not asked again by either server.
        assert idp.grants() == {"tokenRequests": 1, "success": {}, "error": {"refresh_token": 1}}
        refused = second.fetch(user)
        assert refused.status_code == 409
        assert refused.json()["errorCode"] == "E131010"
        assert "invalid_grant" in refused.json()["errorMessage"]
        assert idp.grants()["tokenRequests"] == 1
        logs = "".join(vault.server.log() for vault in cluster)
        assert "E131010" in logs  # the operator can see it
        _assert_no_secrets(logs, first.seen)


def _needs_reconnect(vault: Vault, user: str) -> bool:
    rows = execute(
        vault.server.store,
        "SELECT needs_reconnect FROM tokens WHERE app_id = ? AND user_id = ?",
        (vault.app_id, user),
    )
    return bool(rows[0][0])


def _secrets(token: dict[str, Any]) -> list[str]:
    return [token[k] for k in ("accessToken", "refreshToken", "idToken") if token.get(k)]


def _assert_no_secrets(log: str, secrets: Iterable[str]) -> None:
    leaked = [s for s in secrets if s in log]
    assert not leaked, f"{len(leaked)} secrets in a server log"


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


def test_idle_refresh_tokens_are_kept_alive(
    shared_store: Store, idp: OidcServer, catcher: CallbackCatcher
) -> None:
    # Some providers let a refresh token lapse when it goes unused (Microsoft after 90 days):
    # --refresh-idle-days refreshes such tokens before that, with nobody fetching them.
    with _cluster(shared_store, idp, catcher, ["--refresh-idle-days", "30"]) as cluster:
        first, _ = cluster
        idle_user, busy_user = first.new_user(), first.new_user()
        for user in (idle_user, busy_user):
            assert first.connect_quickly(user)["status"] == "success"
        before = first.token(idle_user, withRefreshToken=True)
        versions = {user: _stored(first, user)[1] for user in (idle_user, busy_user)}
        idp.reset()
        execute(
            first.server.store,
            "UPDATE tokens SET last_refresh_time = ? WHERE app_id = ? AND user_id = ?",
            (int(time.time()) - 40 * 86400, first.app_id, idle_user),
        )

        deadline = time.monotonic() + 15
        while _stored(first, idle_user)[1] == versions[idle_user]:
            assert time.monotonic() < deadline, "the idle token was not refreshed"
            time.sleep(0.1)
        time.sleep(4 * INTERVAL)

        assert idp.grants() == {"tokenRequests": 1, "success": {"refresh_token": 1}, "error": {}}
        assert _stored(first, busy_user)[1] == versions[busy_user]  # used recently: left alone
        after = first.token(idle_user, withRefreshToken=True)
        assert after["refreshToken"] != before["refreshToken"]
        assert idp.is_active(after["refreshToken"])
        assert int(after["lastRefreshTime"]) > time.time() - 60
        first.seen.update(_secrets(before), _secrets(after))
        for vault in cluster:
            _assert_no_secrets(vault.server.log(), first.seen)
