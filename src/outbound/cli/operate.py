"""``outbound migrate`` and ``outbound check``: what a deploy pipeline runs before ``serve``.

``migrate`` applies the migrations alone (the servers then start on a current store).
``check`` writes nothing and answers whether ``serve`` with the same settings would start:

====  ==========================================================================
exit  meaning
====  ==========================================================================
0     the settings are valid, the store is reachable, the master key opens it
1     a setting is invalid, or the data dir / SQLite directory cannot be written,
      or PostgreSQL cannot be reached (within ``--database-wait``)
2     the master key setting holds none of the keys the store was sealed with
====  ==========================================================================

Each prints one JSON line on success, one ``Error: …`` line otherwise (docs/operations.md).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import click

from .serve import server_settings
from .store import WrongKeyError, settings_from, store_options

__all__ = ["check", "migrate"]


@click.command()
@store_options
def migrate(**options: Any) -> None:
    """Apply the store's migrations and exit (no server; the master key is not needed).

    Prints one JSON line: {"revisionBefore": …, "revision": …} (revisionBefore null: the
    store was new).
    """
    from ..server.open_store import reach_store
    from ..storage import upgrade
    from ..storage.files import prepare_data_dir
    from ..storage.migrate import revisions

    settings = settings_from(**options)
    try:
        asyncio.run(reach_store(settings))
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    url = settings.database
    if not url.is_postgres:
        prepare_data_dir(settings.data_dir, url)
    before = upgrade(url)
    _, head = revisions(url)
    click.echo(json.dumps({"revisionBefore": before, "revision": head}))


@click.command()
@server_settings
def check(**options: Any) -> None:
    """Check the settings, that the database is reachable and that the master key opens the
    store, writing nothing. Exit 0 when `serve` would start, 1 for a setting or an unreachable
    store, 2 for a master key that opens none of the store.

    Prints one JSON line: {"database", "store": "new"|"has data", "keyIds", "masterKey",
    "migrations": "current"|"pending"}.
    """
    from ..server.open_store import StoreKeyMismatch, existing_keyring, preflight
    from ..storage.migrate import revisions

    settings = settings_from(**options)
    try:
        has_data, needed = asyncio.run(preflight(settings))
        keyring = existing_keyring(settings)
    except StoreKeyMismatch as exc:
        raise WrongKeyError(str(exc)) from None
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    key_dir = None if settings.database.is_postgres else settings.data_dir
    if keyring is not None and needed and not needed & set(keyring.key_ids):
        raise WrongKeyError(str(StoreKeyMismatch(needed, keyring.key_ids, key_dir)))
    current, head = revisions(settings.database)
    if keyring is None:
        master_key = "none yet: the first start generates the key file"
    else:
        master_key = "opens the store" if needed else "set"
    click.echo(
        json.dumps(
            {
                "database": str(settings.database),
                "store": "has data" if has_data else "new",
                "keyIds": sorted(needed),
                "masterKey": master_key,
                "migrations": "current" if current == head else "pending",
            }
        )
    )
