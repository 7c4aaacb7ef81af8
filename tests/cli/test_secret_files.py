"""The secret settings read from files (``OUTBOUND_MASTER_KEY_FILE``,
``OUTBOUND_DATABASE_URL_FILE``), as container secrets and systemd credentials hand them over."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support.server import Store, outbound_cli, running_server


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without any OUTBOUND_ setting of the test run, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OUTBOUND_")}
    return {**env, **extra}


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "outbound", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_the_master_key_and_database_url_come_from_their_files(tmp_path: Path) -> None:
    key = base64.b64encode(os.urandom(32)).decode()
    database = tmp_path / "elsewhere" / "vault.db"
    database.parent.mkdir()
    (tmp_path / "key").write_text(key + "\n")  # as `echo KEY > file` writes it
    (tmp_path / "url").write_text(f"sqlite:///{database}\n")
    data_dir = tmp_path / "data"
    files = clean_env(
        OUTBOUND_MASTER_KEY_FILE=str(tmp_path / "key"),
        OUTBOUND_DATABASE_URL_FILE=str(tmp_path / "url"),
        OUTBOUND_DATA_DIR=str(data_dir),
    )
    done = run_cli("init", env=files)
    assert done.returncode == 0, done.stderr
    project = json.loads(done.stdout)
    assert database.exists()  # the URL in the file named the database
    assert not (data_dir / "master.key").exists()  # a key was given: none generated

    # A token sealed by a server given the same key in the environment ...
    store = Store(data_dir, f"sqlite:///{database}", master_key=key)
    credentials = (project["projectId"], project["managementKey"])
    with running_server(store, project=credentials) as server, server.client() as client:
        client.post(
            "/v1/mgmt/outbound/app/create",
            json={"id": "a", "name": "a", "tokenUrl": "https://p.example/t"},
        ).raise_for_status()
        client.post(
            "/v1/mgmt/outbound/app/user/oauthtoken/upload",
            json={"appId": "a", "userId": "u", "accessToken": "sealed"},
        ).raise_for_status()
    # ... is current for the key read from the file (rekey opens every secret with it).
    report = json.loads(outbound_cli("rekey", env=files))
    assert report["unreadable"] == [] and report["total"] == 0
    assert report["alreadyCurrent"] >= 1  # the token, at least
    # (A different key in the file opens none of it.)
    (tmp_path / "key").write_text(base64.b64encode(os.urandom(32)).decode())
    assert run_cli("rekey", env=files).returncode != 0


def test_a_variable_and_its_file_together_are_refused_without_the_value(tmp_path: Path) -> None:
    key = base64.b64encode(os.urandom(32)).decode()
    (tmp_path / "key").write_text(key)
    env = clean_env(
        OUTBOUND_MASTER_KEY=key,
        OUTBOUND_MASTER_KEY_FILE=str(tmp_path / "key"),
        OUTBOUND_DATA_DIR=str(tmp_path / "data"),
    )
    done = run_cli("init", env=env)
    assert done.returncode != 0
    assert "set OUTBOUND_MASTER_KEY or OUTBOUND_MASTER_KEY_FILE, not both" in done.stderr
    assert key not in done.stderr + done.stdout
    assert not (tmp_path / "data").exists()


def test_a_missing_or_empty_secret_file_is_refused_clearly(tmp_path: Path) -> None:
    (tmp_path / "empty").write_text("\n")
    for path, says in ((tmp_path / "nonesuch", "cannot read"), (tmp_path / "empty", "is empty")):
        env = clean_env(OUTBOUND_MASTER_KEY_FILE=str(path), OUTBOUND_DATA_DIR=str(tmp_path / "d"))
        done = run_cli("serve", env=env)
        assert done.returncode != 0
        assert f"OUTBOUND_MASTER_KEY_FILE: {path}" in done.stderr or (
            f"OUTBOUND_MASTER_KEY_FILE: cannot read {path}" in done.stderr
        )
        assert says in done.stderr
        assert "Traceback" not in done.stderr


def test_the_secret_file_options_keep_secrets_off_the_command_line(tmp_path: Path) -> None:
    """``--master-key-file`` and ``--database-url-file`` name the files on the command line;
    the process list shows their paths, never the key or the URL."""
    key = base64.b64encode(os.urandom(32)).decode()
    database = tmp_path / "vault.db"
    (tmp_path / "key").write_text(key + "\n")
    (tmp_path / "url").write_text(f"sqlite:///{database}\n")
    args = [
        "--master-key-file",
        str(tmp_path / "key"),
        "--database-url-file",
        str(tmp_path / "url"),
    ]
    done = run_cli("init", "--data-dir", str(tmp_path / "data"), *args, env=clean_env())
    assert done.returncode == 0, done.stderr
    assert database.exists()  # the URL in the file named the database
    assert not (tmp_path / "data" / "master.key").exists()  # the key came from its file
    assert "warning" not in done.stderr
    # The same store opens with the key given any other way, and not without it.
    listed = run_cli(
        "projects",
        "create",
        "--database-url",
        f"sqlite:///{database}",
        env=clean_env(OUTBOUND_MASTER_KEY=key),
    )
    assert listed.returncode == 0, listed.stderr
    both = run_cli("projects", "create", *args, "--master-key", key, env=clean_env())
    assert both.returncode != 0
    assert "give --master-key or --master-key-file, not both" in both.stderr
    assert key not in both.stderr + both.stdout


def test_a_master_key_on_the_command_line_works_with_a_warning(tmp_path: Path) -> None:
    key = base64.b64encode(os.urandom(32)).decode()
    done = run_cli(
        "init", "--data-dir", str(tmp_path / "data"), "--master-key", key, env=clean_env()
    )
    assert done.returncode == 0, done.stderr
    assert "--master-key on the command line is visible" in done.stderr
    assert "process list" in done.stderr and "--master-key-file" in done.stderr
    assert key not in done.stderr
    quiet = run_cli(
        "projects",
        "create",
        "--data-dir",
        str(tmp_path / "data"),
        env=clean_env(OUTBOUND_MASTER_KEY=key),
    )
    assert quiet.returncode == 0, quiet.stderr
    assert "warning" not in quiet.stderr
