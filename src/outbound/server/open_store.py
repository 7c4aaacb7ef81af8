"""The store that settings name, opened the one way the server and the CLI both use."""

from __future__ import annotations

import asyncio

from ..crypto import load_keyring
from ..storage import Store, connect, upgrade
from ..storage.files import check_data_dir, prepare_data_dir
from ..storage.reach import wait_for_database
from .config import Settings

__all__ = ["open_store"]


async def open_store(settings: Settings) -> Store:
    """Check where the store is, prepare the data dir, migrate, load the master key(s) and
    connect.

    The caller closes ``store.db``. Raises ``ValueError`` (one line) before anything is
    created for settings that cannot work: a data dir or SQLite directory that cannot be
    written, a PostgreSQL database that stays unreachable for ``database_wait`` seconds; and,
    before connecting, for a master key that cannot be used (none on PostgreSQL, a malformed
    one).
    """
    settings.check()
    url = settings.database
    if url.is_postgres:
        await wait_for_database(url, settings.database_wait)
    else:
        check_data_dir(settings.data_dir, url)
        prepare_data_dir(settings.data_dir, url)
    await asyncio.to_thread(upgrade, url)
    # A key file serves the embedded default only: servers sharing PostgreSQL may run on
    # several machines, and each would generate a key of its own.
    key_dir = None if url.is_postgres else settings.data_dir
    keyring = load_keyring(settings.master_key or None, key_dir)
    return Store(await connect(url), keyring)
