"""The SQLite store's claims about its files and its lock, checked while a server runs: the
WAL and shared-memory files are private (0600) while they exist, and a writer waits for a lock
held by another process instead of failing (``PRAGMA busy_timeout``, 30 s), then answers the
retryable E130503 — never a 500 — when the lock outlasts the wait."""

from __future__ import annotations

import sqlite3
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.server import LiveServer, Store, running_server


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    with running_server(Store(tmp_path / "data")) as live:
        yield live


def db_path(server: LiveServer) -> Path:
    return server.store.data_dir / "outbound.db"


def test_wal_and_shm_files_are_private_while_the_server_runs(server: LiveServer) -> None:
    with server.client() as http:
        assert http.post("/v1/mgmt/outbound/app/create", json={"name": "modes"}).is_success
        # Checked now, with the server's connections open: SQLite removes both files when the
        # last connection closes, so a check after the stop proves nothing.
        for suffix in ("-wal", "-shm"):
            path = Path(f"{db_path(server)}{suffix}")
            assert path.exists(), path.name
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
        assert http.get("/health").status_code == 200  # still running


def hold_write_lock(path: Path, seconds: float, held: threading.Event) -> None:
    conn = sqlite3.connect(path, isolation_level=None, timeout=60)
    try:
        conn.execute("BEGIN IMMEDIATE")  # the one write lock: every other writer must wait
        held.set()
        time.sleep(seconds)
        conn.execute("COMMIT")
    finally:
        conn.close()


def write_while_locked(
    server: LiveServer, seconds: float, name: str
) -> tuple[float, httpx.Response]:
    held = threading.Event()
    locker = threading.Thread(target=hold_write_lock, args=(db_path(server), seconds, held))
    locker.start()
    try:
        assert held.wait(10)
        started = time.monotonic()
        with server.client() as http:
            http.timeout = httpx.Timeout(seconds + 30)
            response = http.post("/v1/mgmt/outbound/app/create", json={"name": name})
        return time.monotonic() - started, response
    finally:
        locker.join(seconds + 30)


def test_a_writer_waits_for_a_lock_another_process_holds(server: LiveServer) -> None:
    with server.client() as http:  # the key check and its caches warm before the lock
        assert http.get("/v1/mgmt/outbound/apps").status_code == 200
    waited, response = write_while_locked(server, 3.0, "waited")
    assert response.status_code == 200, response.text
    assert waited >= 2.5  # it waited for the lock (busy_timeout=0 answers at once)
    with server.client() as http:
        names = [app["name"] for app in http.get("/v1/mgmt/outbound/apps").json()["apps"]]
    assert "waited" in names


@pytest.mark.slow
def test_a_lock_held_past_the_busy_timeout_is_a_retryable_503(server: LiveServer) -> None:
    with server.client() as http:
        assert http.get("/v1/mgmt/outbound/apps").status_code == 200
    waited, response = write_while_locked(server, 34.0, "too-late")
    assert response.status_code == 503, response.text
    assert response.json()["errorCode"] == "E130503"
    assert int(response.headers["retry-after"]) >= 1
    assert 29 <= waited < 34  # the 30 s wait, then the answer, before the lock was let go
    with server.client() as http:  # nothing half-written; the store serves again at once
        names = [app["name"] for app in http.get("/v1/mgmt/outbound/apps").json()["apps"]]
        assert "too-late" not in names
        assert http.post("/v1/mgmt/outbound/app/create", json={"name": "after"}).is_success
