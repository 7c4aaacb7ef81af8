"""The CLI contract that scripts and the docs rely on."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.processes import wait_until_up
from tests.support.server import LiveServer, Store, free_port, outbound_cli, running_server


def test_version_prints_the_package_version() -> None:
    from importlib.metadata import version

    import outbound

    out = subprocess.run(
        [sys.executable, "-m", "outbound", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    # The version the package was built with, as installed: what `pip show outbound-vault` says.
    assert out == f"outbound {version('outbound-vault')}\n"
    assert version("outbound-vault") == outbound.__version__
    assert out.split()[1].count(".") == 2  # MAJOR.MINOR.PATCH, as the CHANGELOG's sections


def test_init_prints_one_json_line_that_works(tmp_path: Path) -> None:
    store = Store(tmp_path / "data")
    out = outbound_cli("init", *store.args, env=store.env)
    assert len(out.strip().splitlines()) == 1
    creds = json.loads(out)
    assert set(creds) == {"projectId", "managementKey"}
    project = (creds["projectId"], creds["managementKey"])
    with running_server(store, project=project) as server, server.client() as client:
        assert client.get("/v1/mgmt/outbound/apps").json() == {"apps": []}


def test_every_option_reads_an_environment_variable(tmp_path: Path) -> None:
    data_dir = tmp_path / "from-env"
    out = outbound_cli("projects", "create", env={"OUTBOUND_DATA_DIR": str(data_dir)})
    assert json.loads(out)["projectId"]
    assert (data_dir / "outbound.db").exists()
    # no master key given: one was generated, readable only by its owner
    key_file = data_dir / "master.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_serve_creates_a_project_on_first_start_only(tmp_path: Path) -> None:
    data_dir = tmp_path / "fresh"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OUTBOUND_")}
    env.update({"OUTBOUND_DATA_DIR": str(data_dir), "OUTBOUND_PORT": str(port)})

    def serve_once() -> str:
        process = subprocess.Popen(
            [sys.executable, "-m", "outbound", "serve"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            text=True,
        )
        try:
            wait_until_up(f"http://127.0.0.1:{port}/health", process, "outbound serve", timeout=60)
        finally:
            process.terminate()
            output, _ = process.communicate(timeout=10)
        return output

    first = serve_once()
    assert "management key:" in first
    key_line = next(line for line in first.splitlines() if "management key:" in line)
    key = key_line.split(":", 1)[1].strip()
    assert key.startswith("obk_")
    assert "from outbound import DescopeClient" in first
    second = serve_once()
    assert "management key" not in second
    assert key not in second


def test_keys_commands_need_a_project(tmp_path: Path) -> None:
    store = Store(tmp_path / "d")
    try:
        outbound_cli("keys", "create", "--project", "no-such-project", *store.args, env=store.env)
    except RuntimeError as exc:
        assert "no-such-project" in str(exc)
    else:
        raise AssertionError("keys create accepted an unknown project")


def test_rekey_finishes_a_master_key_rotation(tmp_path: Path) -> None:
    import base64

    from tests.support.database import execute

    old_key = base64.b64encode(os.urandom(32)).decode()
    new_key = base64.b64encode(os.urandom(32)).decode()
    store = Store(tmp_path / "d", master_key=old_key)
    with running_server(store) as server, server.client() as client:
        client.post(
            "/v1/mgmt/outbound/app/create",
            json={"id": "a", "name": "a", "tokenUrl": "https://p.example/t", "clientSecret": "cs"},
        )
        for user in ("u1", "u2"):
            client.post(
                "/v1/mgmt/outbound/app/user/oauthtoken/upload",
                json={
                    "appId": "a",
                    "userId": user,
                    "accessToken": f"at-{user}",
                    "refreshToken": "rt",
                },
            )
        project = (server.project_id, server.management_key)

    rotating = Store(store.data_dir, master_key=f"{new_key},{old_key}")
    report = json.loads(outbound_cli("rekey", *rotating.args, env=rotating.env))
    assert report["resealed"] == {
        "tokens.access_token": 2,
        "tokens.refresh_token": 2,
        "apps.client_secret": 1,
        # the old key's own record (its audit MAC key), now sealed with the new key
        "store_keys.secrets": 1,
        # the management key digest key, and the record that token rows carry their version
        # in their sealed values' associated data (storage/token_versions.py)
        "store_secrets.value": 2,
    }
    again = json.loads(outbound_cli("rekey", *rotating.args, env=rotating.env))
    # five secrets, the two keys' records, the digest key and the token-version record
    assert again["total"] == 0 and again["alreadyCurrent"] == 9

    # The old key is gone now, and every secret still opens.
    rotated = Store(store.data_dir, master_key=new_key)
    with running_server(rotated, project=project) as server, server.client() as client:
        for user in ("u1", "u2"):
            token = client.post(
                "/v1/mgmt/outbound/app/user/token/latest",
                json={"appId": "a", "userId": user, "options": {"withRefreshToken": True}},
            ).json()["token"]
            assert (token["accessToken"], token["refreshToken"]) == (f"at-{user}", "rt")
    sealed = execute(rotated, "SELECT access_token FROM tokens")
    assert len({bytes(blob)[1:5] for (blob,) in sealed}) == 1


def test_postgres_needs_a_master_key_from_the_environment(tmp_path: Path) -> None:
    # Servers sharing PostgreSQL may run on several machines: a key file generated on each
    # would seal with different keys. Refuse instead of starting.
    from tests.support.server import postgres_database

    env = {k: v for k, v in os.environ.items() if k != "OUTBOUND_MASTER_KEY"}
    with postgres_database() as url:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "outbound",
                "init",
                "--data-dir",
                str(tmp_path),
                "--database-url",
                url,
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
    assert result.returncode != 0
    assert "OUTBOUND_MASTER_KEY" in result.stderr
    assert not (tmp_path / "master.key").exists()


def test_a_malformed_allowed_network_stops_serve_before_it_starts(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OUTBOUND_")}
    env.update(
        {
            "OUTBOUND_DATA_DIR": str(tmp_path / "d"),
            "OUTBOUND_PORT": str(free_port()),
            "OUTBOUND_PROVIDER_ALLOW_NETWORKS": "10.0.0.0/8, 10.0.0.0/33",
        }
    )
    result = subprocess.run(
        [sys.executable, "-m", "outbound", "serve"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert result.returncode != 0
    assert "--provider-allow-networks: '10.0.0.0/33' is not a CIDR network" in result.stderr
    assert not (tmp_path / "d").exists()  # nothing was created


def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The CLI with exactly ``env`` for its OUTBOUND_* variables (none inherited)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OUTBOUND_", "DESCOPE_"))}
    return subprocess.run(
        [sys.executable, "-m", "outbound", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**clean, **env},
    )


def test_the_json_flag_scripts_pass_still_works_and_says_it_is_not_needed(tmp_path: Path) -> None:
    # init, projects create and keys create always printed one JSON line; 0.1.0 took --json
    # too, and the scripts written then must keep working.
    store = Store(tmp_path / "d")
    plain = _run("projects", "create", *store.args, env=store.env)
    flagged = _run("projects", "create", "--json", *store.args, env=store.env)
    assert plain.returncode == flagged.returncode == 0, flagged.stderr
    for result in (plain, flagged):
        assert len(result.stdout.splitlines()) == 1
        assert set(json.loads(result.stdout)) == {"projectId", "managementKey"}
    assert plain.stderr == ""
    assert "'json' is deprecated" in flagged.stderr
    for command in (["init"], ["projects", "create"], ["keys", "create"]):
        assert "--json" not in _run(*command, "--help", env={}).stdout


def test_one_environment_points_the_sdk_and_the_cli_at_the_server(
    live_server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from outbound import Client

    project_id, key = live_server.new_project()
    env = {
        "OUTBOUND_BASE_URL": live_server.base_url,
        "OUTBOUND_PROJECT_ID": project_id,
        "OUTBOUND_MANAGEMENT_KEY": key,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with Client() as client:
        client.mgmt.outbound_application.create_application(
            "made by the SDK", id="sdk-made", token_url="https://p.example/t"
        )
    listed = _run("audit", "list", "--action", "app.create", env=env)
    assert listed.returncode == 0, listed.stderr
    assert [json.loads(line)["appId"] for line in listed.stdout.splitlines()] == ["sdk-made"]
    assert listed.stderr == ""


def test_the_old_server_url_variable_still_works_with_a_warning(live_server: LiveServer) -> None:
    account = {
        "OUTBOUND_PROJECT_ID": live_server.project_id,
        "OUTBOUND_MANAGEMENT_KEY": live_server.management_key,
    }
    old = _run("webhooks", "list", env={**account, "OUTBOUND_URL": live_server.base_url})
    assert old.returncode == 0, old.stderr
    assert "OUTBOUND_URL is deprecated; set OUTBOUND_BASE_URL" in old.stderr

    # Both set: the SDK's variable wins, and nothing is said.
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        nowhere = f"http://127.0.0.1:{unused.getsockname()[1]}"
        both = _run(
            "webhooks",
            "list",
            env={**account, "OUTBOUND_URL": nowhere, "OUTBOUND_BASE_URL": live_server.base_url},
        )
        assert both.returncode == 0, both.stderr
        assert both.stderr == ""
        # And an explicit --url wins over both.
        flag = _run("webhooks", "list", "--url", nowhere, env={**account, "OUTBOUND_URL": "x"})
    assert flag.returncode != 0
    assert f"cannot reach the outbound server at {nowhere}" in flag.stderr
    assert "deprecated" not in flag.stderr


def test_lists_follow_the_servers_pages_and_stop_at_the_limit(
    live_server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from outbound.cli import main, sdk

    monkeypatch.setattr(sdk, "PAGE_SIZE", 2)  # five items are then three pages
    project_id, key = live_server.new_project()
    headers = {"Authorization": f"Bearer {project_id}:{key}"}
    with httpx.Client(base_url=live_server.base_url, headers=headers, timeout=30) as http:
        app = {"id": "paged", "name": "paged", "appType": "apikey"}
        assert http.post("/v1/mgmt/outbound/app/create", json=app).status_code == 200
        for n in range(5):
            body = {"appId": "paged", "userId": f"user-{n}", "apiKey": f"k{n}"}
            assert http.post("/v1/mgmt/outbound/app/user/apikey/upload", json=body).is_success
    account = ["--url", live_server.base_url, "--project", project_id]

    def lines(*args: str) -> list[dict[str, Any]]:
        result = CliRunner().invoke(main, [*args, *account], env={"OUTBOUND_MANAGEMENT_KEY": key})
        assert result.exit_code == 0, result.output
        return [json.loads(line) for line in result.stdout.splitlines()]

    listed = [c["userId"] for c in lines("connections", "list", "--app", "paged")]
    assert sorted(listed) == [f"user-{n}" for n in range(5)]  # each once, across three pages
    assert [c["userId"] for c in lines("connections", "list", "--limit", "3")] == listed[:3]
    created = lines("audit", "list", "--action", "token.upload")
    assert len(created) == 5
