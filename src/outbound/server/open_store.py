"""The store that settings name, opened the one way the server and the CLI both use."""

from __future__ import annotations

import asyncio

from ..crypto import load_keyring
from ..storage import Store, connect, upgrade
from ..storage.files import prepare_data_dir
from .config import Settings

__all__ = ["open_store"]


async def open_store(settings: Settings) -> Store:
    """Prepare the data dir, migrate, load the master key(s) and connect.

    The caller closes ``store.db``. Raises ``ValueError`` for a master key that cannot be used
    (none on PostgreSQL, a malformed one), before connecting.
    """
    url = settings.database
    if not url.is_postgres:
        prepare_data_dir(settings.data_dir, url)
    await asyncio.to_thread(upgrade, url)
    # A key file serves the embedded default only: servers sharing PostgreSQL may run on
    # several machines, and each would generate a key of its own.
    key_dir = None if url.is_postgres else settings.data_dir
    keyring = load_keyring(settings.master_key or None, key_dir)
    return Store(await connect(url), keyring)
