"""The default transports: one kept-alive connection, stale connections, unreachable servers."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from outbound import AsyncClient, Client, TransportError

from .conftest import OK_TOKEN, Scripted, Twin, close


@pytest.fixture(params=["sync", "async"])
async def twin(request: pytest.FixtureRequest, scripted: Scripted) -> AsyncIterator[Twin]:
    cls = AsyncClient if request.param == "async" else Client
    client = cls("P1", "key-for-transport", scripted.url)
    yield Twin(request.param, client)
    await close(client)


async def test_sequential_calls_share_one_connection(twin: Twin, scripted: Scripted) -> None:
    for _ in range(5):
        assert await twin.call("fetch_token", "app", "user") == OK_TOKEN
    assert len(scripted.seen) == 5
    assert len(scripted.peers) == 1


async def test_a_connection_the_server_dropped_is_replaced_not_failed(
    twin: Twin, scripted: Scripted
) -> None:
    scripted.drop_connections = True  # the server closes after each answer, unannounced
    for _ in range(3):
        assert await twin.call("fetch_token", "app", "user") == OK_TOKEN
    assert len(scripted.seen) == 3, "no request was sent twice"
    assert len(scripted.peers) == 3


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_an_unreachable_server_is_a_transport_error(mode: str) -> None:
    cls = AsyncClient if mode == "async" else Client
    client = cls("P1", "key-for-transport", "http://127.0.0.1:9")  # the discard port
    try:
        with pytest.raises(TransportError) as caught:
            await Twin(mode, client).call("fetch_token", "app", "user")
    finally:
        await close(client)
    assert caught.value.status is None
    assert "unreachable" in str(caught.value)
    assert "key-for-transport" not in str(caught.value)


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_a_server_that_does_not_answer_times_out(mode: str, scripted: Scripted) -> None:
    scripted.stall = 1.0
    cls = AsyncClient if mode == "async" else Client
    client = cls("P1", "key-for-transport", scripted.url, timeout=0.2)
    try:
        with pytest.raises(TransportError) as caught:
            await Twin(mode, client).call("load_all_applications")
    finally:
        await close(client)
    assert "did not answer in time" in str(caught.value)
