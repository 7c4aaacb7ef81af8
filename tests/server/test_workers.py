"""``outbound serve --workers N``: several processes answer on one port, a killed worker is
replaced while the others keep answering, and SIGTERM to the parent stops them all."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.server import LiveServer, Store, free_port, start_server, stop_server

ROOT = Path(__file__).resolve().parents[2]
APP = "workers-app"
USERS = 8
FETCH = "/v1/mgmt/outbound/app/user/token/latest"


def _workers(parent: int) -> set[int]:
    """The parent's worker processes: uvicorn spawns them with multiprocessing (the other
    child, multiprocessing's resource tracker, runs no server)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:  # gone meanwhile
            continue
        if int(stat[1]) == parent and b"spawn_main" in cmdline:
            found.add(int(entry.name))
    return found


def _wait_for(predicate, what: str, timeout: float = 30.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _socket_owner(pids: set[int], server_port: int, client_port: int) -> int | None:
    """Which of ``pids`` holds the server end of the loopback connection from ``client_port``."""
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port = int(fields[1].split(":")[1], 16)
        remote_port = int(fields[2].split(":")[1], 16)
        if (local_port, remote_port) == (server_port, client_port) and fields[3] == "01":
            inode = fields[9]
    if inode is None:
        return None
    for pid in pids:
        fd_dir = Path(f"/proc/{pid}/fd")
        try:
            if any(os.readlink(fd_dir / fd) == f"socket:[{inode}]" for fd in os.listdir(fd_dir)):
                return pid
        except OSError:
            continue
    return None


def _fetch(client: httpx.Client, user: int) -> None:
    response = client.post(FETCH, json={"appId": APP, "userId": f"user-{user:07d}"})
    assert response.status_code == 200, response.text
    assert response.json()["token"]["accessToken"]


def _seed(store: Store, project: str) -> None:
    args = [sys.executable, str(ROOT / "benchmarks" / "seed_tokens.py"), *store.args]
    args += ["--project", project, "--app", APP, "--count", str(USERS), "--start", "0"]
    subprocess.run(args, check=True, env={**os.environ, **store.env}, timeout=60)


def test_two_workers_answer_on_one_port_replace_a_killed_one_and_stop_on_sigterm(
    store: Store,
) -> None:
    server = start_server(store, extra_args=["--workers", "2"])
    try:
        port = int(server.base_url.rsplit(":", 1)[1])
        first = _wait_for(lambda: len(w := _workers(server.process.pid)) == 2 and w, "2 workers")
        with server.client() as client:
            client.post(
                "/v1/mgmt/outbound/app/create",
                json={"id": APP, "name": "Workers", "tokenUrl": "https://p.example/token"},
            ).raise_for_status()
        _seed(store, server.project_id)

        # Fetches on fresh connections until both workers hold one: one port, two processes.
        answered: set[int] = set()
        clients = []
        try:
            for i in range(60):
                client = server.client()
                clients.append(client)
                _fetch(client, i % USERS)
                client_port = _client_port(client)
                owner = _socket_owner(first, port, client_port)
                if owner is not None:
                    answered.add(owner)
                if answered == first:
                    break
        finally:
            for client in clients:
                client.close()
        assert answered == first
        # The workers build the listener's limits from the settings too.
        too_large = httpx.get(server.base_url + "/health", headers={"x-big": "a" * 100_000})
        assert too_large.status_code == 431
        assert too_large.json()["errorCode"] == "E130431"

        # SIGKILL one worker: fetches keep being answered, and the supervisor starts another.
        killed, survivor = sorted(first)
        os.kill(killed, signal.SIGKILL)
        for i in range(20):
            with server.client() as client:
                _fetch(client, i % USERS)
        now = _wait_for(
            lambda: len(w := _workers(server.process.pid)) == 2 and killed not in w and w,
            "the killed worker's replacement",
        )
        assert survivor in now
        (replacement,) = now - {survivor}
        # The replacement serves on its own: with the survivor gone too, fetches still succeed.
        _wait_for(lambda: _health(server), "health")
        os.kill(survivor, signal.SIGKILL)
        with server.client() as client:
            _fetch(client, 0)
        assert replacement in _workers(server.process.pid)
        final = _wait_for(
            lambda: len(w := _workers(server.process.pid)) == 2 and survivor not in w and w,
            "the second replacement",
        )

        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=30) == 0
        assert not any(Path(f"/proc/{pid}").exists() for pid in final), "a worker outlived SIGTERM"
        # The serving worker ran its shutdown (audit flush, store closed) before it exited; the
        # newest may still have been starting, and is stopped all the same.
        assert f"Finished server process [{replacement}]" in server.log()
    finally:
        stop_server(server)


def _client_port(client: httpx.Client) -> int:
    """The local port of the client's (only) pooled connection."""
    pool = client._transport._pool  # type: ignore[attr-defined]
    (connection,) = pool.connections
    stream = connection._connection._network_stream
    port: int = stream.get_extra_info("socket").getsockname()[1]
    return port


def _health(server: LiveServer) -> bool:
    try:
        return httpx.get(server.base_url + "/health", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def test_metrics_port_is_refused_with_several_workers(tmp_path: Path) -> None:
    args = ["--data-dir", str(tmp_path), "--port", str(free_port()), "--workers", "2"]
    result = subprocess.run(
        [sys.executable, "-m", "outbound", "serve", *args, "--metrics-port", str(free_port())],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "--metrics-port cannot be combined with --workers above 1" in result.stderr
    assert not any(tmp_path.iterdir()), "nothing is created before the refusal"


def test_workers_get_the_master_key_from_a_private_file_not_their_environment(
    store: Store,
) -> None:
    """The master key given in the environment (and a database URL with a password, on
    PostgreSQL) reaches the workers through a 0600 file the parent removes when it stops:
    no worker's environment or command line holds either."""
    server = start_server(store, extra_args=["--workers", "2"])
    secrets = [store.master_key.encode()]
    if store.database_url:
        secrets.append(store.database_url.encode())
    try:
        workers = _wait_for(lambda: len(w := _workers(server.process.pid)) == 2 and w, "2 workers")
        environ = (Path(f"/proc/{server.process.pid}/environ")).read_bytes()
        handed = [
            v.split(b"=", 1)[1]
            for v in environ.split(b"\0")
            if v.startswith(b"OUTBOUND_WORKER_SETTINGS_FILE=")
        ]
        for pid in workers:
            seen = (
                Path(f"/proc/{pid}/environ").read_bytes()
                + Path(f"/proc/{pid}/cmdline").read_bytes()
            )
            for secret in secrets:
                if secret in seen:  # (not an assert: its message would print the environment)
                    pytest.fail(f"worker {pid} holds a secret in its environment or command line")
            for entry in seen.split(b"\0"):
                if entry.startswith(b"OUTBOUND_WORKER_SETTINGS_FILE="):
                    handed.append(entry.split(b"=", 1)[1])
        (path,) = {Path(p.decode()) for p in handed}
        assert path.stat().st_mode & 0o777 == 0o600
        assert _health(server)
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=30) == 0
        assert not path.exists(), "the workers' settings file outlived the server"
    finally:
        stop_server(server)
