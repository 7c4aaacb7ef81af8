"""A compressed answer cannot inflate past the answer caps: provider calls ask for
``Accept-Encoding: identity`` and refuse to read an answer in any other encoding.

A provider whose token endpoint and discovery document answer a gzip bomb (256 MiB of zeros
in ~256 KiB, sent whatever the request accepts) is refreshed against by many connections at
once; the server's peak resident memory (VmHWM, reset first) grows by less than 40 MB, and
every request it sent asked for identity.
"""

from __future__ import annotations

import contextlib
import threading
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from tests.support.server import LiveServer, Store, running_server

pytestmark = pytest.mark.slow

BUDGET = 40 * 1024 * 1024
CONCURRENT = 8


def gzip_bomb(size: int) -> bytes:
    """``size`` zero bytes, gzip-compressed, built a MiB at a time."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: the gzip container
    zeros = bytes(1 << 20)
    parts = [packer.compress(zeros) for _ in range(size >> 20)]
    return b"".join([*parts, packer.flush()])


BOMB = gzip_bomb(256 << 20)


class Bomb(ThreadingHTTPServer):
    """Every answer is the bomb, ``Content-Encoding: gzip`` with no length announced,
    whatever was asked for; it notes each request's Accept-Encoding."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.base = f"http://127.0.0.1:{self.server_address[1]}"
        self.accepted: list[str] = []


class _Handler(BaseHTTPRequestHandler):
    server: Bomb
    protocol_version = "HTTP/1.1"

    def answer(self) -> None:
        self.server.accepted.append(self.headers.get("Accept-Encoding", ""))
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Encoding", "gzip")
        # No length announced (the body ends when the connection closes): a declared length
        # over a cap would be refused unread, and a hostile provider knows that.
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        with contextlib.suppress(OSError):  # the server stopped reading: that is the point
            self.wfile.write(BOMB)

    def handle(self) -> None:
        with contextlib.suppress(OSError):  # a connection the server dropped mid-answer
            super().handle()

    do_GET = answer
    do_POST = answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def bomb() -> Iterator[Bomb]:
    server = Bomb()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def server(store: Store) -> Iterator[LiveServer]:
    with running_server(store) as server:
        yield server


def memory(server: LiveServer) -> tuple[int, int]:
    """(VmRSS, VmHWM) of the server process, in bytes."""
    found = {}
    with open(f"/proc/{server.process.pid}/status") as status:
        for line in status:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                found[name] = int(value.split()[0]) * 1024
    return found["VmRSS"], found["VmHWM"]


def reset_peak(server: LiveServer) -> None:
    # Writing 5 to clear_refs resets VmHWM to the current RSS (Linux 4.0+).
    with open(f"/proc/{server.process.pid}/clear_refs", "w") as clear:
        clear.write("5")


def refresh_all(server: LiveServer, app: dict[str, Any], users: int) -> list[str]:
    """Create the app, then upload a token for each user with verifyRefresh, all at once:
    each makes the server refresh at the app's provider. The error codes."""
    with server.client() as http:
        created = http.post("/v1/mgmt/outbound/app/create", json=app)
        assert created.status_code == 200, created.text

    def one(user: int) -> str:
        with server.client() as http:
            answer = http.post(
                "/v1/mgmt/outbound/app/user/oauthtoken/upload",
                json={
                    "appId": app["id"],
                    "userId": f"u{user}",
                    "refreshToken": "r",
                    "verifyRefresh": True,
                },
            )
            return str(answer.json().get("errorCode", ""))

    with ThreadPoolExecutor(users) as pool:
        return list(pool.map(one, range(users)))


@pytest.mark.parametrize("where", ["token", "discovery"])
def test_a_gzip_bomb_does_not_inflate_in_the_server(
    server: LiveServer, bomb: Bomb, where: str
) -> None:
    def app(suffix: str) -> dict[str, Any]:
        app_id = f"bomb-{where}-{suffix}"
        fields: dict[str, Any] = {"id": app_id, "name": app_id, "clientId": "c"}
        if where == "token":
            fields |= {"authorizationUrl": bomb.base + "/auth", "tokenUrl": bomb.base + "/token"}
        else:
            fields["discoveryUrl"] = f"{bomb.base}/{suffix}/.well-known/openid-configuration"
        return fields

    refresh_all(server, app("warm"), 2)  # every code path has run once before the baseline
    bomb.accepted.clear()
    before, _ = memory(server)
    reset_peak(server)
    codes: list[str] = []
    for round_ in range(3):
        codes += refresh_all(server, app(f"r{round_}"), CONCURRENT)
    _, peak = memory(server)
    grown = peak - before
    print(f"{where}: peak RSS grew by {grown / 2**20:.1f} MiB over {len(codes)} refreshes")
    assert len(bomb.accepted) >= len(codes)  # every refresh reached the bomb
    assert set(bomb.accepted) == {"identity"}
    assert "" not in codes  # none was stored
    assert grown < BUDGET, f"peak RSS grew by {grown / 2**20:.1f} MiB"
