"""The container image, built by ./scripts/image and run with podman as an operator would: on a
named volume with a published port, the official ``descope`` SDK's seed examples against it,
the same token after a new container on the same volume; and two containers on the host's
PostgreSQL that refresh a token exactly once between them.

Marked ``image``: the fast subset leaves it out; skipped, saying why, where podman is absent.
Every container, volume, secret and the test image are removed afterwards (the base image is
kept: scripts/image builds it once)."""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from urllib.parse import parse_qsl

import httpx
import pytest

from tests.sdk.test_seed import examples
from tests.support.mock_provider import MockProvider, served
from tests.support.podman import CACHE, Podman, available, podman
from tests.support.server import free_port, postgres_database

pytestmark = [pytest.mark.image, pytest.mark.slow]

if reason := available():
    pytest.skip(f"image tests skipped: {reason}", allow_module_level=True)

MB = 1_000_000
UID = "10001"
# What the image's final stage may add to its base (the budget).
ADDED_BUDGET = 120 * MB
OFFICIAL_IMPORT = "from descope import DescopeClient"


@pytest.fixture(scope="module")
def pm() -> Iterator[Podman]:
    with podman() as runner:
        yield runner


@pytest.fixture(scope="module")
def image(pm: Podman) -> str:
    return pm.build_image()


def inspect(pm: Podman, what: str) -> dict[str, object]:
    found: list[dict[str, object]] = json.loads(pm("inspect", what).stdout)
    return found[0]


def report(figure: str, value: str) -> None:
    """A measured figure, on the terminal (pytest -s) and appended to .image/figures.txt."""
    line = f"{time.strftime('%Y-%m-%d %H:%M')} image: {figure}: {value}"
    print(line)
    with (CACHE / "figures.txt").open("a") as figures:
        figures.write(line + "\n")


def test_the_image_is_small_unprivileged_and_self_describing(pm: Podman, image: str) -> None:
    config = inspect(pm, image)
    size = int(config["Size"])  # type: ignore[call-overload]
    base = config["Config"]["Labels"]["org.opencontainers.image.base.name"]  # type: ignore[index]
    added = size - int(inspect(pm, base)["Size"])  # type: ignore[call-overload]
    report("size", f"{size / MB:.1f} MB on {base}, of which the image adds {added / MB:.1f} MB")
    assert added <= ADDED_BUDGET

    cfg = config["Config"]
    assert cfg["User"] == f"{UID}:{UID}"  # type: ignore[index]
    assert cfg["StopSignal"] in ("SIGTERM", "15")  # type: ignore[index]
    assert "8080/tcp" in cfg["ExposedPorts"]  # type: ignore[index]
    assert "/data" in cfg["Volumes"]  # type: ignore[index]
    assert "/health" in " ".join(config["Healthcheck"]["Test"])  # type: ignore[index]
    env = dict(e.split("=", 1) for e in cfg["Env"])  # type: ignore[index]
    assert env["OUTBOUND_HOST"] == "0.0.0.0"
    assert env["OUTBOUND_PORT"] == "8080"
    assert env["OUTBOUND_DATA_DIR"] == "/data"

    # No compiler, no build tool, no pip in the final stage.
    probe = pm(
        "run",
        "--rm",
        "--entrypoint",
        "sh",
        image,
        "-c",
        "id -u; for t in gcc cc c++ make ld as pip pip3; do command -v $t; done; true",
    ).stdout.split()
    assert probe == [UID]


def seed_program(operation: str, project: dict[str, str], then: str = "") -> str:
    """The seed page's set-up and one example, verbatim with the official SDK's import but for
    the page's placeholder credentials; ``then`` prints what the example left.

    The set-up's direct form: the official SDK's ``DescopeClient()`` requires ``project_id``
    as an argument (its environment form fails with a TypeError, whatever the page says);
    ``DESCOPE_BASE_URI`` points it at the container."""
    setup, by_method = examples()
    assert setup.startswith(OFFICIAL_IMPORT)
    direct = setup.split("# Or directly\n", 1)[1]
    direct = direct.replace("__ProjectID__", project["projectId"], 1)
    direct = direct.replace('"management-key"', repr(project["managementKey"]), 1)
    return OFFICIAL_IMPORT + "\n" + direct + by_method[operation] + then


