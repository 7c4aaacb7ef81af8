"""``outbound migrate`` and ``outbound check``, as a deploy pipeline runs them before ``serve``:
check writes nothing and its exit code says whether serve would start (0), a setting or the
store's place is wrong (1), or the master key opens none of the store (2); migrate applies the
migrations alone."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.support.server import free_port, postgres_database


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OUTBOUND_")}
    return subprocess.run(
        [sys.executable, "-m", "outbound", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**clean, **(env or {})},
    )


def _key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def _ok(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert result.returncode == 0, result.stderr
    (line,) = result.stdout.splitlines()
    answer: dict[str, Any] = json.loads(line)
    return answer


def _failed(result: subprocess.CompletedProcess[str], code: int, *phrases: str) -> None:
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("Error: ")
    for phrase in phrases:
        assert phrase in line, line


def test_check_writes_nothing_and_migrate_migrates_alone(tmp_path: Path) -> None:
    data = tmp_path / "data"
    args = ("--data-dir", str(data))

    fresh = _ok(_cli("check", *args))
    assert fresh["store"] == "new"
    assert fresh["migrations"] == "pending"
    assert not data.exists()  # checked, not created

    migrated = _ok(_cli("migrate", *args))
    assert migrated["revisionBefore"] is None
    assert migrated["revision"]
    assert (data / "outbound.db").exists()
    assert not (data / "master.key").exists()  # migrations need no key
    assert _ok(_cli("migrate", *args))["revisionBefore"] == migrated["revision"]

    current = _ok(_cli("check", *args))
    assert current["migrations"] == "current"
    assert current["masterKey"].startswith("none yet")

    created = json.loads(_cli("init", *args).stdout)
    assert created["projectId"]
    sealed = _ok(_cli("check", *args))
    assert sealed["store"] == "has data"
    assert sealed["masterKey"] == "opens the store"
    assert sealed["keyIds"]


def test_check_says_when_the_key_opens_none_of_the_store(tmp_path: Path) -> None:
    data = tmp_path / "data"
    key = _key()
    assert _cli("init", "--data-dir", str(data), env={"OUTBOUND_MASTER_KEY": key}).returncode == 0

    _failed(
        _cli("check", "--data-dir", str(data), env={"OUTBOUND_MASTER_KEY": _key()}),
        2,
        "this store was sealed with master key id",
    )
    # No key at all beside the data (a restore without master.key): 2, and no key file made.
    _failed(_cli("check", "--data-dir", str(data)), 2, "master.key")
    assert not (data / "master.key").exists()
    # The old key next to the new one (a rotation in progress) opens it.
    both = f"{_key()},{key}"
    assert _ok(_cli("check", "--data-dir", str(data), env={"OUTBOUND_MASTER_KEY": both}))


def test_check_fails_with_1_for_settings_and_an_unreachable_database(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _failed(
        _cli("check", "--data-dir", str(data), "--public-url", "vault.example.com"),
        1,
        "--public-url",
    )
    _failed(
        _cli("check", "--data-dir", str(data), env={"OUTBOUND_PUBLIC_URL": "ftp://x"}),
        1,
        "--public-url",
    )
    closed = free_port()
    _failed(
        _cli(
            "check",
            "--database-url",
            f"postgresql://postgres@127.0.0.1:{closed}/x",
            "--database-wait",
            "0.5",
            env={"OUTBOUND_MASTER_KEY": _key()},
        ),
        1,
        f"cannot reach PostgreSQL at 127.0.0.1:{closed}",
    )
    _failed(
        _cli("migrate", "--database-url", f"sqlite:///{tmp_path}/missing/x.db"),
        1,
        "does not exist",
    )
    assert not data.exists()


def test_check_and_migrate_on_postgresql(tmp_path: Path) -> None:
    key = _key()
    with postgres_database() as url:
        env = {"OUTBOUND_MASTER_KEY": key, "OUTBOUND_DATABASE_URL": url}
        assert _ok(_cli("check", env=env))["migrations"] == "pending"
        assert _ok(_cli("migrate", env={"OUTBOUND_DATABASE_URL": url}))["revisionBefore"] is None
        assert _cli("init", env=env).returncode == 0
        assert _ok(_cli("check", env=env))["masterKey"] == "opens the store"
        _failed(_cli("check", env={**env, "OUTBOUND_MASTER_KEY": _key()}), 2, "sealed with")
    assert not (tmp_path / "master.key").exists()
