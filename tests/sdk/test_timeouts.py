"""One timeout contract for both twins (issue 9): ``connect_timeout`` bounds connecting,
``timeout`` bounds each request to the server as a whole, connecting and every read included.

Every test runs the same body against ``Client`` and ``AsyncClient``, on loopback servers that
misbehave on purpose: one that never answers, one that drips its answer a byte at a time (each
read arrives well within the timeout, the whole answer well after it), one whose accept queue
is full so that connecting hangs.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from outbound import AsyncClient, Client, ConfigurationError, TransportError

from .conftest import Scripted, Twin, close

MODES = ["sync", "async"]
# what a loaded machine may add to a deadline before the error surfaces
SLACK = 0.8


def client_for(mode: str, url: str, **kwargs: Any) -> Client | AsyncClient:
    cls = AsyncClient if mode == "async" else Client
    return cls("P1", "key-for-timeouts", url, max_retries=0, **kwargs)


async def failure_after(mode: str, url: str, **kwargs: float) -> tuple[TransportError, float]:
    """The TransportError a call raises, and the seconds it took to raise it."""
    client = client_for(mode, url, **kwargs)
    started = time.monotonic()
    try:
        with pytest.raises(TransportError) as caught:
            await Twin(mode, client).call("load_all_applications")
    finally:
        await close(client)
    return caught.value, time.monotonic() - started


@contextlib.contextmanager
def dripping_server(seconds: float) -> Iterator[str]:
    """Answers 200 with a valid JSON body, sent one byte at a time over ``seconds``."""
    body = json.dumps({"apps": []}).encode().ljust(30)
    stop = threading.Event()
    listener = socket.create_server(("127.0.0.1", 0))

    def drip(conn: socket.socket) -> None:
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                data += chunk
            head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            conn.sendall(head + b"Content-Length: %d\r\n\r\n" % len(body))
            for byte in body:
                if stop.wait(seconds / len(body)):
                    return
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    return  # the client gave up

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=drip, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        listener.close()
        thread.join(timeout=5)


@contextlib.contextmanager
def full_accept_queue() -> Iterator[str]:
    """A listening socket that never accepts, its queue already full: connecting hangs (the
    kernel drops the handshake's SYN; all on loopback)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        with socket.create_connection(listener.getsockname(), timeout=2):  # fills the queue
            yield f"http://127.0.0.1:{listener.getsockname()[1]}"


@pytest.mark.parametrize("mode", MODES)
async def test_a_server_that_never_answers_fails_at_the_deadline(
    mode: str, scripted: Scripted
) -> None:
    scripted.stall = 3.0
    error, took = await failure_after(mode, scripted.url, timeout=0.4)
    assert 0.4 <= took < 0.4 + SLACK
    assert "did not answer in time" in str(error)


@pytest.mark.parametrize("mode", MODES)
async def test_an_answer_dripping_in_cannot_stretch_the_deadline(mode: str) -> None:
    # each byte comes 0.1 s after the last, well inside the timeout; the whole takes 3 s
    with dripping_server(3.0) as url:
        error, took = await failure_after(mode, url, timeout=0.6)
    assert 0.6 <= took < 0.6 + SLACK
    assert "did not answer in time" in str(error)


@pytest.mark.parametrize("mode", MODES)
async def test_an_answer_dripping_in_within_the_deadline_is_read(mode: str) -> None:
    with dripping_server(0.3) as url:
        client = client_for(mode, url, timeout=5)
        try:
            assert await Twin(mode, client).call("load_all_applications") == {"apps": []}
        finally:
            await close(client)


@pytest.mark.parametrize("mode", MODES)
async def test_connecting_is_bounded_by_the_connect_timeout(mode: str) -> None:
    with full_accept_queue() as url:
        error, took = await failure_after(mode, url, timeout=10, connect_timeout=0.3)
    assert 0.3 <= took < 0.3 + SLACK
    assert "did not accept a connection in time" in str(error)
    assert "key-for-timeouts" not in str(error)


@pytest.mark.parametrize("mode", MODES)
async def test_connecting_is_bounded_by_the_deadline_too(mode: str) -> None:
    with full_accept_queue() as url:
        error, took = await failure_after(mode, url, timeout=0.3, connect_timeout=10)
    assert 0.3 <= took < 0.3 + SLACK
    assert "did not accept a connection in time" in str(error)


@pytest.mark.parametrize("mode", MODES)
def test_the_settings(mode: str) -> None:
    cls = AsyncClient if mode == "async" else Client
    defaults = cls("P1", "k", "http://127.0.0.1:9")
    assert (defaults.timeout, defaults.connect_timeout) == (10.0, 5.0)
    given = cls("P1", "k", "http://127.0.0.1:9", timeout=3, connect_timeout=0.5)
    assert (given.timeout, given.connect_timeout) == (3.0, 0.5)
    bads: list[dict[str, Any]] = [{"timeout": 0}, {"connect_timeout": -1}]
    for bad in bads:
        with pytest.raises(ConfigurationError, match=next(iter(bad))):
            cls("P1", "k", "http://127.0.0.1:9", **bad)