def run_seed(program: str, base_url: str, project: dict[str, str]) -> str:
    env = {
        "DESCOPE_PROJECT_ID": project["projectId"],
        "DESCOPE_MANAGEMENT_KEY": project["managementKey"],
        "DESCOPE_BASE_URI": base_url,
        "PATH": os.environ.get("PATH", ""),
    }
    done = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", program],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd="/",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    return done.stdout


def official_client(base_url: str, project: dict[str, str]):  # type: ignore[no-untyped-def]
    import warnings

    from descope import DescopeClient

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the SDK's own start-up notes are not ours to judge
        return DescopeClient(
            project_id=project["projectId"],
            management_key=project["managementKey"],
            base_url=base_url,
        )


def idle_rss_mb(pm: Podman, container: str) -> float:
    status = pm("exec", container, "cat", "/proc/1/status").stdout
    return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) / 1000  # type: ignore[union-attr]


def test_a_container_on_a_volume_serves_the_seed_and_keeps_its_token(
    pm: Podman, image: str
) -> None:
    volume = pm.volume()
    # `init` in a container of its own: the store and its generated key land on the volume.
    project = json.loads(pm("run", "--rm", "-v", f"{volume}:/data", image, "init").stdout)

    port = free_port()
    started = time.monotonic()
    first = pm.container("-p", f"127.0.0.1:{port}:8080", "-v", f"{volume}:/data", image)
    pm.wait_healthy(first)
    report("time to healthy (SQLite), from podman run", f"{time.monotonic() - started:.1f} s")
    base_url = f"http://127.0.0.1:{port}"

    apps = official_client(base_url, project).mgmt.outbound_application
    apps.create_application(
        name="Example provider",
        id="app-id",
        authorization_url="https://provider.example/authorize",
        token_url="https://provider.example/token",
        client_id="client-123",
    )
    uploaded = "seed-access-" + secrets.token_hex(8)
    apps.upload_user_token(
        "app-id",
        "user-id",
        access_token=uploaded,
        access_token_expiry=int(time.time()) + 3600,
        scopes=["read", "write"],
    )
    out = run_seed(
        seed_program("fetch_token", project, "print('ACCESS', access_token)\n"), base_url, project
    )
    assert out.strip() == f"ACCESS {uploaded}"

    report("idle RSS (SQLite, after the seed calls)", f"{idle_rss_mb(pm, first):.0f} MB")

    # A graceful stop: SIGTERM, exit 0 well within the timeout.
    stop_started = time.monotonic()
    pm("stop", "--time", "30", first, timeout=60)
    assert time.monotonic() - stop_started < 25
    state = inspect(pm, first)["State"]
    assert state["ExitCode"] == 0, pm.logs(first)  # type: ignore[index]
    pm("rm", first)

    # A new container on the same volume: the same store, the same key, the same token.
    second = pm.container("-p", f"127.0.0.1:{port}:8080", "-v", f"{volume}:/data", image)
    pm.wait_healthy(second)
    program = seed_program("fetch_token_by_scopes", project, "print('ACCESS', access_token)\n")
    assert run_seed(program, base_url, project).strip() == f"ACCESS {uploaded}"
    out = run_seed(seed_program("delete_token", project), base_url, project)
    assert out.startswith("Error: ")  # the page's literal "token-id" names no token
    assert run_seed(seed_program("delete_user_tokens", project), base_url, project) == ""
    out = run_seed(seed_program("fetch_token", project), base_url, project)
    assert out.startswith("Error: ") and "E111504" in out  # deleted: token not found

    # The data on the volume belongs to the image's user, the key file to it alone.
    listing = pm(
        "run",
        "--rm",
        "-v",
        f"{volume}:/data",
        "--entrypoint",
        "stat",
        image,
        "-c",
        "%u %a %n",
        "/data",
        "/data/master.key",
    ).stdout.splitlines()
    assert listing == [f"{UID} 700 /data", f"{UID} 600 /data/master.key"]


