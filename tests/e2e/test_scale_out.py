"""Several ``outbound serve`` processes on one database: one refresh at the provider, however
many callers race on however many servers."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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

SERVERS = 3
CALLERS = 50
# How long a server's refresh lease lasts with the tests' provider timeout (see refresh.py).
LEASE_SECONDS = 2 * PROVIDER_TIMEOUT + 5


@contextlib.contextmanager
def _store(backend: str, data_dir: Path) -> Iterator[Store]:
    if backend == "postgres":
        with postgres_database() as url:
            yield Store(data_dir, url)
    else:
        yield Store(data_dir)


@pytest.fixture(
    params=[pytest.param("postgres", marks=pytest.mark.postgres), "sqlite"],
)
def cluster(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    idp: OidcServer,
    catcher: CallbackCatcher,
) -> Iterator[list[Vault]]:
    """Three servers behind one public URL (as behind a load balancer), one database."""
    with _store(request.param, tmp_path) as store:
        ports = [free_port() for _ in range(SERVERS)]
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
            yield [Vault(server, idp, oauth_client, catcher, app_id) for server in servers]
        finally:
            for server in servers:
                stop_server(server)


async def _race(vaults: list[Vault], user: str, count: int, **options: Any) -> list[httpx.Response]:
    """``count`` fetches at once, spread round-robin over the servers."""
    clients = [
        httpx.AsyncClient(
            base_url=v.server.base_url,
            headers=v.server.auth_header,
            timeout=60,
            limits=httpx.Limits(max_connections=count),
        )
        for v in vaults
    ]
    body = {"appId": vaults[0].app_id, "userId": user, "options": options or None}
    try:
        # Open the connections first, so that the fetches leave together.
        await asyncio.gather(*(clients[i % len(clients)].get("/health") for i in range(count)))
        return await asyncio.gather(
            *(
                clients[i % len(clients)].post("/v1/mgmt/outbound/app/user/token/latest", json=body)
                for i in range(count)
            )
        )
    finally:
        for client in clients:
            await client.aclose()


def test_concurrent_fetches_on_several_servers_refresh_once(
    cluster: list[Vault], idp: OidcServer
) -> None:
    first = cluster[0]
    user = first.new_user()
    assert first.connect_quickly(user)["status"] == "success"
    before = first.token(user, withRefreshToken=True)

    for round_ in range(2):
        idp.reset()
        first.expire(user)

        responses = asyncio.run(_race(cluster, user, CALLERS, withRefreshToken=True))

        assert [r.status_code for r in responses] == [200] * CALLERS, responses[0].text
        tokens = {r.json()["token"]["accessToken"] for r in responses}
        refresh_tokens = {r.json()["token"]["refreshToken"] for r in responses}
        assert len(tokens) == 1, f"round {round_}: {len(tokens)} different tokens"
        assert len(refresh_tokens) == 1
        (token,) = tokens
        (refresh_token,) = refresh_tokens
        # Exactly one refresh reached the provider, and nobody tried the old refresh token
        # again (with rotation that would have been an invalid_grant).
        assert idp.grants() == {"tokenRequests": 1, "success": {"refresh_token": 1}, "error": {}}
        assert token != before["accessToken"]
        assert idp.introspect(token)["active"] is True
        assert idp.is_active(refresh_token)
        assert not idp.is_active(before["refreshToken"])
        # Every server now hands out that token without asking the provider.
        for vault in cluster:
            assert vault.token(user)["accessToken"] == token
        assert idp.grants()["tokenRequests"] == 1
        before = {"accessToken": token, "refreshToken": refresh_token}


def test_concurrent_forced_refreshes_on_several_servers_refresh_once(
    cluster: list[Vault], idp: OidcServer
) -> None:
    first = cluster[0]
    user = first.new_user()
    assert first.connect_quickly(user)["status"] == "success"
    before = first.token(user)
    idp.reset()

    responses = asyncio.run(_race(cluster, user, 30, forceRefresh=True))

    assert [r.status_code for r in responses] == [200] * 30
    tokens = {r.json()["token"]["accessToken"] for r in responses}
    assert before["accessToken"] not in tokens
    # Callers that arrived while a refresh was in flight share its result; none was refused.
    assert idp.grants()["error"] == {}
    assert idp.successful_grants("refresh_token") == len(tokens)


def test_a_server_that_dies_while_refreshing_does_not_block_the_token(
    cluster: list[Vault], idp: OidcServer
) -> None:
    doomed, survivor = cluster[0], cluster[1]
    user = doomed.new_user()
    assert doomed.connect_quickly(user)["status"] == "success"
    before = doomed.token(user)
    idp.reset()
    doomed.expire(user)
    idp.fault("hang", seconds=60)

    # The first server takes the refresh lease and is killed while the provider keeps it
    # waiting; its lease stays behind in the database.
    def fetch_until_killed() -> None:
        with contextlib.suppress(httpx.TransportError):  # the server dies under it
            doomed.fetch(user)

    caller = threading.Thread(target=fetch_until_killed, daemon=True)
    caller.start()
    deadline = time.monotonic() + 10
    while not _claimed(doomed, user):
        assert time.monotonic() < deadline, "the first server never claimed the refresh"
        time.sleep(0.02)
    claimed_at = time.monotonic()  # the lease was taken at most 20 ms before this
    doomed.server.process.kill()
    doomed.server.process.wait()
    caller.join(timeout=10)
    idp.heal()

    # Another server waits out the dead server's lease, then refreshes in its place.
    started = time.monotonic()
    token = survivor.token(user, withRefreshToken=True)
    answered = time.monotonic()
    waited = answered - started

    assert token["accessToken"] != before["accessToken"]
    assert idp.introspect(token["accessToken"])["active"] is True
    assert idp.is_active(token["refreshToken"])
    assert idp.successful_grants("refresh_token") == 1
    assert idp.grants()["error"] == {}
    # It waited the lease out — not less (a survivor that ignored the live lease would have
    # refreshed at once, beside the dead server's request) and not much more.
    assert answered >= claimed_at + LEASE_SECONDS - 1.5
    assert waited < LEASE_SECONDS + 3
    assert not _claimed(survivor, user)


def _claimed(vault: Vault, user: str) -> bool:
    rows = execute(
        vault.server.store,
        "SELECT refresh_claim_owner FROM tokens WHERE app_id = ? AND user_id = ?",
        (vault.app_id, user),
    )
    return rows[0][0] is not None
