"""The store that settings name, opened the one way the server and the CLI both use."""

from __future__ import annotations

import asyncio

from ..crypto import load_keyring
from ..storage import Store, connect, upgrade
from ..storage.files import prepare_data_dir
from ..storage.store_keys import StoreKeyMismatch, record_keys, sealing_key_ids
from .config import Settings

__all__ = ["StoreKeyMismatch", "open_store"]


async def open_store(settings: Settings) -> Store:
    """Check the master key against the store, prepare the data dir, migrate, connect.

    The caller closes ``store.db``. Raises ``ValueError`` for a master key that cannot be used
    (none on PostgreSQL, a malformed one), and :class:`StoreKeyMismatch` when the store holds
    data sealed with none of the keys given — both before anything is written (no key file,
    no migration).
    """
    url = settings.database
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
        # created (and earlier releases' key digests converted) before the first request
        await store.keys.digest_key()
    except BaseException:
        await store.db.close()
        raise
    return store
