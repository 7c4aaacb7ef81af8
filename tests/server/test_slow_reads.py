"""One project's heavy audit queries must not slow another project's fetches (SQLite: reads
that may walk many rows run off the event loop, and the audit filters are served by indexes).

Project B holds a million audit events, seeded straight into the store in bulk (writing them
through the API would take the test's whole budget); project A fetches a token while B runs
its worst audit queries — filters that match nothing, and a combination no index serves —
from two clients at once. A's median fetch time stays under twice what it is alone (or
10 ms, whichever is more).
"""

from __future__ import annotations

import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.server import LiveServer, Store, running_server

pytestmark = pytest.mark.slow

EVENTS = 1_000_000
FETCHES = 300
M = "/v1/mgmt/outbound"
# B's worst: nothing matches (the scan a missing index makes: every event of the project),
# and a user filter that matches every event with an action that matches none.
WORST = [
    {"userId": "nobody", "limit": "1000"},
    {"appId": "no-app", "limit": "1000"},
    {"action": "connect.failed", "limit": "1000"},
    {"userId": "b-user", "action": "connect.failed", "limit": "1000"},
    {"appId": "b-app", "userId": "b-user", "action": "key.revoke", "limit": "1000"},
]


# One of B's loops: the worst queries round after round until terminated; prints "started"
# after its first round, and on SIGTERM the number of rounds.
WORST_LOOP = f"""
import signal, sys, httpx
rounds = 0
def done(*_):
    print(rounds, flush=True)
    sys.exit(0)
signal.signal(signal.SIGTERM, done)
worst = {WORST!r}
with httpx.Client(base_url=sys.argv[1], headers={{"Authorization": "Bearer " + sys.argv[2]}},
                  timeout=120) as b:
    while True:
        for params in worst:
            answer = b.get("{M}/audit", params=params)
            assert answer.status_code == 200 and answer.json()["events"] == [], answer.text
        rounds += 1
        if rounds == 1:
            print("started", flush=True)
"""


def seed(data_dir: Path, project_id: str, count: int) -> None:
    """``count`` audit events of one user and app for ``project_id``, in one transaction."""
    now_ms = int(time.time() * 1000)
    conn = sqlite3.connect(data_dir / "outbound.db", timeout=60)
    try:
        with conn:
            (last,) = conn.execute(
                "SELECT COALESCE(MAX(seq), 0) FROM audit_events WHERE project_id = ?",
                (project_id,),
            ).fetchone()
            conn.executemany(
                "INSERT INTO audit_events (project_id, seq, time_ms, actor, action, app_id,"
                " user_id, tenant_id, token_id, outcome, error_code, client, request_id,"
                " detail, key_id, mac) VALUES (?, ?, ?, 'system', 'token.fetch', 'b-app',"
                " 'b-user', '', '', 'ok', '', '', '', '', 'seed', x'00')",
                ((project_id, last + n, now_ms - count + n) for n in range(1, count + 1)),
            )
    finally:
        conn.close()


@pytest.fixture
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    # SQLite only: PostgreSQL reads never ran on the event loop (the database server does
    # the work, over the pool's connections).
    store = Store(tmp_path_factory.mktemp("slow-reads"))
    with running_server(store) as server:
        yield server


def fetch_times(client: httpx.Client, n: int) -> list[float]:
    body = {"appId": "a-app", "userId": "a-user"}
    times = []
    for _ in range(n):
        started = time.perf_counter()
        answer = client.post(f"{M}/app/user/token/latest", json=body)
        times.append(time.perf_counter() - started)
        assert answer.status_code == 200, answer.text
    return times


def test_heavy_audit_queries_of_one_project_leave_anothers_fetches_fast(
    server: LiveServer,
) -> None:
    b_project, b_key = server.new_project()
    seed(server.store.data_dir, b_project, EVENTS)
    with server.client() as a:
        created = a.post(f"{M}/app/create", json={"id": "a-app", "name": "a-app"})
        assert created.status_code == 200, created.text
        uploaded = a.post(
            f"{M}/app/user/apikey/upload",
            json={"appId": "a-app", "userId": "a-user", "apiKey": "a-key"},
        )
        assert uploaded.status_code == 200, uploaded.text
        fetch_times(a, 50)  # warm up
        alone = statistics.median(fetch_times(a, FETCHES))

        # B's two loops run in processes of their own: threads of this process would take
        # the GIL from A's client, and slow A down whatever the server does.
        loops = [
            subprocess.Popen(
                [sys.executable, "-c", WORST_LOOP, server.base_url, f"{b_project}:{b_key}"],
                stdout=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        try:
            for loop in loops:  # each prints a line once its first round is answered
                assert loop.stdout is not None
                assert loop.stdout.readline().strip() == "started"
            loaded = statistics.median(fetch_times(a, FETCHES))
        finally:
            for loop in loops:
                loop.terminate()
            answered = [loop.communicate(timeout=60)[0].split() for loop in loops]
    rounds = sum(int(lines[-1]) for lines in answered if lines and lines[-1].isdigit())
    print(
        f"fetch p50 alone {alone * 1000:.2f} ms, while B queries {loaded * 1000:.2f} ms;"
        f" B ran {rounds} rounds of its {len(WORST)} queries meanwhile"
    )
    assert rounds >= 2
    # A floor of 5 ms (the p50 the review measured alone): B's own requests share the loop
    # and the machine's two cores with A's, and on a quiet machine a fetch alone takes under
    # a millisecond — what this holds is that no read of B's stalls the loop (before: 872 ms).
    assert loaded < 2 * max(alone, 0.005), (alone, loaded)
