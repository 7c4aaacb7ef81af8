"""Discovery cannot fill the server's memory: documents over 64 KiB are refused unread, and
the cache of good ones is bounded in entries and bytes.

A key holder points apps at 1,000 discovery URLs that each answer 1 MiB, then at 300 that
each answer a valid 60 KiB document; the server's resident memory (RSS, read from /proc)
ends within 20 MB of where it started.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from tests.support.server import LiveServer, Store, running_server

pytestmark = pytest.mark.slow

# Override (smaller) only to check the test against an old server without risking the machine.
BIG_URLS = int(os.environ.get("OUTBOUND_TEST_DISCOVERY_URLS", "1000"))
FIT_URLS = BIG_URLS * 3 // 10
BIG = 1024 * 1024
FIT = 60 * 1024
APPS = 8
BUDGET = 20 * 1024 * 1024


class Documents(ThreadingHTTPServer):
    """``/big/N/.well-known/openid-configuration`` answers a 1 MiB document (no length
    announced: read until closed); ``/fit/N/…`` a valid 60 KiB one; ``/token`` refuses."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.base = f"http://127.0.0.1:{self.server_address[1]}"
        self.served = 0


class _Handler(BaseHTTPRequestHandler):
    server: Documents

    def document(self, issuer: str, size: int) -> bytes:
        head = {"issuer": issuer, "token_endpoint": self.server.base + "/token"}
        head["authorization_endpoint"] = self.server.base + "/auth"
        text = json.dumps({**head, "padding": ""})
        return text.replace(
            '"padding": ""', '"padding": "' + "x" * (size - len(text)) + '"'
        ).encode()

    def do_GET(self) -> None:
        kind, _, rest = self.path.lstrip("/").partition("/")
        number = rest.split("/", 1)[0]
        size = BIG if kind == "big" else FIT
        body = self.document(f"{self.server.base}/{kind}/{number}", size)
        self.server.served += 1
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()  # HTTP/1.0, no Content-Length: the body ends when we close
        try:
            for start in range(0, len(body), 64 * 1024):
                self.wfile.write(body[start : start + 64 * 1024])
        except OSError:
            pass  # the server stopped reading: that is the point

    def do_POST(self) -> None:
        self.send_response(400)
        self.send_header("Content-Type", "application/json")
        body = b'{"error": "invalid_grant"}'
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def documents() -> Iterator[Documents]:
    server = Documents()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def server(store: Store) -> Iterator[LiveServer]:
    with running_server(store) as server:
        yield server


def rss(server: LiveServer) -> int:
    with open(f"/proc/{server.process.pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def discover(server: LiveServer, urls: list[str]) -> list[str]:
    """Point the apps at each URL in turn and make the server read it; the error codes."""
    suffix = secrets.token_hex(3)
    app_ids = [f"mem-{suffix}-{n}" for n in range(APPS)]

    def app(app_id: str, url: str) -> dict[str, Any]:
        return {"id": app_id, "name": app_id, "clientId": "c", "discoveryUrl": url}

    with server.client() as http:
        for app_id in app_ids:
            response = http.post("/v1/mgmt/outbound/app/create", json=app(app_id, urls[0]))
            assert response.status_code == 200, response.text

    def run(slot: int) -> list[str]:
        codes = []
        with server.client() as http:
            for url in urls[slot::APPS]:
                app_id = app_ids[slot]
                updated = http.post("/v1/mgmt/outbound/app/update", json={"app": app(app_id, url)})
                assert updated.status_code == 200, updated.text
                answer = http.post(
                    "/v1/mgmt/outbound/app/user/oauthtoken/upload",
                    json={
                        "appId": app_id,
                        "userId": "u",
                        "refreshToken": "r",
                        "verifyRefresh": True,
                    },
                )
                codes.append(answer.json().get("errorCode", ""))
        return codes

    with ThreadPoolExecutor(APPS) as pool:
        return [code for codes in pool.map(run, range(APPS)) for code in codes]


def test_a_thousand_one_mib_discovery_documents_leave_memory_where_it_was(
    server: LiveServer, documents: Documents
) -> None:
    base = documents.base
    # warm up: every code path has run once before the baseline is taken
    discover(server, [f"{base}/big/w{n}/.well-known/openid-configuration" for n in range(40)])
    discover(server, [f"{base}/fit/w{n}/.well-known/openid-configuration" for n in range(40)])
    before = rss(server)
    served = documents.served

    big = discover(
        server, [f"{base}/big/{n}/.well-known/openid-configuration" for n in range(BIG_URLS)]
    )
    fit = discover(
        server, [f"{base}/fit/{n}/.well-known/openid-configuration" for n in range(FIT_URLS)]
    )

    grown = rss(server) - before
    print(f"server RSS {before / 2**20:.1f} MiB before, grew by {grown / 2**20:.1f} MiB")
    assert grown < BUDGET, f"server RSS grew by {grown / 2**20:.1f} MiB"
    assert documents.served - served == BIG_URLS + FIT_URLS  # every document was asked for
    assert set(big) == {"E131014"}  # too large: the app's configuration cannot work
    assert set(fit) == {"E131015"}  # a good document; its token endpoint refused the grant
    with httpx.Client(base_url=server.base_url, headers=server.auth_header) as http:
        http.post(
            "/v1/mgmt/outbound/app/create",
            json={
                "id": "mem-probe",
                "name": "mem-probe",
                "clientId": "c",
                "discoveryUrl": f"{base}/big/probe/.well-known/openid-configuration",
            },
        )
        answer = http.post(
            "/v1/mgmt/outbound/app/user/oauthtoken/upload",
            json={"appId": "mem-probe", "userId": "u", "refreshToken": "r", "verifyRefresh": True},
        )
    assert "64 KiB" in answer.json()["errorMessage"]
