"""Slow request bodies cannot hold the server: a body has --body-timeout seconds (plus time
for what it sends at --body-min-rate), one client address holds at most
--max-connections-per-client connections, and the fetch path checks its key before it waits
for a body that does not arrive whole."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.support.server import LiveServer, Store, running_server

BODY_TIMEOUT = 2.0
MAX_CONNECTIONS = 16
PER_CLIENT = 4

# Paths that read a body before (or without) authenticating anyone, and the fetch path.
DRIPPED = [
    "/console/sign-in",
    "/v1/outbound/oauth/start",
    "/v1/mgmt/outbound/app/user/token/latest",
]


@pytest.fixture(scope="module")
def server(store: Store) -> Iterator[LiveServer]:
    with running_server(
        store,
        extra_args=[
            "--body-timeout",
            str(BODY_TIMEOUT),
            "--max-connections",
            str(MAX_CONNECTIONS),
            "--max-connections-per-client",
            str(PER_CLIENT),
        ],
    ) as server:
        with server.client() as http:
            http.post("/v1/mgmt/outbound/app/create", json={"id": "sb-app", "name": "sb-app"})
            http.post(
                "/v1/mgmt/outbound/app/user/apikey/upload",
                json={"appId": "sb-app", "userId": "u", "apiKey": "sb-secret"},
            )
        yield server


def port_of(server: LiveServer) -> int:
    return int(server.base_url.rsplit(":", 1)[1])


def head(path: str, length: int, authorization: str = "") -> bytes:
    auth = f"Authorization: {authorization}\r\n" if authorization else ""
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode()


async def drip(port: int, source: str, path: str, until: float, stop: asyncio.Event) -> bytes:
    """One client sending a 10 000-byte body a byte every 0.3 s from ``source``; what the
    server answered (b'' when it closed without an answer) once it closed or ``stop`` was
    set."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
    writer.write(head(path, 10_000, "Bearer nobody:nokey") + b"a")
    answer = b""
    try:
        while time.monotonic() < until and not stop.is_set():
            try:
                chunk = await asyncio.wait_for(reader.read(4096), 0.3)
            except TimeoutError:
                writer.write(b"a")
                continue
            if not chunk:
                break
            answer += chunk
    except ConnectionError:
        pass
    finally:
        writer.close()
    return answer


def health_within(server: LiveServer, deadline: float) -> float | None:
    """Seconds until /health answered 200 (polled), or None by ``deadline``."""
    started = time.monotonic()
    while time.monotonic() < deadline:
        try:
            if httpx.get(server.base_url + "/health", timeout=1).status_code == 200:
                return time.monotonic() - started
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    return None


def test_dripped_bodies_are_cut_off_and_health_answers(server: LiveServer) -> None:
    """2 x --max-connections clients, each from an address of its own (the per-address cap
    does not help), open one after another and drip bodies to paths that read them before
    authenticating anyone: they take every slot (/health gets 503), and /health answers again
    within 2 x --body-timeout, every dripping client cut off."""
    port = port_of(server)
    count = 2 * MAX_CONNECTIONS

    def health() -> int:
        try:
            return httpx.get(server.base_url + "/health", timeout=1).status_code
        except httpx.TransportError:
            return 0

    async def attack() -> tuple[list[bytes], int, float | None]:
        stop = asyncio.Event()
        until = time.monotonic() + 6 * BODY_TIMEOUT
        clients = []
        for i in range(count):
            path = DRIPPED[i % 2]
            clients.append(asyncio.create_task(drip(port, f"127.0.1.{i + 1}", path, until, stop)))
            await asyncio.sleep(0.02)  # one at a time, as a patient attacker would
        started = time.monotonic()
        during = await asyncio.to_thread(health)
        waited = await asyncio.to_thread(health_within, server, started + 2 * BODY_TIMEOUT)
        answers = await asyncio.gather(*clients)
        return answers, during, waited

    answers, during, waited = asyncio.run(attack())
    assert during == 503, "the drip did not take every connection slot: the test proves nothing"
    assert waited is not None, "/health did not answer within 2 x --body-timeout"
    print(f"/health answered {waited:.2f} s after {count} dripping clients were connected")
    held = [a for a in answers if a.startswith(b"HTTP/1.1 408") and b"E130408" in a]
    assert len(held) >= MAX_CONNECTIONS - 2, answers  # (/health itself takes a slot a moment)
    # The others came past --max-connections: uvicorn answered 503 and closed.
    assert all(a.startswith(b"HTTP/1.1 503") for a in answers if a not in held), answers


