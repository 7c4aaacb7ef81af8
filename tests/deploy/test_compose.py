"""deploy/compose.yaml: two outbound servers and PostgreSQL, the secrets as files, the servers
on a read-only root; every variable it sets is a real setting. And, where podman-compose is
installed, the file run as its header says: the image from ./scripts/image, PostgreSQL from
an image built from Debian's packages (tests/support/postgres/), a token written through one
server and read through the other."""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from outbound import Client
from outbound.server.config import SECRET_SETTINGS, SETTINGS, env_name
from tests.support.podman import Podman, available, podman
from tests.support.server import free_port

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "deploy" / "compose.yaml"


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())  # merges the x-outbound anchor
    return loaded


def test_two_servers_share_one_postgres() -> None:
    services = compose()["services"]
    servers = {name: s for name, s in services.items() if name.startswith("outbound")}
    assert len(servers) == 2
    assert "postgres" in services
    ports = [port for s in servers.values() for port in s["ports"]]
    assert len(set(ports)) == 2 and all(p.startswith("127.0.0.1:") for p in ports)
    for server in servers.values():
        assert server["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert server["read_only"] is True
        assert server["stop_grace_period"] == "150s"


def test_the_secrets_are_files_and_the_variables_real_settings() -> None:
    loaded = compose()
    known = {env_name(name) for name in SETTINGS}
    known |= {env_name(name) + "_FILE" for name in SECRET_SETTINGS}
    for name, service in loaded["services"].items():
        if not name.startswith("outbound"):
            continue
        env = service["environment"]
        assert set(env) <= known, set(env) - known
        assert "OUTBOUND_MASTER_KEY" not in env and "OUTBOUND_DATABASE_URL" not in env
        for variable in ("OUTBOUND_MASTER_KEY_FILE", "OUTBOUND_DATABASE_URL_FILE"):
            secret = env[variable].removeprefix("/run/secrets/")
            assert secret in service["secrets"]
            assert "file" in loaded["secrets"][secret]
        assert "/run/secrets" in service["tmpfs"]
    postgres = loaded["services"]["postgres"]
    assert postgres["environment"]["POSTGRES_PASSWORD_FILE"] == "/run/secrets/postgres-password"


POSTGRES_IMAGE = "localhost/outbound-test-postgres:15"
BASE_LABEL = '{{index .Labels "org.opencontainers.image.base.name"}}'


def postgres_image(pm: Podman, base: str) -> str:
    """PostgreSQL from Debian's packages on the outbound image's base; built once and kept,
    like the base (a minute and a half of apt)."""
    if pm("image", "exists", POSTGRES_IMAGE, check=False).returncode != 0:
        context = str(ROOT / "tests" / "support" / "postgres")
        build = ["build", "--quiet", "--layers=false", "--build-arg", f"BASE={base}"]
        pm(*build, "-t", POSTGRES_IMAGE, context, timeout=600)
    return POSTGRES_IMAGE


def wait_for_health(url: str, deadline_s: float = 180) -> None:
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            if httpx.get(url + "/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{url} did not become healthy")
        time.sleep(0.5)


def secret_files(pm: Podman, directory: Path, postgres: str) -> None:
    """The secret files, made as the compose file's header says: the image's user (10001)
    reads the master key and database URL, the PostgreSQL image's user its password."""
    directory.mkdir()
    password = secrets.token_urlsafe(16)
    postgres_uid = int(pm("run", "--rm", "--entrypoint", "id", postgres, "-u").stdout)
    for name, value, owner in (
        ("master-key", base64.b64encode(os.urandom(32)).decode(), 10001),
        ("database-url", f"postgresql://outbound:{password}@postgres:5432/outbound", 10001),
        ("postgres-password", password, postgres_uid),
    ):
        (directory / name).write_text(value + "\n")
        os.chmod(directory / name, 0o400)
        os.chown(directory / name, owner, -1)


def remove_leftovers(pm: Podman, project: str) -> None:
    """What `down` leaves behind (podman-compose 1.0 keeps networks; a failed `up` more)."""
    for kind, listing in (
        ("container", ["container", "ls", "-a", "--format", "{{.Names}}"]),
        ("volume", ["volume", "ls", "--format", "{{.Name}}"]),
        ("network", ["network", "ls", "--format", "{{.Name}}"]),
    ):
        for name in pm(*listing, check=False).stdout.split():
            if name.startswith(project):
                pm(kind, "rm", "--force", name, check=False)


@pytest.mark.image
@pytest.mark.slow
@pytest.mark.skipif(
    available() is not None or shutil.which("podman-compose") is None,
    reason="podman and podman-compose are not installed (scripts/test installs them with apt)",
)
def test_the_compose_file_runs_two_servers_on_one_database(tmp_path: Path) -> None:
    with podman() as pm:
        image = pm.build_image()
        base = pm("image", "inspect", "--format", BASE_LABEL, image).stdout.strip()
        postgres = postgres_image(pm, base)
        secret_files(pm, tmp_path / "secrets", postgres)
        shutil.copy(COMPOSE, tmp_path / "compose.yaml")
        ports = [free_port(), free_port()]
        project = "outbound-test-compose-" + secrets.token_hex(3)
        env = {
            **pm.env,
            "OUTBOUND_IMAGE": image,
            "POSTGRES_IMAGE": postgres,
            "OUTBOUND_PORT_1": str(ports[0]),
            "OUTBOUND_PORT_2": str(ports[1]),
            "OUTBOUND_PUBLIC_URL": f"http://127.0.0.1:{ports[0]}",
        }
        compose = ["podman-compose", "--podman-args", " ".join(pm.opts), "-p", project]

        def run(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [*compose, *args],
                cwd=tmp_path,
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
            )

        try:
            up = run("up", "-d")
            assert up.returncode == 0, up.stdout + up.stderr
            urls = [f"http://127.0.0.1:{port}" for port in ports]
            for url in urls:
                wait_for_health(url)
            created = json.loads(
                pm("exec", f"{project}_outbound-1_1", "outbound", "projects", "create").stdout
            )
            credentials = (created["projectId"], created["managementKey"])
            with Client(*credentials, urls[0]) as one, Client(*credentials, urls[1]) as two:
                one.mgmt.outbound_application.create_application(
                    "Example", id="app", token_url="https://provider.example/token"
                )
                one.mgmt.outbound_application.upload_user_token(
                    "app",
                    "user",
                    access_token="sealed-by-one",
                    access_token_expiry=int(time.time()) + 3600,
                )
                # The other server: the same database, the same master key from its file.
                token = two.mgmt.outbound_application.fetch_token("app", "user")
                assert token["token"]["accessToken"] == "sealed-by-one"
        finally:
            run("down", "--volumes")
            remove_leftovers(pm, project)
