"""Database faults under load: PostgreSQL connections killed (``pg_terminate_backend``), a
PostgreSQL restart, several SQLite writers. Callers get 200 or the documented, retryable
E130503 — never a 500 — and service resumes without restarting outbound."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.support import private_postgres
from tests.support.server import (
    LiveServer,
    Store,
    postgres_database,
    running_server,
    start_server,
    stop_server,
)

USERS = 20
WORKERS = 4


@dataclass
class Load:
    """Fetches (and a few uploads) from several threads, every answer recorded with its time."""

    server: LiveServer
    answers: list[tuple[float, int, str]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def worker(self, n: int) -> None:
        with self.server.client() as http:
            i = 0
            while not self.stop.is_set():
                i += 1
                user = f"user-{(n * 7 + i) % USERS}"
                if i % 10 == 0:
                    body = {"appId": "app", "userId": user, "accessToken": f"tok-{user}"}
                    path = "/v1/mgmt/outbound/app/user/oauthtoken/upload"
                else:
                    body = {"appId": "app", "userId": user}
                    path = "/v1/mgmt/outbound/app/user/token/latest"
                try:
                    response = http.post(path, json=body)
                except httpx.TransportError as exc:
                    self.answers.append((time.monotonic(), 0, type(exc).__name__))
                    continue
                code = "" if response.status_code == 200 else response.json().get("errorCode")
                if response.status_code == 503:
                    assert int(response.headers["retry-after"]) >= 1
                self.answers.append((time.monotonic(), response.status_code, code))

    def run(self, seconds: float, fault: Callable[[], None]) -> None:
        threads = [threading.Thread(target=self.worker, args=(n,)) for n in range(WORKERS)]
        for thread in threads:
            thread.start()
        try:
            fault()
        finally:
            self.stop.set()
            for thread in threads:
                thread.join(30)

    def failures(self) -> list[tuple[float, int, str]]:
        return [answer for answer in self.answers if answer[1] != 200]


def _prepare(server: LiveServer) -> None:
    with server.client() as http:
        created = http.post(
            "/v1/mgmt/outbound/app/create",
            json={"id": "app", "name": "App", "tokenUrl": "https://p.example/t"},
        )
        assert created.status_code == 200, created.text
        for n in range(USERS):
            uploaded = http.post(
                "/v1/mgmt/outbound/app/user/oauthtoken/upload",
                json={"appId": "app", "userId": f"user-{n}", "accessToken": f"tok-user-{n}"},
            )
            assert uploaded.status_code == 200, uploaded.text


def _full_service(server: LiveServer) -> None:
    """Every token served, every write taken, by the same process that lived through it."""
    assert server.process.poll() is None
    with server.client() as http:
        for n in range(USERS):
            fetched = http.post(
                "/v1/mgmt/outbound/app/user/token/latest",
                json={"appId": "app", "userId": f"user-{n}"},
            )
            assert fetched.status_code == 200, fetched.text
            assert fetched.json()["token"]["accessToken"] == f"tok-user-{n}"
        uploaded = http.post(
            "/v1/mgmt/outbound/app/user/oauthtoken/upload",
            json={"appId": "app", "userId": "after", "accessToken": "tok-after"},
        )
        assert uploaded.status_code == 200, uploaded.text


def _only_retryable(load: Load) -> None:
    kinds = {(status, code) for _, status, code in load.failures()}
    assert kinds <= {(503, "E130503")}, kinds
    assert "Traceback" not in load.server.log()


@pytest.mark.postgres
def test_killed_postgres_connections(tmp_path: Path) -> None:
    with postgres_database() as url:
        store = Store(tmp_path, url)
        database = url.rsplit("/", 1)[1]
        with running_server(store) as server:
            _prepare(server)
            load = Load(server)
            kills: list[tuple[float, float]] = []  # when each kill was sent, and returned

            def kill_repeatedly() -> None:
                # Only this test's database: other tests share the cluster.
                with psycopg.connect(url, autocommit=True) as admin:
                    deadline = time.monotonic() + 30
                    while time.monotonic() < deadline:
                        time.sleep(2)
                        sent = time.monotonic()
                        killed = admin.execute(
                            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                            " WHERE datname = %s AND pid <> pg_backend_pid()",
                            (database,),
                        ).fetchone()
                        assert killed is not None and killed[0] >= 1
                        kills.append((sent, time.monotonic()))
                    time.sleep(1)

            load.run(30, kill_repeatedly)

            _only_retryable(load)
            served = len(load.answers) - len(load.failures())
            assert served > 10 * len(load.failures()), (served, len(load.failures()))
            # Errors are confined to the moment of a kill, not spread over the run.
            for at, _, _ in load.failures():
                assert any(sent <= at < done + 1.5 for sent, done in kills), (at, kills)
            _full_service(server)
            print(f"{len(kills)} kills, {served} answered, {len(load.failures())} E130503")


@pytest.mark.postgres
@pytest.mark.skipif(not private_postgres.available(), reason="needs initdb and pg_ctl")
def test_a_postgres_restart(tmp_path: Path) -> None:
    with private_postgres.PrivatePostgres() as pg:
        store = Store(tmp_path, pg.url)
        with running_server(store) as server:
            _prepare(server)
            load = Load(server)
            restarted: list[float] = []

            def restart() -> None:
                time.sleep(2)
                pg.restart()
                restarted.append(time.monotonic())
                time.sleep(5)

            load.run(10, restart)

            _only_retryable(load)
            assert restarted
            # Service came back on its own within a couple of seconds of the restart.
            late = [at for at, _, _ in load.failures() if at > restarted[0] + 3]
            assert not late, late
            _full_service(server)
            print(f"{len(load.answers)} answers, {len(load.failures())} E130503")


def test_several_sqlite_writers(tmp_path: Path) -> None:
    store = Store(tmp_path / "shared")
    first = start_server(store)
    project = (first.project_id, first.management_key)
    servers = [first, start_server(store, project=project), start_server(store, project=project)]
    try:
        _prepare(first)
        loads = [Load(server) for server in servers]
        stop = threading.Event()

        def all_at_once() -> None:
            threads = [
                threading.Thread(target=load.run, args=(8, lambda: stop.wait(8))) for load in loads
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(60)

        all_at_once()
        for load in loads:
            _only_retryable(load)
            assert "database is locked" not in load.server.log()
        writes = sum(1 for load in loads for _, status, _ in load.answers if status == 200)
        assert writes > 100
        for server in servers:
            _full_service(server)
    finally:
        for server in servers:
            stop_server(server)
