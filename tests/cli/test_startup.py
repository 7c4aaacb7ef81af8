"""A start that cannot succeed fails before anything is created: one line on stderr, a non-zero
exit, no traceback (unless --debug), no data dir, no database tables, no project, no key."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.support.server import free_port, postgres_database

# The master key and database URLs go in the environment, as the docs say to pass secrets
# (on the command line `serve` warns about them, which would be a second line).
KEY = {"OUTBOUND_MASTER_KEY": "A" * 43}


def _serve(
    *args: str, debug: bool = False, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "outbound", *(["--debug"] if debug else []), "serve"]
    return subprocess.run(
        [*command, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "OUTBOUND_MASTER_KEY": "", **(env or {})},
    )


def _refused(result: subprocess.CompletedProcess[str], *phrases: str) -> str:
    """The one line a failed start printed, checked for ``phrases``."""
    assert result.returncode == 1, (result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    (line,) = lines
    assert line.startswith("Error: ")
    for phrase in phrases:
        assert phrase in line, line
    return line


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def _tables(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        ).fetchall()
    return [row[0] for row in rows]


def test_a_port_in_use_is_refused_before_a_project_is_created(
    tmp_path: Path, busy_port: int
) -> None:
    data_dir = tmp_path / "fresh"

    result = _serve("--data-dir", str(data_dir), "--port", str(busy_port))

    _refused(result, f"127.0.0.1:{busy_port}", "already in use")
    # No store, so no key printed for a store nobody serves.
    assert not data_dir.exists()
    assert "management key" not in result.stderr


def test_a_port_in_use_leaves_a_postgresql_database_untouched(
    tmp_path: Path, busy_port: int
) -> None:
    with postgres_database() as url:
        result = _serve(
            "--data-dir",
            str(tmp_path / "unused"),
            "--port",
            str(busy_port),
            env={**KEY, "OUTBOUND_DATABASE_URL": url},
        )
        _refused(result, "already in use")
        assert _tables(url) == []


def test_a_metrics_port_in_use_is_refused(tmp_path: Path, busy_port: int) -> None:
    data_dir = tmp_path / "fresh"
    result = _serve(
        "--data-dir", str(data_dir), "--port", str(free_port()), "--metrics-port", str(busy_port)
    )
    _refused(result, "--metrics-port", "already in use")
    assert not data_dir.exists()


def test_an_sqlite_database_in_a_missing_directory_is_refused(tmp_path: Path) -> None:
    data_dir = tmp_path / "fresh"
    missing = tmp_path / "missing-dir"

    result = _serve(
        "--data-dir",
        str(data_dir),
        "--database-url",
        f"sqlite:///{missing}/x.db",
        "--port",
        str(free_port()),
    )

    _refused(result, str(missing), "does not exist")
    assert not missing.exists()
    assert not data_dir.exists()


def test_a_data_dir_that_is_a_file_is_refused(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")

    result = _serve("--data-dir", str(not_a_dir / "data"), "--port", str(free_port()))

    _refused(result, "--data-dir", "not a directory")
    assert list(tmp_path.iterdir()) == [not_a_dir]


# A directory that no user may write in, root included (permission bits do not stop root).
_UNWRITABLE = Path("/sys/kernel")


@pytest.mark.skipif(not _UNWRITABLE.is_dir(), reason="needs sysfs")
def test_an_unwritable_data_dir_is_refused(tmp_path: Path) -> None:
    result = _serve("--data-dir", str(_UNWRITABLE), "--port", str(free_port()))
    _refused(result, "--data-dir", str(_UNWRITABLE), "not writable")
    assert not (_UNWRITABLE / "outbound.db").exists()

    below = _UNWRITABLE / "outbound-test" / "data"
    result = _serve("--data-dir", str(below), "--port", str(free_port()))
    _refused(result, "--data-dir", str(below), "cannot be created")


@pytest.mark.parametrize(
    "public_url", ["vault.example.com", "ftp://vault.example.com", "https://", "/relative"]
)
def test_a_public_url_must_be_absolute_http(tmp_path: Path, public_url: str) -> None:
    data_dir = tmp_path / "fresh"

    result = _serve(
        "--data-dir", str(data_dir), "--port", str(free_port()), "--public-url", public_url
    )

    _refused(result, "--public-url", "absolute http(s) URL", repr(public_url))
    assert not data_dir.exists()


def test_a_malformed_database_url_is_refused(tmp_path: Path) -> None:
    data_dir = tmp_path / "fresh"
    result = _serve(
        "--data-dir",
        str(data_dir),
        "--database-url",
        "mysql://db.example.com/vault",
        "--port",
        str(free_port()),
    )
    _refused(result, "unsupported database URL scheme")
    assert not data_dir.exists()


def test_an_unreachable_postgresql_is_retried_then_named(tmp_path: Path) -> None:
    data_dir = tmp_path / "fresh"
    closed = free_port()  # nothing listens there

    result = _serve(
        "--data-dir",
        str(data_dir),
        "--database-wait",
        "1.5",
        "--port",
        str(free_port()),
        env={
            **KEY,
            "OUTBOUND_DATABASE_URL": f"postgresql://vault:s3cret-password@127.0.0.1:{closed}/vault",
        },
    )

    line = _refused(
        result,
        f"cannot reach PostgreSQL at 127.0.0.1:{closed}",
        "after trying for 1.5 s",
        "Connection refused",
    )
    assert "s3cret-password" not in line
    assert not data_dir.exists()


def test_a_postgresql_that_refuses_for_good_is_named_at_once(tmp_path: Path) -> None:
    """The server answered (no such database): waiting would not change that."""
    with postgres_database() as url:
        missing = url.rsplit("/", 1)[0] + "/outbound_no_such_database"
        result = _serve(
            "--data-dir",
            str(tmp_path / "fresh"),
            "--port",
            str(free_port()),
            env={**KEY, "OUTBOUND_DATABASE_URL": missing},
        )
    line = _refused(result, "cannot reach PostgreSQL at", "outbound_no_such_database")
    assert "after trying" not in line


def test_debug_prints_the_traceback_of_an_unexpected_error(tmp_path: Path) -> None:
    """An error no check foresaw is one line too; --debug shows where it came from. (An
    SQLite database file that is not one: found only when the store is opened.)"""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "outbound.db").write_bytes(b"this is not an SQLite database" * 100)
    args = ("--data-dir", str(data_dir), "--port", str(free_port()))

    line = _refused(_serve(*args), "not a database", "--debug")
    assert "Traceback" not in line

    debugged = _serve(*args, debug=True)
    assert debugged.returncode != 0
    assert "Traceback (most recent call last)" in debugged.stderr
    assert not (data_dir / "master.key").exists()
