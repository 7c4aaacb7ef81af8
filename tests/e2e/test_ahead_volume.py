"""Refresh ahead at volume (issue 17): several servers on one database, hundreds of tokens whose
lifetime equals the refresh-ahead window, fetches racing the background rounds, a provider that
rotates refresh tokens and detects their reuse. Every token is refreshed once per lifetime —
never again while the token a fetch or another server just got is still fresh."""

from __future__ import annotations

import contextlib
import random
import sqlite3
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from tests.e2e.conftest import Vault, server_cluster
from tests.support.browser import CallbackCatcher
from tests.support.database import execute
from tests.support.oidc_server import OidcServer
from tests.support.server import Store

pytestmark = pytest.mark.slow

SERVERS = 3
USERS = 200
# The provider's access tokens live exactly as long as the refresh-ahead window: a token fresh
# from the provider already "expires within the window".
LIFETIME = WINDOW = 12
INTERVAL = 1
FETCHERS = 16
RUN = 20
# The vault counts in whole seconds: a due refresh may come up to a second before the exact
# half of a lifetime measured at the provider.
SLACK = 1.5


@pytest.fixture
def rotating_idp() -> Iterator[OidcServer]:
    """A provider of this test's own: it rotates refresh tokens (a used one is refused, and
    refusing it revokes the grant), and the test changes its token lifetime."""
    with OidcServer() as server:
        yield server


def _cluster(
    store: Store, idp: OidcServer, catcher: CallbackCatcher
) -> contextlib.AbstractContextManager[list[Vault]]:
    args = [
        # A provider slowed by the load must not turn into failed refreshes here.
        "--provider-timeout",
        "10",
        "--refresh-ahead",
        str(WINDOW),
        "--refresh-ahead-interval",
        str(INTERVAL),
    ]
    return server_cluster(store, idp, catcher, args, servers=SERVERS)


def _set_expiries(store: Store, app_id: str, expiries: dict[str, int]) -> None:
    """Make each user's stored token one of LIFETIME seconds that expires at the given time."""
    rows = [(expiry, expiry - LIFETIME, app_id, user) for user, expiry in expiries.items()]
    sql = (
        "UPDATE tokens SET access_token_expiry = ?, last_refresh_time = ?"
        " WHERE app_id = ? AND user_id = ?"
    )
    if store.database_url:
        import psycopg

        with psycopg.connect(store.database_url) as conn, conn.cursor() as cur:
            cur.executemany(sql.replace("?", "%s"), rows)
        return
    lite = sqlite3.connect(store.data_dir / "outbound.db", timeout=10)
    try:
        with lite:
            lite.executemany(sql, rows)
    finally:
        lite.close()


def _versions(vault: Vault) -> dict[str, int]:
    rows = execute(
        vault.server.store, "SELECT user_id, version FROM tokens WHERE app_id = ?", (vault.app_id,)
    )
    return {str(user): int(version) for user, version in rows}


def _fetch_until(
    cluster: list[Vault], users: list[str], stop: threading.Event, failures: list[str]
) -> int:
    """Fetch random users' tokens from random servers until ``stop``; how many fetches."""
    clients = [vault.http for vault in cluster]
    count = 0
    try:
        while not stop.is_set():
            user = random.choice(users)
            response = random.choice(clients).post(
                "/v1/mgmt/outbound/app/user/token/latest",
                json={"appId": cluster[0].app_id, "userId": user},
            )
            count += 1
            if response.status_code != 200:
                failures.append(f"{user}: {response.status_code} {response.text[:200]}")
    finally:
        for client in clients:
            client.close()
    return count


