"""Finish a master-key rotation: re-seal every secret still sealed with an older key.

Rotation has two steps. Put the new key first (``OUTBOUND_MASTER_KEY=new,old``) and restart:
new writes use it, old values still open. Then ``outbound rekey`` re-seals the old values
with the new key, after which the old key can be dropped from the list.

Rows are re-sealed one at a time with a conditional ``UPDATE`` (the column must still hold
the very ciphertext that was read), so a server refreshing a token meanwhile never has its
new token overwritten by the old one re-sealed; such a row is simply already current.

Each row commits on its own, so a rekey that is killed leaves every row sealed with one key
or the other — all still readable with the key list — and running it again finishes the job.
A value that opens with no key of the list (the wrong keys, or tampered bytes) is skipped and
named in ``unreadable`` (table, column, row id), so the rest of the store is still re-sealed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..crypto import DecryptionError, aad
from .codec import client_secret_aad, token_aad
from .store import Store

__all__ = ["RekeyReport", "rekey"]

_TOKEN_COLUMNS = ("access_token", "refresh_token", "id_token")


@dataclass
class RekeyReport:
    resealed: dict[str, int] = field(default_factory=dict)
    already_current: int = 0
    # "table.column id" of every value no key opens
    unreadable: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return {
            "resealed": self.resealed,
            "total": sum(self.resealed.values()),
            "alreadyCurrent": self.already_current,
            "unreadable": self.unreadable,
        }


async def rekey(store: Store) -> RekeyReport:
    keyring = store.codec.keyring
    report = RekeyReport()

    async def reseal(
        table: str, column: str, where: str, keys: dict[str, str], blob: bytes, ad: bytes
    ) -> None:
        if keyring.is_current(blob):
            report.already_current += 1
            return
        try:
            plain = keyring.open(blob, ad)
        except DecryptionError:
            report.unreadable.append(f"{table}.{column} {'/'.join(keys.values())}")
            return
        fresh = keyring.seal(plain, ad)
        async with store.db.transaction() as tx:
            count = await tx.execute(
                f"UPDATE {table} SET {column} = :fresh WHERE {where} AND {column} = :old",  # noqa: S608 - names are ours
                {**keys, "fresh": fresh, "old": blob},
            )
        if count:
            report.resealed[f"{table}.{column}"] = report.resealed.get(f"{table}.{column}", 0) + 1

    for row in await store.db.fetchall(
        "SELECT id, project_id, app_id, user_id, tenant_id, external_identifier,"
        " access_token, refresh_token, id_token FROM tokens"
    ):
        for column in _TOKEN_COLUMNS:
            if row[column] is None:
                continue
            ad = token_aad(
                row["project_id"],
                row["app_id"],
                row["user_id"],
                row["tenant_id"],
                row["external_identifier"],
                column,
            )
            await reseal("tokens", column, "id = :id", {"id": row["id"]}, bytes(row[column]), ad)

    for row in await store.db.fetchall(
        "SELECT project_id, id, client_secret FROM apps WHERE client_secret IS NOT NULL"
    ):
        await reseal(
            "apps",
            "client_secret",
            "project_id = :project_id AND id = :id",
            {"project_id": row["project_id"], "id": row["id"]},
            bytes(row["client_secret"]),
            client_secret_aad(row["project_id"], row["id"]),
        )

    for row in await store.db.fetchall(
        "SELECT link_hash, code_verifier FROM connect_sessions WHERE code_verifier IS NOT NULL"
    ):
        await reseal(
            "connect_sessions",
            "code_verifier",
            "link_hash = :link_hash",
            {"link_hash": row["link_hash"]},
            bytes(row["code_verifier"]),
            aad("connect_sessions", row["link_hash"], "code_verifier"),
        )
    return report
