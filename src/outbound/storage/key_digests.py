"""Management key digests: keyed, and bound to the project and the key id.

A key's row keeps ``HMAC-SHA256(K, "obk1" | project id | key id | SHA-256(secret))``. ``K`` is
a secret of the store: derived from the master key that was first when the store first needed
it, and kept sealed in ``store_secrets`` (a registered sealed column, so ``outbound rekey``
re-seals it and it outlives a rotation). Without the master key a database-write attacker
cannot compute a digest that any secret matches — so cannot insert a working key — and a row
moved to another project or key id does not match there either.

Rows written by earlier releases hold the plain SHA-256 of the secret (``digest_kind`` 0). They
are converted once, in the transaction that creates ``K`` — the conversion needs only the
SHA-256 they hold — and from then on a row of kind 0 is never accepted nor converted, so
inserting one later gains nothing.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any, Protocol

from ..crypto import Keyring
from .codec import now
from .sealed import STORE_SECRET_VALUE

__all__ = ["KEYED", "digest", "load_digest_key"]

# management_keys.digest_kind of a keyed digest
KEYED = 1
_NAME = "key_digest"


class _Writer(Protocol):
    async def execute(self, sql: str, params: Any = None) -> int: ...
    async def fetchone(self, sql: str, params: Any = None) -> Any: ...
    async def fetchall(self, sql: str, params: Any = None) -> Any: ...


def _keyed(key: bytes, project_id: str, key_id: str, inner: bytes) -> bytes:
    message = b"\x1f".join((b"obk1", project_id.encode(), key_id.encode(), inner))
    return hmac.new(key, message, hashlib.sha256).digest()


def digest(key: bytes, project_id: str, key_id: str, secret: str) -> bytes:
    """The stored digest of the management key ``key_id`` of ``project_id`` with ``secret``."""
    return _keyed(key, project_id, key_id, hashlib.sha256(secret.encode()).digest())


async def load_digest_key(tx: _Writer, keyring: Keyring) -> bytes:
    """The store's digest key ``K``, created (and earlier releases' digests converted) on
    first use; ``tx`` is a write transaction."""
    ad = STORE_SECRET_VALUE.aad(_NAME)
    row = await tx.fetchone("SELECT value FROM store_secrets WHERE name = :name", {"name": _NAME})
    if row is None:
        key = keyring.derive("management key digest")
        created = await tx.execute(
            "INSERT INTO store_secrets (name, value, created_at) VALUES (:name, :value, :now)"
            " ON CONFLICT (name) DO NOTHING",
            {"name": _NAME, "value": keyring.seal(key.hex(), ad), "now": now()},
        )
        if created:
            await _convert(tx, key)
            return key
        row = await tx.fetchone(
            "SELECT value FROM store_secrets WHERE name = :name", {"name": _NAME}
        )
        assert row is not None
    return bytes.fromhex(keyring.open(bytes(row["value"]), ad))


async def _convert(tx: _Writer, key: bytes) -> None:
    rows = await tx.fetchall(
        "SELECT id, project_id, digest FROM management_keys WHERE digest_kind <> :keyed",
        {"keyed": KEYED},
    )
    for row in rows:
        await tx.execute(
            "UPDATE management_keys SET digest = :digest, digest_kind = :keyed WHERE id = :id",
            {
                "digest": _keyed(key, row["project_id"], row["id"], bytes(row["digest"])),
                "keyed": KEYED,
                "id": row["id"],
            },
        )