REFRESH_DELAY = 0.5  # the provider's answer takes this long: the callers' race stays open


def token_endpoint(request: httpx.Request) -> httpx.Response:
    form = dict(parse_qsl(request.content.decode()))
    if form.get("grant_type") != "refresh_token":
        return httpx.Response(400, json={"error": "unsupported_grant_type"})
    time.sleep(REFRESH_DELAY)
    return httpx.Response(
        200,
        json={
            "access_token": "refreshed-" + secrets.token_hex(8),
            "token_type": "Bearer",
            "expires_in": 3600,
        },
    )


@pytest.mark.postgres
def test_two_containers_on_postgres_refresh_once(pm: Podman, image: str) -> None:
    provider = MockProvider(token_endpoint)
    key = base64.b64encode(os.urandom(32)).decode()
    with postgres_database() as url, served(provider) as provider_url:
        master_key = pm.secret(key)
        # Host networking: the containers reach the host's PostgreSQL and provider on loopback.
        # A read-only root, as deploy/kubernetes and deploy/compose.yaml run it (podman mounts
        # secrets only on a writable /run/secrets: a tmpfs there, as the compose file has).
        common = [
            "--read-only",
            "--tmpfs",
            "/run/secrets",
            "--network",
            "host",
            "--secret",
            f"{master_key},uid={UID},mode=0400",
            "-e",
            f"OUTBOUND_MASTER_KEY_FILE=/run/secrets/{master_key}",
            "-e",
            f"OUTBOUND_DATABASE_URL={url}",
            "-e",
            "OUTBOUND_HOST=127.0.0.1",
            "-e",
            "OUTBOUND_PROVIDER_ALLOW_NETWORKS=127.0.0.0/8",
        ]
        project = json.loads(pm("run", "--rm", *common, image, "init").stdout)
        ports = [free_port(), free_port()]
        started = time.monotonic()
        containers = [pm.container(*common, "-e", f"OUTBOUND_PORT={p}", image) for p in ports]
        for container in containers:
            pm.wait_healthy(container)
        report("time to healthy (2 containers, PostgreSQL)", f"{time.monotonic() - started:.1f} s")
        urls = [f"http://127.0.0.1:{p}" for p in ports]

        apps = official_client(urls[0], project).mgmt.outbound_application
        apps.create_application(
            name="Refreshing provider",
            id="refreshing",
            authorization_url=provider_url + "/authorize",
            token_url=provider_url + "/token",
            client_id="client-123",
            client_secret="secret-456",
        )
        apps.upload_user_token(
            "refreshing",
            "user-1",
            access_token="expired",
            refresh_token="rt-1",
            access_token_expiry=int(time.time()) - 60,
        )

        callers = 20
        answers: list[str] = [""] * callers
        gate = threading.Barrier(callers)

        def fetch(i: int) -> None:
            client = official_client(urls[i % 2], project).mgmt.outbound_application
            gate.wait()
            answers[i] = client.fetch_token("refreshing", "user-1")["token"]["accessToken"]

        threads = [threading.Thread(target=fetch, args=(i,)) for i in range(callers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)

        refreshes = [
            r
            for r in provider.requests
            if dict(parse_qsl(r.content.decode())).get("grant_type") == "refresh_token"
        ]
        assert len(refreshes) == 1, [pm.logs(c) for c in containers]
        assert len(set(answers)) == 1 and answers[0].startswith("refreshed-")
