"""Finish a master-key rotation: re-seal every secret still sealed with an older key.

Rotation has two steps. Put the new key first (``OUTBOUND_MASTER_KEY=new,old``) and restart:
new writes use it, old values still open. Then ``outbound rekey`` re-seals the old values
with the new key, after which the old key can be dropped from the list.

Every sealed column comes from the registry (``sealed.py``): tokens, client secrets, connect
sessions, webhook signing secrets (current and previous), the clients ``useDcr`` apps
registered, and the store's own key record (which carries the audit chain's MAC keys past the
rotation, ``store_keys.py``).

Rows are re-sealed one at a time with a conditional ``UPDATE`` (the column must still hold
the very ciphertext that was read), so a server refreshing a token meanwhile never has its
new token overwritten by the old one re-sealed; such a row is simply already current.

Each row commits on its own, so a rekey that is killed leaves every row sealed with one key
or the other — all still readable with the key list — and running it again finishes the job.
A value that opens with no key of the list (the wrong keys, or tampered bytes) is skipped and
named in ``unreadable`` (table.column and the row's key), so the rest of the store is still
re-sealed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..crypto import DecryptionError
from .sealed import SEALED_COLUMNS, SealedColumn
from .store import Store
from .store_keys import record_keys

__all__ = ["RekeyReport", "rekey"]

# rows read per query: a store's tokens are not all held in memory at once
_PAGE = 1000


@dataclass
class RekeyReport:
    resealed: dict[str, int] = field(default_factory=dict)
    already_current: int = 0
    # "table.column row-key" of every value no key opens
    unreadable: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return {
            "resealed": self.resealed,
            "total": sum(self.resealed.values()),
            "alreadyCurrent": self.already_current,
            "unreadable": self.unreadable,
        }


async def rekey(store: Store) -> RekeyReport:
    report = RekeyReport()
    # the key record first: each key present is recorded (and so its audit MAC key kept)
    await record_keys(store.db, store.keyring)
    for column in SEALED_COLUMNS:
        await _rekey_column(store, column, report)
    return report


async def _rekey_column(store: Store, column: SealedColumn, report: RekeyReport) -> None:
    keyring = store.keyring
    names = list(dict.fromkeys((*column.key, *column.identity)))
    key_match = " AND ".join(f"{name} = :k_{name}" for name in column.key)
    after = ""
    params: dict[str, Any] = {}
    while True:
        rows = await store.db.fetchall(
            f"SELECT {', '.join(names)}, {column.column} AS sealed FROM {column.table}"  # noqa: S608 - names are ours
            f" WHERE {column.column} IS NOT NULL{after}"
            f" ORDER BY {', '.join(column.key)} LIMIT {_PAGE}",
            params,
        )
        for row in rows:
            blob = bytes(row["sealed"])
            if keyring.is_current(blob):
                report.already_current += 1
                continue
            ad = column.aad_of(row)
            try:
                plain = keyring.open(blob, ad)
            except DecryptionError:
                report.unreadable.append(
                    f"{column.name} {'/'.join(str(row[name]) for name in column.key)}"
                )
                continue
            async with store.db.transaction() as tx:
                count = await tx.execute(
                    f"UPDATE {column.table} SET {column.column} = :fresh"  # noqa: S608 - ours
                    f" WHERE {key_match} AND {column.column} = :old",
                    {
                        **{f"k_{name}": row[name] for name in column.key},
                        "fresh": keyring.seal(plain, ad),
                        "old": blob,
                    },
                )
            if count:
                report.resealed[column.name] = report.resealed.get(column.name, 0) + 1
        if len(rows) < _PAGE:
            return
        # keyset paging on the primary key: rows re-sealed meanwhile do not shift the pages
        last = rows[-1]
        placeholders = ", ".join(f":a_{name}" for name in column.key)
        after = f" AND ({', '.join(column.key)}) > ({placeholders})"
        params = {f"a_{name}": last[name] for name in column.key}
