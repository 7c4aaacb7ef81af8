"""Several ``outbound serve`` processes on one store: one SQLite data dir, or one PostgreSQL
database. They start together on an empty store (migrations and the first project happen
once), and what one writes the others serve at once."""

from __future__ import annotations

import secrets
import subprocess
import sys
import threading
from pathlib import Path

import httpx

from tests.support.database import execute
from tests.support.processes import wait_until_up
from tests.support.server import Store, free_port, postgres_database


def start_together(store: Store, count: int) -> list[tuple[subprocess.Popen[str], int]]:
    ports = [free_port() for _ in range(count)]
    barrier = threading.Barrier(count)
    processes: list[tuple[subprocess.Popen[str], int]] = []
    lock = threading.Lock()

    def start(port: int) -> None:
        barrier.wait()
        process = subprocess.Popen(
            [sys.executable, "-m", "outbound", "serve", *store.args, "--port", str(port)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**__import__("os").environ, **store.env},
        )
        with lock:
            processes.append((process, port))

    threads = [threading.Thread(target=start, args=(port,)) for port in ports]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for process, port in processes:
        output = lambda process=process: process.communicate()[0]  # noqa: E731 - its log
        wait_until_up(
            f"http://127.0.0.1:{port}/health", process, "a server", log=output, timeout=60
        )
    return processes


def run_shared(store: Store) -> None:
    processes = start_together(store, 3)
    try:
        # exactly one project (and key) was bootstrapped, announced by exactly one process
        assert execute(store, "SELECT COUNT(*) FROM projects")[0][0] == 1
        for process, _ in processes:
            process.terminate()
        outputs = [process.communicate(timeout=20)[0] for process, _ in processes]
        announced = [out for out in outputs if "management key:" in out]
        assert len(announced) == 1, outputs
        key_line = next(line for line in announced[0].splitlines() if "management key:" in line)
        project_line = next(line for line in announced[0].splitlines() if "project id:" in line)
        key = key_line.split(":", 1)[1].strip()
        project = project_line.split(":", 1)[1].strip()

        processes = start_together(store, 3)
        headers = {"Authorization": f"Bearer {project}:{key}"}
        clients = [
            httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=30)
            for _, port in processes
        ]
        a, _, c = clients
        assert (
            a.post(
                "/v1/mgmt/outbound/app/create",
                json={"id": "shared", "name": "Shared", "tokenUrl": "https://p.example/t"},
            ).status_code
            == 200
        )
        # writes from every process, racing, none lost
        errors: list[str] = []

        def upload(client: httpx.Client, n: int) -> None:
            for i in range(15):
                response = client.post(
                    "/v1/mgmt/outbound/app/user/oauthtoken/upload",
                    json={
                        "appId": "shared",
                        "userId": f"user-{n}-{i}",
                        "accessToken": f"tok-{n}-{i}",
                    },
                )
                if response.status_code != 200:
                    errors.append(response.text)

        threads = [
            threading.Thread(target=upload, args=(client, n)) for n, client in enumerate(clients)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        # every process serves every write at once
        for n in range(3):
            for i in range(15):
                reader = clients[(n + 1) % 3]
                token = reader.post(
                    "/v1/mgmt/outbound/app/user/token/latest",
                    json={"appId": "shared", "userId": f"user-{n}-{i}"},
                ).json()["token"]
                assert token["accessToken"] == f"tok-{n}-{i}"
        # a delete through one is gone through the others
        c.delete("/v1/mgmt/outbound/user/tokens", params={"userId": "user-0-0"})
        assert (
            a.post(
                "/v1/mgmt/outbound/app/user/token/latest",
                json={"appId": "shared", "userId": "user-0-0"},
            ).status_code
            == 404
        )
        for client in clients:
            client.close()
    finally:
        for process, _ in processes:
            if process.poll() is None:
                process.terminate()
                process.communicate(timeout=20)


def test_three_servers_share_one_sqlite_data_dir(tmp_path: Path) -> None:
    run_shared(Store(tmp_path / "shared"))


def test_three_servers_share_one_postgres_database(tmp_path: Path) -> None:
    with postgres_database() as url:
        run_shared(Store(tmp_path / "pg", url, master_key=secrets.token_urlsafe(32)[:43]))
