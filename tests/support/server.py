"""Start real ``outbound serve`` processes for tests, on SQLite or a fresh PostgreSQL database."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import secrets
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx

from tests.support.processes import stop, wait_until_up

PG_ADMIN_URL = os.environ.get("OUTBOUND_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")

# Every test provider (oidc-provider, catchers, stubs) and webhook receiver listens on
# loopback, which a server refuses by default: test servers allow it (for providers and for
# webhooks) unless a test asks for the default (``start_server(..., loopback_providers=False)``).
LOOPBACK_NETWORKS = "127.0.0.0/8"
REPO = Path(__file__).parent.parent.parent


# Each xdist worker takes ports from a range of its own, below the kernel's ephemeral range
# (32768+), in turn: a port the kernel hands out for port 0 can be handed to the next caller
# too — in another worker — between our close and the server's bind.
_PORTS_PER_WORKER = 1500
_next_port = itertools.count(secrets.randbelow(_PORTS_PER_WORKER))


def free_port() -> int:
    """A port free now, and handed to no other caller of this suite's workers."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    base = 20000 + (int(worker) % 8 if worker.isdigit() else 0) * _PORTS_PER_WORKER
    for _ in range(_PORTS_PER_WORKER):
        port = base + next(_next_port) % _PORTS_PER_WORKER
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue  # in use (another run on this machine): the next one
            return port
    raise RuntimeError(f"no free port in {base}..{base + _PORTS_PER_WORKER}")


def outbound_cli(*args: str, env: dict[str, str] | None = None) -> str:
    """Run the CLI as a user would; returns stdout (raises with stderr on failure)."""
    result = subprocess.run(
        [sys.executable, "-m", "outbound", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )
    if result.returncode != 0:
        raise RuntimeError(f"outbound {' '.join(args)} failed:\n{result.stderr}")
    return result.stdout


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    """A new, empty PostgreSQL database; dropped afterwards."""
    import psycopg

    name = "outbound_test_" + secrets.token_hex(6)
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Store:
    """Where a test's servers keep their data: a data dir, and maybe a PostgreSQL URL."""

    data_dir: Path
    database_url: str = ""
    master_key: str = field(default_factory=lambda: secrets.token_urlsafe(32).rstrip("=")[:43])

    @property
    def args(self) -> list[str]:
        args = ["--data-dir", str(self.data_dir)]
        if self.database_url:
            args += ["--database-url", self.database_url]
        return args

    @property
    def env(self) -> dict[str, str]:
        return {"OUTBOUND_MASTER_KEY": self.master_key}

    def new_project(self) -> tuple[str, str]:
        out = json.loads(outbound_cli("projects", "create", *self.args, env=self.env))
        return out["projectId"], out["managementKey"]


@dataclass
class LiveServer:
    store: Store
    base_url: str
    project_id: str
    management_key: str
    process: subprocess.Popen[bytes]
    log_path: Path
    log_file: IO[bytes] | None = None

    @property
    def auth_header(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.project_id}:{self.management_key}"}

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, headers=self.auth_header, timeout=30)

    def new_project(self) -> tuple[str, str]:
        return self.store.new_project()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_server(
    store: Store,
    *,
    port: int | None = None,
    extra_args: list[str] | None = None,
    env: dict[str, str] | None = None,
    project: tuple[str, str] | None = None,
    loopback_providers: bool = True,
    hosts_file: Path | None = None,
) -> LiveServer:
    """``hosts_file``: names resolve as that file says (``tests/support/fake_dns.py``)."""
    port = port or free_port()
    extra_args = list(extra_args or [])
    if loopback_providers and "--provider-allow-networks" not in extra_args:
        extra_args += ["--provider-allow-networks", LOOPBACK_NETWORKS]
    if loopback_providers and "--webhook-allow-networks" not in extra_args:
        extra_args += ["--webhook-allow-networks", LOOPBACK_NETWORKS]
    if project is None:
        project = store.new_project()
    log_path = store.data_dir / f"server-{port}.log"
    store.data_dir.mkdir(parents=True, exist_ok=True)
    log = open(log_path, "wb")  # noqa: SIM115 - lives as long as the process
    launcher = ["outbound"] if hosts_file is None else ["tests.support.fake_dns", str(hosts_file)]
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            *launcher,
            "serve",
            *store.args,
            "--port",
            str(port),
            *extra_args,
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, **store.env, **(env or {})},
        cwd=REPO if hosts_file is not None else None,  # where ``tests`` imports from
    )
    base_url = f"http://127.0.0.1:{port}"
    # Generous: on a busy 2-core machine running the suite on several workers, a start (imports,
    # migrations) has taken over 30 s; how fast a server starts is not what is tested here.
    try:
        wait_until_up(
            base_url + "/health", process, "outbound serve", timeout=90, log=log_path.read_text
        )
    except RuntimeError:
        log.close()
        raise
    return LiveServer(store, base_url, project[0], project[1], process, log_path, log)


def stop_server(server: LiveServer) -> None:
    stop(server.process)
    if server.log_file is not None:
        server.log_file.close()


@contextlib.contextmanager
def running_server(store: Store, **kwargs: Any) -> Iterator[LiveServer]:
    server = start_server(store, **kwargs)
    try:
        yield server
    finally:
        stop_server(server)
