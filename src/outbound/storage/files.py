"""The data dir on disk: private to the user the server runs as.

The SQLite database holds sealed secrets and the key file the key that opens them: neither is
any business of other users of the machine. SQLite creates its ``-wal`` and ``-shm`` files
with the mode of the database file, so a database created 0600 keeps its companions 0600.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import tempfile
from pathlib import Path

from .urls import DatabaseURL

__all__ = ["check_data_dir", "prepare_data_dir"]

logger = logging.getLogger("outbound.storage")

DIR_MODE = 0o700
FILE_MODE = 0o600


def check_data_dir(data_dir: Path, url: DatabaseURL) -> None:
    """ValueError, one line, when the store's files could not be written: a data dir that is
    not a directory or cannot be created, an SQLite database in a directory that does not
    exist, or a directory this user cannot write. Creates nothing, so that a start that fails
    leaves no half-made store behind."""
    _check_writable_dir(data_dir, "the data dir (--data-dir)", create=True)
    path = url.sqlite_path
    if path is not None and path.parent != data_dir.resolve():
        _check_writable_dir(path.parent, "the SQLite database's directory", create=False)
    if path is not None and path.is_dir():
        raise ValueError(f"the SQLite database {path} is a directory")


def _check_writable_dir(directory: Path, what: str, *, create: bool) -> None:
    if directory.exists():
        if not directory.is_dir():
            raise ValueError(f"{what} {directory} exists and is not a directory")
        _probe(directory, what)
        return
    if not create:
        raise ValueError(f"{what} {directory} does not exist; create it first")
    # Created on the first start, with any missing parents: the nearest one that exists must
    # be a directory this user can write in.
    parent = directory.absolute().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise ValueError(f"{what} {directory} cannot be created: {parent} is not a directory")
    _probe(parent, f"{what} {directory} cannot be created:")


def _probe(directory: Path, what: str) -> None:
    """Write and remove a file: the only test of writability that holds for root too (which
    permission bits do not stop, but read-only file systems do)."""
    try:
        fd, name = tempfile.mkstemp(prefix=".outbound-probe-", dir=directory)
    except OSError as exc:
        label = what if what.endswith(":") else f"{what} {directory} is not writable:"
        raise ValueError(f"{label} {exc.strerror or exc}") from None
    os.close(fd)
    os.unlink(name)


def _tighten(data_dir: Path) -> None:
    """Take group and other access away from an existing data dir (made by hand, by an older
    version, or by a backup restore), saying so: the operator may have meant to share it."""
    mode = stat.S_IMODE(data_dir.stat().st_mode)
    if not mode & 0o077:
        return
    try:
        os.chmod(data_dir, DIR_MODE)
    except PermissionError:
        raise ValueError(
            f"the data dir {str(data_dir)!r} is readable by other users (mode {mode:04o}) and"
            f" cannot be made private: run chmod 700 {str(data_dir)!r} as its owner"
        ) from None
    logger.warning(
        "data dir %s was mode %04o (other users could list or read it); set to 0700",
        data_dir,
        mode,
    )


def prepare_data_dir(data_dir: Path, url: DatabaseURL) -> None:
    """Create ``data_dir`` (0700) and the SQLite database file (0600) before SQLite does, and
    take group and other access away from an existing data dir and from database files an
    older version created."""
    if not data_dir.exists():
        data_dir.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        os.chmod(data_dir, DIR_MODE)  # mkdir's mode is filtered by the umask; be exact
    else:
        _tighten(data_dir)
    path = url.sqlite_path
    if path is None:
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE)
    os.close(fd)
    for file in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), data_dir / "master.key"):
        with contextlib.suppress(FileNotFoundError, PermissionError):
            if file.stat().st_mode & 0o077:
                os.chmod(file, FILE_MODE)
