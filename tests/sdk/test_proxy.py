"""Our SDK's ``proxy`` and ``proxy_stream``, sync and async, against a live server and a
provider API we run."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from outbound import AsyncClient, Client
from tests.server.proxy.conftest import new_proxy_app
from tests.support.server import LiveServer
from tests.support.upstream_api import Upstream, running_upstream


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    with running_upstream() as api:
        yield api


def _client(server: LiveServer) -> Client:
    return Client(project_id=server.project_id, management_key=server.management_key,
                  base_url=server.base_url)  # fmt: skip


def test_proxy_sync(live_server: LiveServer, upstream: Upstream) -> None:
    app = new_proxy_app(live_server, upstream.base_url)
    with _client(live_server) as client:
        answer = client.proxy(
            app.app_id, "POST", "/echo/x", user_id=app.user_id, params={"q": "1"},
            json={"a": 1}, headers={"X-Thing": "t"},
        )  # fmt: skip
        assert answer.status_code == 200
        seen = answer.json()
        assert (seen["method"], seen["rawPath"], seen["query"]) == ("POST", "/echo/x", "q=1")
        assert dict(seen["headers"])["authorization"] == f"Bearer {app.api_key}"
        assert dict(seen["headers"])["x-thing"] == "t"
        with client.proxy_stream(app.app_id, "GET", "bytes", user_id=app.user_id,
                                 params={"n": 300000}) as streamed:  # fmt: skip
            assert sum(len(c) for c in streamed.iter_bytes()) == 300000
        missing = client.proxy(app.app_id, "GET", "echo", user_id="nobody")
        assert missing.status_code == 404 and missing.headers["outbound-error"] == "1"
        with pytest.raises(ValueError, match="exactly one"):
            client.proxy(app.app_id, "GET", "echo")


async def test_proxy_async(live_server: LiveServer, upstream: Upstream) -> None:
    app = new_proxy_app(live_server, upstream.base_url)
    async with AsyncClient(project_id=live_server.project_id,
                           management_key=live_server.management_key,
                           base_url=live_server.base_url) as client:  # fmt: skip
        answer = await client.proxy(app.app_id, "PUT", "upload", user_id=app.user_id,
                                    content=b"x" * 1000)  # fmt: skip
        assert answer.json()["size"] == 1000
        async with client.proxy_stream(app.app_id, "GET", "bytes", user_id=app.user_id,
                                       params={"n": 70000}) as streamed:  # fmt: skip
            total = 0
            async for chunk in streamed.aiter_bytes():
                total += len(chunk)
        assert total == 70000
