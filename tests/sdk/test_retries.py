"""Retries against a small real HTTP server that answers 429 and 5xx as scripted.

Not a mock of our server: a plain ``http.server`` on a real socket, so the clients' real
transports, keep-alive and timing run as they would against a proxy or a busy vault.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest

from outbound import (
    AsyncClient,
    Client,
    OutboundError,
    ProviderUnavailableError,
    RateLimitedError,
)
from outbound.client import RetryPolicy

from .conftest import OK_TOKEN, Scripted, Twin, close


@pytest.fixture(params=["sync", "async"])
async def twin(request: pytest.FixtureRequest, scripted: Scripted) -> AsyncIterator[Twin]:
    cls = AsyncClient if request.param == "async" else Client
    client = cls("P1", "key-for-retries", scripted.url)
    client._retry = RetryPolicy(backoff=0.01)  # the default 0.25 s start would slow the suite
    yield Twin(request.param, client)
    await close(client)


RATE_LIMITED = {
    "errorCode": "E130429",
    "errorDescription": "Rate limited",
    "errorMessage": "slow down",
}


async def test_429_is_retried_after_retry_after(twin: Twin, scripted: Scripted) -> None:
    scripted.answer(429, RATE_LIMITED, retry_after="0")
    scripted.answer(429, RATE_LIMITED, retry_after="0")
    result = await twin.call("fetch_token", "app", "user")
    assert result == OK_TOKEN
    assert len(scripted.seen) == 3
    assert len({body for _, _, body in scripted.seen}) == 1, "every attempt sends the same request"


async def test_429_is_retried_even_for_create(twin: Twin, scripted: Scripted) -> None:
    # A 429 means the server did nothing, so even a non-idempotent call is safe to resend.
    scripted.answer(429, RATE_LIMITED, retry_after="0")
    await twin.call("create_application", "app")
    assert [path for _, path, _ in scripted.seen] == ["/v1/mgmt/outbound/app/create"] * 2


@pytest.mark.parametrize("status", [502, 503, 504])
async def test_gateway_errors_are_retried_for_idempotent_calls(
    twin: Twin, scripted: Scripted, status: int
) -> None:
    scripted.answer(status, {})
    scripted.answer(status, {})
    assert await twin.call("fetch_token", "app", "user") == OK_TOKEN
    assert len(scripted.seen) == 3
    assert await twin.call("delete_token", "tok_1") is None


async def test_gateway_errors_are_not_retried_for_create_or_connect(
    twin: Twin, scripted: Scripted
) -> None:
    scripted.answer(503, {})
    with pytest.raises(OutboundError) as caught:
        await twin.call("create_application", "app")
    assert caught.value.status == 503
    scripted.answer(502, {})
    with pytest.raises(OutboundError):
        await twin.call("connect", "app", "user")
    assert len(scripted.seen) == 2


async def test_provider_unavailable_is_not_retried(twin: Twin, scripted: Scripted) -> None:
    # The vault already waited on the provider; retrying would only pile onto it.
    scripted.answer(
        502,
        {
            "errorCode": "E131011",
            "errorDescription": "Provider unavailable",
            "errorMessage": "the provider could not refresh the token (timeout)",
        },
        retry_after="5",
    )
    with pytest.raises(ProviderUnavailableError) as caught:
        await twin.call("fetch_token", "app", "user")
    assert len(scripted.seen) == 1
    assert caught.value.retry_after == 5


async def test_retries_give_up_with_the_last_error(twin: Twin, scripted: Scripted) -> None:
    for _ in range(4):
        scripted.answer(429, RATE_LIMITED, retry_after="0")
    with pytest.raises(RateLimitedError) as caught:
        await twin.call("fetch_token", "app", "user")
    assert len(scripted.seen) == 4  # the call and max_retries=3 retries
    assert caught.value.message == "slow down"
    assert caught.value.retry_after == 0


async def test_a_long_retry_after_is_handed_to_the_caller(twin: Twin, scripted: Scripted) -> None:
    scripted.answer(429, RATE_LIMITED, retry_after="120")
    with pytest.raises(RateLimitedError) as caught:
        await twin.call("fetch_token", "app", "user")
    assert caught.value.retry_after == 120
    assert len(scripted.seen) == 1


def test_the_wait_follows_retry_after(scripted: Scripted, caplog: pytest.LogCaptureFixture) -> None:
    scripted.answer(429, RATE_LIMITED, retry_after="1")
    caplog.set_level(logging.INFO, logger="outbound.client")
    with Client("P1", "key-for-retries", scripted.url) as client:
        assert client.mgmt.outbound_application.fetch_token("app", "user") == OK_TOKEN
    assert "answered 429; retrying in 1.00s (attempt 2 of 4)" in caplog.text


def test_max_retries_zero_disables_retries(scripted: Scripted) -> None:
    scripted.answer(503, {})
    with Client("P1", "key", scripted.url, max_retries=0) as client, pytest.raises(OutboundError):
        client.mgmt.outbound_application.fetch_token("app", "user")
    assert len(scripted.seen) == 1
