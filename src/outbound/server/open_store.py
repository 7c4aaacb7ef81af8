"""The store that settings name, opened the one way the server and the CLI both use; and
the checks that come first, which ``outbound check`` runs alone."""

from __future__ import annotations

import asyncio
from pathlib import Path

from ..crypto import Keyring, load_keyring
from ..storage import Store, connect, upgrade
from ..storage.files import check_data_dir, prepare_data_dir
from ..storage.reach import wait_for_database
from ..storage.store_keys import StoreKeyMismatch, record_keys, sealing_key_ids
from ..storage.token_versions import seal_tokens_with_their_version
from .config import Settings

__all__ = ["StoreKeyMismatch", "existing_keyring", "open_store", "preflight", "reach_store"]


def _key_dir(settings: Settings) -> Path | None:
    # A key file serves the embedded default only: servers sharing PostgreSQL may run on
    # several machines, and each would generate a key of its own.
    return None if settings.database.is_postgres else settings.data_dir


async def reach_store(settings: Settings) -> None:
    """The settings are valid and the store's place can be used: the data dir or SQLite
    directory writable, PostgreSQL reachable (within ``database_wait``). ``ValueError``, one
    line, otherwise. Writes nothing."""
    settings.check()
    url = settings.database
    if url.is_postgres:
        await wait_for_database(url, settings.database_wait)
    else:
        check_data_dir(settings.data_dir, url)


async def preflight(settings: Settings) -> tuple[bool, set[str]]:
    """:func:`reach_store`, then whether the store holds data and the master-key ids that
    sealed it; :class:`StoreKeyMismatch` for a store with data and no key at all (a restored
    database without its key file). Writes nothing."""
    await reach_store(settings)
    has_data, needed = await asyncio.to_thread(sealing_key_ids, settings.database)
    key_dir = _key_dir(settings)
    if (
        has_data
        and not settings.master_key
        and key_dir is not None
        and not (key_dir / "master.key").exists()
    ):
        # A restored database without its key: a new key file would open none of it.
        raise StoreKeyMismatch(needed, None, key_dir)
    return has_data, needed


def existing_keyring(settings: Settings) -> Keyring | None:
    """The master key(s) the settings name — the setting, else the data dir's key file —
    without generating one (None: there is none yet). ``ValueError`` for a malformed key,
    or none on PostgreSQL."""
    key_dir = _key_dir(settings)
    if not settings.master_key and key_dir is not None and not (key_dir / "master.key").exists():
        return None
    return load_keyring(settings.master_key or None, key_dir)


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
    _, needed = await preflight(settings)
    url = settings.database
    key_dir = _key_dir(settings)
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
        # earlier releases' token rows re-sealed with their version, once, before any read
        await seal_tokens_with_their_version(store.db, keyring)
    except BaseException:
        await store.db.close()
        raise
    return store