def test_each_token_is_refreshed_once_per_lifetime_by_servers_and_fetches_racing(
    shared_store: Store, rotating_idp: OidcServer, catcher: CallbackCatcher
) -> None:
    store, idp = shared_store, rotating_idp
    with _cluster(store, idp, catcher) as cluster:
        first = cluster[0]
        users = [first.new_user() for _ in range(USERS)]
        # Users who consented before: real grants at the provider, their refresh tokens
        # migrated into the vault by the batch upload (a browser flow each would take minutes).
        refresh_tokens = idp.issue_refresh_tokens(first.oauth_client, users)
        uploads = [
            {
                "appId": first.app_id,
                "userId": user,
                "refreshToken": refresh_tokens[user],
                "accessToken": f"migrated-{user}",
                "accessTokenExpiry": int(time.time()) + 3600,
                "scopes": ["openid", "email", "read"],
            }
            for user in users
        ]
        with first.http as http:
            response = http.post(
                "/v1/mgmt/outbound/app/user/oauthtoken/batch/upload", json={"tokens": uploads}
            )
        assert response.json() == {"failures": []}, response.text

        # From now on the provider issues tokens of LIFETIME seconds, and the stored ones are
        # made such tokens, obtained at moments spread over the last lifetime: half of them
        # are due at once, the rest fall due one after another.
        idp.set_access_token_ttl(LIFETIME)
        idp.reset()
        now = int(time.time())
        expiries = {user: now + 1 + i * LIFETIME // USERS for i, user in enumerate(users)}
        versions = _versions(first)
        _set_expiries(store, first.app_id, expiries)

        stop = threading.Event()
        failures: list[str] = []
        with ThreadPoolExecutor(FETCHERS) as pool:
            fetchers = [
                pool.submit(_fetch_until, cluster, users, stop, failures) for _ in range(FETCHERS)
            ]
            time.sleep(RUN)
            stop.set()
            fetches = sum(f.result() for f in fetchers)
        ended = time.time()
        # The provider stops granting: refreshes already past its door finish and are stored,
        # none start; then the provider's record and the vault's can be compared.
        logs = [len(vault.server.log()) for vault in cluster]
        idp.fault("status", status=503)
        time.sleep(3)
        refreshes = idp.refreshes()
        grants = idp.grants()
        after = _versions(first)
        idp.heal()

        early, lost, never = [], [], []
        for user in users:
            times = refreshes.get(user, [])
            if not times:
                never.append(user)
            # Due at the earliest when half its lifetime is gone: of the stored token, then of
            # each one the provider issued since.
            obtained = [expiries[user] - LIFETIME, *times][: len(times)]
            early += [
                f"{user}: refreshed at +{t - start:.1f} s of its token's {LIFETIME} s"
                for t, start in zip(times, obtained, strict=True)
                if t < start + LIFETIME / 2 - SLACK
            ]
            # Every grant the provider made was stored: none of its rotated refresh tokens lost.
            if after[user] - versions[user] != len(times):
                lost.append(f"{user}: {len(times)} grants, {after[user] - versions[user]} stored")
        total = sum(len(times) for times in refreshes.values())
        print(
            f"\n{fetches} fetches, {len(failures)} failed; {total} refreshes of {USERS} tokens"
            f" in {RUN} s, {len(early)} of them early; {grants}"
        )
        assert not early, (
            f"{len(early)} of {total} refreshes came while the token was still fresh: {early[:5]}"
        )
        # No refresh token was presented twice (the provider refuses and counts that).
        assert grants["error"] == {}, grants
        assert not failures, f"{len(failures)} of {fetches} fetches failed: {failures[:5]}"
        assert not lost, lost[:5]
        assert not never, f"{len(never)} tokens were never refreshed"
        # Each token refreshed about once per half lifetime over the run, not more.
        assert total <= USERS * (1 + (ended - now) / (LIFETIME / 2 - SLACK))

        # Every server hands out live tokens whose refresh tokens the provider still honours.
        for i, user in enumerate(users[:: USERS // 20]):
            token = cluster[i % SERVERS].token(user, withRefreshToken=True)
            assert idp.is_active(token["refreshToken"]), user
        for vault, length in zip(cluster, logs, strict=True):
            log = vault.server.log()[:length]
            assert "refresh ahead of token" not in log, log[-2000:]
            assert "Traceback" not in log, log[-2000:]
