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
from pathlib import Path

from .urls import DatabaseURL

__all__ = ["prepare_data_dir"]

logger = logging.getLogger("outbound.storage")

DIR_MODE = 0o700
FILE_MODE = 0o600


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
