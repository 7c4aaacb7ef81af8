"""The store that settings name, opened the one way the server and the CLI both use."""

from __future__ import annotations

import asyncio

from ..crypto import load_keyring
from ..storage import Store, connect, upgrade
from ..storage.files import check_data_dir, prepare_data_dir
from ..storage.reach import wait_for_database
from ..storage.store_keys import StoreKeyMismatch, record_keys, sealing_key_ids
from .config import Settings

__all__ = ["StoreKeyMismatch", "open_store"]


async def open_store(settings: Settings) -> Store:
    """Check where the store is and the master key against it, prepare the data dir, migrate,
    connect.

    The caller closes ``store.db``. Raises, before anything is written (no data dir, no key
    file, no migration): ``ValueError`` (one line) for settings that cannot work — a data dir
    or SQLite directory that cannot be written, a PostgreSQL database that stays unreachable
    for ``database_wait`` seconds, a master key that cannot be used (none on PostgreSQL, a
    malformed one) — and :class:`StoreKeyMismatch` when the store holds data sealed with none
    of the keys given.
    """
    settings.check()
    url = settings.database
    if url.is_postgres:
        await wait_for_database(url, settings.database_wait)
    else:
        check_data_dir(settings.data_dir, url)
    # A key file serves the embedded default only: servers sharing PostgreSQL may run on
    # several machines, and each would generate a key of its own.
    key_dir = None if url.is_postgres else settings.data_dir
    has_data, needed = await asyncio.to_thread(sealing_key_ids, url)
    if (
        has_data
        and not settings.master_key
        and key_dir is not None
        and not (key_dir / "master.key").exists()
    ):
        # A restored database without its key: a new key file would open none of it.
        raise StoreKeyMismatch(needed, None, key_dir)
    if not url.is_postgres:
        prepare_data_dir(settings.data_dir, url)
    # a key file is generated here only for a store with no data
    keyring = load_keyring(settings.master_key or None, key_dir)
    if needed and not needed & set(keyring.key_ids):
        raise StoreKeyMismatch(needed, keyring.key_ids, key_dir)
    await asyncio.to_thread(upgrade, url)
    store = Store(await connect(url), keyring)
    try:
        await record_keys(store.db, keyring)
    except BaseException:
        await store.db.close()
        raise
    return store
