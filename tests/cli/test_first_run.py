"""What a new user meets on a first start: the banner names the console and the API
reference, the bare URL opens the console, `console-link` prints a link to the port the
server listens on, and no migration chatter."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.processes import wait_until_up
from tests.support.server import free_port


@pytest.fixture
def first_start(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[str], dict[str, str]]]:
    """``outbound serve`` on an empty data dir, configured as a user would (environment)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OUTBOUND_")}
    env.update({"OUTBOUND_DATA_DIR": str(tmp_path / "data"), "OUTBOUND_PORT": str(port)})
    process = subprocess.Popen(
        [sys.executable, "-m", "outbound", "serve"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        text=True,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{base_url}/health", process, "the server", timeout=60)
        yield base_url, process, env
    finally:
        if process.returncode is None:
            process.terminate()
            process.communicate(timeout=20)


def _output(process: subprocess.Popen[str]) -> str:
    process.terminate()
    output, _ = process.communicate(timeout=20)
    return output


def test_the_banner_names_the_console_and_the_api_reference(
    first_start: tuple[str, subprocess.Popen[str], dict[str, str]],
) -> None:
    base_url, process, _ = first_start
    output = _output(process)
    assert f"{base_url}/console/" in output
    assert f"{base_url}/openapi.json" in output
    # A new store is created, not migrated: alembic's lines are debug.
    assert "alembic" not in output
    assert "Running upgrade" not in output


def test_the_bare_url_opens_the_console(
    first_start: tuple[str, subprocess.Popen[str], dict[str, str]],
) -> None:
    base_url, _, _ = first_start
    answer = httpx.get(base_url + "/", follow_redirects=False)
    assert answer.is_redirect
    assert answer.headers["location"] == "/console/"
    followed = httpx.get(base_url + "/", follow_redirects=True)
    assert followed.status_code == 200
    assert str(followed.url).startswith(base_url + "/console/")


def _project(output_so_far: str) -> str:
    line = next(line for line in output_so_far.splitlines() if "project id:" in line)
    return line.split(":", 1)[1].strip()


def test_console_link_points_at_the_servers_port(
    first_start: tuple[str, subprocess.Popen[str], dict[str, str]],
) -> None:
    base_url, process, env = first_start
    project = _project(_output(process))
    # The settings the server was started with (OUTBOUND_PORT here) make the link.
    link = subprocess.run(
        [sys.executable, "-m", "outbound", "console-link", "--project", project],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    ).stdout.strip()
    assert link.startswith(f"{base_url}/console/link?token="), link
    # ... and the same options as `serve` take.
    other = subprocess.run(
        [
            sys.executable,
            "-m",
            "outbound",
            "console-link",
            "--project",
            project,
            "--host",
            "0.0.0.0",
            "--port",
            "9999",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    ).stdout.strip()
    assert other.startswith("http://0.0.0.0:9999/console/link?token="), other
