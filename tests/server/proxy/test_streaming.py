"""Both bodies stream through the proxy: a 1 GB answer leaves the server's resident memory
within 20 MB of where it was, and a 100 MB upload arrives whole."""

from __future__ import annotations

import hashlib
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.server.proxy.conftest import new_proxy_app
from tests.support.server import LiveServer, Store, running_server
from tests.support.upstream_api import Upstream

pytestmark = pytest.mark.slow

GIB = 1024**3
MIB = 1024**2


def _rss(server: LiveServer) -> int:
    with open(f"/proc/{server.process.pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def test_a_gigabyte_streams_through_within_20_mb_and_100_mb_go_up(
    tmp_path: Path, upstream: Upstream
) -> None:
    with running_server(Store(tmp_path)) as server:
        app = new_proxy_app(server, upstream.base_url)
        assert app.call("GET", "bytes?n=1048576").status_code == 200  # warm: pools, imports
        before = _rss(server)
        peak = before
        done = threading.Event()

        def watch() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, _rss(server))
                time.sleep(0.05)

        watcher = threading.Thread(target=watch)
        watcher.start()
        received = 0
        started = time.monotonic()
        try:
            with (
                httpx.Client(
                    base_url=server.base_url, headers=server.auth_header, timeout=120
                ) as http,
                http.stream(
                    "GET",
                    f"/v1/outbound/proxy/{app.app_id}/bytes?n={GIB}",
                    headers={"Outbound-User-Id": app.user_id},
                ) as answer,
            ):
                assert answer.status_code == 200
                assert answer.headers["content-length"] == str(GIB)
                for chunk in answer.iter_raw(1024 * 1024):
                    received += len(chunk)
        finally:
            done.set()
            watcher.join()
        seconds = time.monotonic() - started
        assert received == GIB
        growth = peak - before
        print(
            f"1 GiB in {seconds:.1f} s; server RSS {before / MIB:.1f} -> peak {peak / MIB:.1f} MiB"
        )
        assert growth < 20 * MIB, f"RSS grew {growth / MIB:.1f} MiB"

        payload = b"0123456789abcdef" * (100 * MIB // 16)

        def body() -> object:
            for offset in range(0, len(payload), MIB):
                yield payload[offset : offset + MIB]

        with httpx.Client(base_url=server.base_url, headers=server.auth_header,
                          timeout=120) as http:  # fmt: skip
            uploaded = http.post(
                f"/v1/outbound/proxy/{app.app_id}/upload",
                headers={"Outbound-User-Id": app.user_id, "Content-Length": str(len(payload))},
                content=body(),  # type: ignore[arg-type]
            )
        assert uploaded.status_code == 200, uploaded.text
        assert uploaded.json() == {
            "size": len(payload),
            "sha256": hashlib.sha256(payload).hexdigest(),
        }
        assert _rss(server) - before < 20 * MIB
