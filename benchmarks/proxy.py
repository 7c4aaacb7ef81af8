"""The proxy's cost, in one run: the same call made directly to a local upstream with the
token, and through ``/v1/outbound/proxy`` (an API-key app whose apiBaseUrl is the upstream).

    PYTHONPATH=. .venv/bin/python benchmarks/proxy.py

Reports the p50 of sequential calls (one connection) and the throughput at 32 connections,
for both, and the differences. Upstream: tests/support/upstream_api.py's ``/fast`` on uvicorn.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
from tests.server.proxy.conftest import new_proxy_app
from tests.support.server import Store, running_server
from tests.support.upstream_api import running_upstream

SEQUENTIAL = 2000
SECONDS = 5.0
CONNECTIONS = 32


async def _sequential(client: httpx.AsyncClient, url: str, headers: dict[str, str]) -> float:
    times = []
    for _ in range(SEQUENTIAL):
        started = time.perf_counter()
        answer = await client.get(url, headers=headers)
        times.append(time.perf_counter() - started)
        assert answer.status_code == 200
    return statistics.median(times[SEQUENTIAL // 10 :])


def _wrk(url: str, headers: dict[str, str]) -> float | None:
    """Requests per second at CONNECTIONS connections, measured by wrk when it is installed
    (httpx's own pool, as a load generator, is slower than the server it measures)."""
    if shutil.which("wrk") is None:
        return None
    args = ["wrk", "-t", "2", "-c", str(CONNECTIONS), "-d", f"{SECONDS:.0f}s", "--latency"]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    found = re.search(r"Requests/sec:\s+([0-9.]+)", out)
    return float(found.group(1)) if found else None


async def _throughput(url: str, headers: dict[str, str]) -> float:
    measured = _wrk(url, headers)
    if measured is not None:
        return measured
    limits = httpx.Limits(max_connections=CONNECTIONS)
    async with httpx.AsyncClient(limits=limits, headers=headers, timeout=30) as client:
        done = 0
        stop = time.monotonic() + SECONDS

        async def worker() -> None:
            nonlocal done
            while time.monotonic() < stop:
                assert (await client.get(url)).status_code == 200
                done += 1

        started = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(CONNECTIONS)))
        return done / (time.monotonic() - started)


async def measure(direct: str, proxied: str, key: str, auth: dict[str, str], user: str) -> None:
    direct_headers = {"Authorization": f"Bearer {key}"}
    proxy_headers = {**auth, "Outbound-User-Id": user}
    async with httpx.AsyncClient(timeout=30) as client:
        p50_direct = await _sequential(client, direct, direct_headers)
        p50_proxy = await _sequential(client, proxied, proxy_headers)
    rps_direct = await _throughput(direct, direct_headers)
    rps_proxy = await _throughput(proxied, proxy_headers)
    print(f"p50 sequential: direct {p50_direct * 1000:.3f} ms, proxied {p50_proxy * 1000:.3f} ms,"
          f" added {(p50_proxy - p50_direct) * 1000:.3f} ms")  # fmt: skip
    print(f"throughput at {CONNECTIONS} connections: direct {rps_direct:.0f}/s, proxied"
          f" {rps_proxy:.0f}/s, ratio {rps_proxy / rps_direct:.2f}")  # fmt: skip


def main() -> None:
    args = ["--log-level", "warning"]
    with (
        tempfile.TemporaryDirectory() as data,
        running_upstream() as upstream,
        running_server(Store(Path(data)), extra_args=args) as server,
    ):
        app = new_proxy_app(server, upstream.base_url)
        asyncio.run(
            measure(
                upstream.base_url + "/fast",
                f"{server.base_url}/v1/outbound/proxy/{app.app_id}/fast",
                app.api_key,
                server.auth_header,
                app.user_id,
            )
        )


if __name__ == "__main__":
    main()