def test_a_dripped_body_gets_408_after_the_body_timeout(server: LiveServer) -> None:
    port = port_of(server)

    async def one() -> tuple[bytes, float]:
        started = time.monotonic()
        stop = asyncio.Event()
        answer = await drip(port, "127.0.3.1", "/console/sign-in", started + 5 * BODY_TIMEOUT, stop)
        return answer, time.monotonic() - started

    answer, seconds = asyncio.run(one())
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert b'"errorCode":"E130408"' in answer
    assert BODY_TIMEOUT - 0.1 < seconds < BODY_TIMEOUT + 1.5


def test_one_address_cannot_hold_every_connection(server: LiveServer) -> None:
    """2 x --max-connections clients from one address, reconnecting as soon as they are
    closed: the address gets --max-connections-per-client of them, the rest 429, and
    /health from another address answers all along."""
    port = port_of(server)

    async def attack() -> tuple[list[bytes], list[float]]:
        stop = asyncio.Event()
        until = time.monotonic() + 3 * BODY_TIMEOUT
        answers: list[bytes] = []

        async def persistent(i: int) -> None:
            while time.monotonic() < until:
                answers.append(await drip(port, "127.0.2.1", DRIPPED[i % 3], until, stop))

        clients = [asyncio.create_task(persistent(i)) for i in range(2 * MAX_CONNECTIONS)]
        await asyncio.sleep(0.5)
        latencies = []
        while time.monotonic() < until - 0.5:
            started = time.monotonic()
            status = await asyncio.to_thread(
                lambda: httpx.get(server.base_url + "/health", timeout=2).status_code
            )
            assert status == 200
            latencies.append(time.monotonic() - started)
            await asyncio.sleep(0.1)
        stop.set()
        await asyncio.gather(*clients)
        return answers, latencies

    answers, latencies = asyncio.run(attack())
    print(f"/health under a one-address drip: max {max(latencies):.3f} s of {len(latencies)}")
    assert any(a.startswith(b"HTTP/1.1 429") and b"E130429" in a for a in answers)
    assert max(latencies) < BODY_TIMEOUT


def test_fetch_with_a_bad_key_is_refused_before_its_slow_body(server: LiveServer) -> None:
    """The fetch path's key is in its header: a body that does not arrive whole is not
    waited for until the key is known to be live."""
    port = port_of(server)

    # An address and a claimed project of its own: the drips above failed authentication
    # hundreds of times as project "nobody", which the failed-authentication limit counts.
    async def ask() -> tuple[bytes, float]:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, local_addr=("127.0.4.1", 0)
        )
        started = time.monotonic()
        credentials = "Bearer another-nobody:nokey"
        writer.write(head("/v1/mgmt/outbound/app/user/token/latest", 1000, credentials) + b"{")
        try:
            answer = await asyncio.wait_for(reader.read(4096), BODY_TIMEOUT * 3)
        finally:
            writer.close()
        return answer, time.monotonic() - started

    answer, seconds = asyncio.run(ask())
    assert answer.startswith(b"HTTP/1.1 401"), answer
    assert seconds < BODY_TIMEOUT / 2


def test_a_slow_but_steady_body_gets_through(server: LiveServer) -> None:
    """A body sent at --body-min-rate or faster is never cut off, however long it takes: the
    limit is on dripping, not on large bodies over slow links."""
    port = port_of(server)
    body = b'{"appId":"sb-app","userId":"u"}'.ljust(3000)  # JSON allows trailing spaces
    # 3000 bytes at ~1.5 KiB/s: longer than --body-timeout, faster than the default min rate.

    async def send() -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        authorization = f"Bearer {server.project_id}:{server.management_key}"
        writer.write(head("/v1/mgmt/outbound/app/user/token/latest", len(body), authorization))
        for offset in range(0, len(body), 300):
            writer.write(body[offset : offset + 300])
            await writer.drain()
            await asyncio.sleep(0.25)
        try:
            return await asyncio.wait_for(reader.read(65536), 10)
        finally:
            writer.close()

    started = time.monotonic()
    answer = asyncio.run(send())
    assert time.monotonic() - started > BODY_TIMEOUT
    assert answer.startswith(b"HTTP/1.1 200"), answer
    assert b"sb-secret" in answer
