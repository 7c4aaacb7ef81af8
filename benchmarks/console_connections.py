"""How fast the console's connections page answers for an app with a million tokens.

    python benchmarks/console_connections.py [--count 1000000]

Makes a project with the CLI, fills one app with ``count`` tokens by one bulk SQL insert on
SQLite (no secrets: the page never reads them; 1 in 5,000 reconnect_required, 1 in 5,000
refresh_failing), starts ``outbound serve`` on it, signs in to the console and times
``GET /console/connections`` — the first page, a page deep in through the cursor, by status,
and a user search — end to end on loopback (the HTTP round trip adds about a millisecond).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx

APP = "big-app"


def _cli(data_dir: Path, env: dict[str, str], *args: str) -> str:
    return subprocess.run(
        [sys.executable, "-m", "outbound", *args, "--data-dir", str(data_dir)],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    ).stdout


def _seed(db_path: Path, project_id: str, count: int) -> None:
    now = int(time.time())
    conn = sqlite3.connect(db_path)
    conn.execute(
        "INSERT INTO apps (project_id, id, name, config, created_at, updated_at)"
        " VALUES (?, ?, 'Big app', '{}', ?, ?)",
        (project_id, APP, now, now),
    )
    # One statement: a recursive counter feeds the rows (about 10 s for a million).
    conn.execute(
        "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < :count)"
        " INSERT INTO tokens (id, project_id, app_id, user_id, tenant_id, external_identifier,"
        " scopes, access_token_type, access_token_expiry, last_refresh_time, needs_reconnect,"
        " failing_since, failure_count, created_at, updated_at)"
        " SELECT printf('tok_%09d', i), :project, :app, printf('user-%07d', i), '', '',"
        " '[\"read\"]', 'Bearer', :now + 3600, :now, i % 5000 = 1,"
        " CASE WHEN i % 5000 = 2 THEN :now ELSE 0 END, i % 5000 = 2,"
        " :now - 31536000 + i * (31536000 / :count), :now FROM n",
        {"count": count, "project": project_id, "app": APP, "now": now},
    )
    conn.commit()
    # No ANALYZE: the server never runs it, so the planner works without statistics, as
    # it does in a real store.
    conn.close()


def _time(client: httpx.Client, label: str, params: dict[str, str], runs: int = 30) -> float:
    timings = []
    rows = 0
    for _ in range(runs):
        started = time.perf_counter()
        answer = client.get("/console/connections?" + urlencode({"app": APP, **params}))
        timings.append((time.perf_counter() - started) * 1000)
        assert answer.status_code == 200, answer.text[:300]
        rows = answer.text.count("<tr data-user=")
    median = statistics.median(timings)
    p95 = sorted(timings)[int(len(timings) * 0.95) - 1]
    print(f"{label:<34} {rows:>3} rows  median {median:7.1f} ms  p95 {p95:7.1f} ms")
    return p95


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        env = {**os.environ, "OUTBOUND_MASTER_KEY": secrets.token_urlsafe(32)[:43]}
        creds = json.loads(_cli(data_dir, env, "projects", "create"))
        project_id, key = creds["projectId"], creds["managementKey"]
        started = time.monotonic()
        _seed(data_dir / "outbound.db", project_id, args.count)
        print(f"seeded {args.count:,} tokens in {time.monotonic() - started:.0f} s")
        port = args.port or 18000 + secrets.randbelow(2000)
        server = subprocess.Popen(
            [
                *(sys.executable, "-m", "outbound", "serve", "--data-dir", str(data_dir)),
                *("--port", str(port), "--log-level", "warning"),
            ],
            env=env,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(200):
                try:
                    if httpx.get(base + "/health").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            with httpx.Client(base_url=base, timeout=60) as client:
                page = client.get("/console/sign-in").text
                csrf = re.search(r'name="csrf" value="([^"]+)"', page)
                assert csrf is not None
                signed_in = client.post(
                    "/console/sign-in",
                    data={"csrf": csrf.group(1), "projectId": project_id, "managementKey": key},
                )
                assert signed_in.status_code == 303
                first = client.get("/console/connections?" + urlencode({"app": APP})).text
                cursor = re.search(r'cursor=([^"&]+)', first)
                worst = [
                    _time(client, "first page (50)", {}),
                    _time(client, "next page via cursor (50)", {"cursor": cursor.group(1)})
                    if cursor
                    else 0.0,
                    _time(client, "status=reconnect_required", {"status": "reconnect_required"}),
                    _time(client, "status=refresh_failing", {"status": "refresh_failing"}),
                    _time(client, "status=active (50)", {"status": "active"}),
                    _time(client, "search by user", {"user": f"user-{args.count // 2:07d}"}),
                ]
                print(f"worst p95 of the connections page: {max(worst):.1f} ms")
                timings = []
                for _ in range(10):
                    started = time.perf_counter()
                    assert client.get("/console/").status_code == 200
                    timings.append((time.perf_counter() - started) * 1000)
                print(f"overview (counts by status)  median {statistics.median(timings):7.1f} ms")
                # While overviews count, other requests must not wait for them (on SQLite
                # the counts run in a worker thread, off the event loop).
                stop = threading.Event()

                def overviews() -> None:
                    with httpx.Client(base_url=base, cookies=client.cookies, timeout=60) as c:
                        while not stop.is_set():
                            c.get("/console/")

                def pings() -> list[float]:
                    health = []
                    with httpx.Client(base_url=base) as pinger:
                        for _ in range(100):
                            started = time.perf_counter()
                            pinger.get("/health")
                            health.append((time.perf_counter() - started) * 1000)
                            time.sleep(0.01)
                    return health

                for label, busy in (("/health alone", False), ("/health during overviews", True)):
                    worker = threading.Thread(target=overviews)
                    if busy:
                        worker.start()
                    try:
                        health = pings()
                    finally:
                        stop.set()
                        if busy:
                            worker.join()
                        stop.clear()
                    print(
                        f"{label:<30} median {statistics.median(health):7.1f} ms"
                        f"  p95 {sorted(health)[94]:7.1f} ms"
                    )
        finally:
            server.terminate()
            server.wait()


if __name__ == "__main__":
    main()
