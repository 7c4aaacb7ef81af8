"""Which master keys sealed a store, and what must outlive each of them.

Every master key a server opens the store with gets a row named by its key id. The row keeps
the secrets derived from that key that are needed after the key itself is dropped — the audit
chain's MAC key (events linked with it must still verify after a rotation) — sealed like every
other secret: with the primary key, and re-sealed by ``outbound rekey`` (it is in the registry,
``sealed.py``). A database-write attacker cannot add a row that opens.

Before a store is opened (and before anything is written to it, migrations and a new key file
included), :func:`sealing_key_ids` reads which key ids its sealed values name — readable
without any key — so a server given the wrong key, or none beside a restored database, refuses
to start and names the key id it needs, instead of generating a key and answering E131013 for
every secret.
"""

from __future__ import annotations

import base64

import orjson
from sqlalchemy import create_engine, inspect, text

from ..crypto import DecryptionError, Keyring
from .codec import now
from .database import Database
from .errors import StoreKeyMismatch
from .sealed import SEALED_COLUMNS, STORE_KEY_SECRETS
from .urls import DatabaseURL

__all__ = ["StoreKeyMismatch", "escrowed_mac_keys", "record_keys", "sealing_key_ids"]


def sealing_key_ids(url: DatabaseURL) -> tuple[bool, set[str]]:
    """Whether the store holds any data, and the ids of the master keys its sealed values
    name. Reads only: a missing SQLite file is not created, no table is."""
    if not url.is_postgres and (url.sqlite_path is None or not url.sqlite_path.exists()):
        return False, set()
    engine = create_engine(url.sqlalchemy)
    try:
        with engine.connect() as conn:
            tables = set(inspect(conn).get_table_names())
            if "projects" not in tables:
                return False, set()
            has_data = conn.execute(text("SELECT 1 FROM projects LIMIT 1")).first() is not None
            ids: set[str] = set()
            if "store_keys" in tables:
                for (blob,) in conn.execute(text("SELECT secrets FROM store_keys")):
                    ids.add(Keyring.sealed_by(blob))
            if not ids:
                # A store written before the keys were recorded: a sample of its sealed values
                # and the audit chain's key ids say the same.
                inspector = inspect(conn)
                for column in SEALED_COLUMNS:
                    if column.table not in tables or column.table == "store_keys":
                        continue
                    # a store from before the column's migration (this runs before migrating)
                    names = {c["name"] for c in inspector.get_columns(column.table)}
                    if column.column not in names:
                        continue
                    row = conn.execute(
                        text(
                            f"SELECT {column.column} FROM {column.table}"  # noqa: S608 - ours
                            f" WHERE {column.column} IS NOT NULL LIMIT 1"
                        )
                    ).first()
                    if row is not None:
                        ids.add(Keyring.sealed_by(row[0]))
                if "audit_heads" in tables:
                    for (key_id,) in conn.execute(
                        text("SELECT DISTINCT key_id FROM audit_heads WHERE key_id <> ''")
                    ):
                        ids.add(key_id)
        return has_data or bool(ids), ids
    finally:
        engine.dispose()


def _secrets(keyring: Keyring, key_id: str) -> str:
    found = keyring.mac_key(key_id)
    assert found is not None
    return orjson.dumps({"auditMac": base64.b64encode(found[1]).decode()}).decode()


async def record_keys(db: Database, keyring: Keyring) -> None:
    """Record every key of ``keyring`` the store does not know yet (sealed with the primary)."""
    rows = await db.fetchall("SELECT key_id FROM store_keys")
    known = {row["key_id"] for row in rows}
    missing = [key_id for key_id in keyring.key_ids if key_id not in known]
    if not missing:
        return
    async with db.transaction() as tx:
        for key_id in missing:
            await tx.execute(
                "INSERT INTO store_keys (key_id, secrets, created_at) VALUES (:key_id,"
                " :secrets, :now) ON CONFLICT (key_id) DO NOTHING",
                {
                    "key_id": key_id,
                    "secrets": keyring.seal(
                        _secrets(keyring, key_id), STORE_KEY_SECRETS.aad(key_id)
                    ),
                    "now": now(),
                },
            )


async def escrowed_mac_keys(db: Database, keyring: Keyring) -> dict[str, bytes]:
    """The audit MAC keys of every master key the store recorded whose row opens with
    ``keyring``: those of keys since dropped included."""
    found: dict[str, bytes] = {}
    for row in await db.fetchall("SELECT key_id, secrets FROM store_keys"):
        try:
            opened = keyring.open(bytes(row["secrets"]), STORE_KEY_SECRETS.aad(row["key_id"]))
        except DecryptionError:
            continue
        found[row["key_id"]] = base64.b64decode(orjson.loads(opened)["auditMac"])
    return found
