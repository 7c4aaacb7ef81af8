"""A server killed (SIGKILL) while it holds a token's refresh lease loses nothing: another
server on the same database takes the lease over once it lapses, refreshes once, and every
caller gets a working token."""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.e2e.conftest import PROVIDER_TIMEOUT, SERVER_ARGS, Vault, create_app
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


@contextlib.contextmanager
def _store(backend: str, data_dir: Path) -> Iterator[Store]:
    if backend == "postgres":
        with postgres_database() as url:
            yield Store(data_dir, url)
    else:
        yield Store(data_dir)


@pytest.fixture(params=[pytest.param("postgres", marks=pytest.mark.postgres), "sqlite"])
def pair(
    request: pytest.FixtureRequest, tmp_path: Path, idp: OidcServer, catcher: CallbackCatcher
) -> Iterator[tuple[Vault, Vault]]:
    with _store(request.param, tmp_path) as store:
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
                        extra_args=[*SERVER_ARGS, "--public-url", public_url],
                    )
                )
            oauth_client, app_id = create_app(servers[0], idp, catcher, callback_base=public_url)
            a, b = (Vault(s, idp, oauth_client, catcher, app_id) for s in servers)
            yield a, b
        finally:
            idp.heal()
            for server in servers:
                stop_server(server)


def test_a_server_killed_mid_refresh_loses_nothing(
    pair: tuple[Vault, Vault], idp: OidcServer
) -> None:
    doomed, survivor = pair
    user = doomed.new_user()
    assert doomed.connect_quickly(user)["status"] == "success"
    before = doomed.token(user, withRefreshToken=True)
    doomed.expire(user)
    idp.reset()
    idp.fault("hang", seconds=120)

    # The doomed server claims the lease and waits on the hung provider …
    threading.Thread(target=lambda: _quietly(doomed.fetch, user), daemon=True).start()
    store = doomed.server.store
    deadline = time.monotonic() + 10
    while not execute(
        store,
        "SELECT refresh_claim_owner FROM tokens WHERE app_id = ? AND user_id = ?",
        (doomed.app_id, user),
    )[0][0]:
        assert time.monotonic() < deadline, "the lease was never claimed"
        time.sleep(0.02)
    # … and dies holding it.
    doomed.server.process.send_signal(signal.SIGKILL)
    doomed.server.process.wait()
    idp.heal()

    # The survivor waits out the dead server's lease, then refreshes, once.
    started = time.monotonic()
    after = survivor.token(user, withRefreshToken=True)
    waited = time.monotonic() - started
    assert after["accessToken"] != before["accessToken"]
    assert idp.introspect(after["accessToken"])["active"] is True
    assert idp.is_active(after["refreshToken"])
    assert idp.grants()["success"] == {"refresh_token": 1}
    assert waited < 2 * PROVIDER_TIMEOUT + 5 + 5, f"waited {waited:.1f} s for a dead lease"
    # and it is stored: served again without another refresh
    assert survivor.token(user)["accessToken"] == after["accessToken"]
    assert idp.grants()["success"] == {"refresh_token": 1}


def _quietly(fetch: object, user: str) -> None:
    with contextlib.suppress(httpx.HTTPError):
        fetch(user)  # type: ignore[operator]
