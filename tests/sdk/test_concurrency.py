"""One client shared by racing threads (sync) or tasks (async) against a live server."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

from outbound import AsyncClient, Client
from outbound.client._transport import PooledTransport
from tests.support.server import LiveServer

from .conftest import OAUTH_APP, new_secret, unique

THREADS = 16
CALLS_PER_THREAD = 20


def seed_users(client: Client, count: int) -> tuple[str, dict[str, str]]:
    api = client.mgmt.outbound_application
    app_id = api.create_application(unique("race"), **OAUTH_APP)["app"]["id"]
    users = {unique("user"): new_secret() for _ in range(count)}
    api.batch_upload_user_tokens(
        [{"appId": app_id, "userId": user, "accessToken": token} for user, token in users.items()]
    )
    return app_id, users


def test_threads_racing_on_one_client_each_get_their_own_answers(live_server: LiveServer) -> None:
    with Client(live_server.project_id, live_server.management_key, live_server.base_url) as client:
        app_id, users = seed_users(client, THREADS)
        api = client.mgmt.outbound_application
        start = threading.Barrier(THREADS)

        def worker(user: str) -> list[str]:
            start.wait()  # all threads enter the client at once
            return [
                api.fetch_token(app_id, user)["token"]["token"] for _ in range(CALLS_PER_THREAD)
            ]

        with ThreadPoolExecutor(THREADS) as pool:
            results = dict(zip(users, pool.map(worker, users), strict=True))

        for user, tokens in results.items():
            assert tokens == [users[user]] * CALLS_PER_THREAD, f"{user} got another user's answer"
        # More threads than idle connections kept: the pool stays bounded and still works.
        transport = client._transport
        assert isinstance(transport, PooledTransport)
        assert transport._pool.idle_count() <= 20
        assert api.list_apps_with_user_token(next(iter(users))) == {"appIds": [app_id]}


def test_closing_while_threads_call_fails_cleanly(live_server: LiveServer) -> None:
    client = Client(live_server.project_id, live_server.management_key, live_server.base_url)
    app_id, users = seed_users(client, 1)
    user = next(iter(users))
    api = client.mgmt.outbound_application
    busy = threading.Barrier(5)
    outcomes: list[str] = []

    def worker() -> None:
        api.fetch_token(app_id, user)
        busy.wait()
        while True:  # keep calling until the close lands, mid-request or between requests
            try:
                api.fetch_token(app_id, user)
            except RuntimeError as exc:
                outcomes.append(str(exc))
                return

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    busy.wait()
    client.close()
    for thread in threads:
        thread.join(timeout=30)
    assert outcomes == ["the client has been closed"] * 4
    assert isinstance(client._transport, PooledTransport)
    assert client._transport._pool.idle_count() == 0


async def test_tasks_racing_on_one_async_client(live_server: LiveServer) -> None:
    with Client(live_server.project_id, live_server.management_key, live_server.base_url) as setup:
        app_id, users = seed_users(setup, 20)
    async with AsyncClient(
        live_server.project_id, live_server.management_key, live_server.base_url
    ) as client:
        api = client.mgmt.outbound_application
        order = [user for user in users for _ in range(5)]
        tokens = await asyncio.gather(*(api.fetch_token(app_id, user) for user in order))
    assert [t["token"]["token"] for t in tokens] == [users[user] for user in order]
