"""Token rows sealed by earlier releases, re-sealed once with their version in the associated
data (issue 25, item 20).

Earlier releases sealed a token row's secrets for ``tokens, <owner…>, column``: the row, not
its version, so someone who could write the database could put an older sealed value of a cell
back (an access or refresh token from before a refresh, from a backup) and it opened. Now the
version is part of the associated data (``sealed.py``). The re-seal needs the master key, which
migrations run without (``outbound migrate``), so it runs at the first start of this release,
in one transaction with the marker that says it ran: every token row whose secrets open with
the old associated data is re-sealed for the row as it is, version included. Once the marker
exists the old form is never converted again, so putting back a value of an earlier release
later gains nothing.
"""

from __future__ import annotations

import logging
from typing import Any

from ..crypto import DecryptionError, Keyring, aad
from .codec import now
from .database import Database
from .sealed import STORE_SECRET_VALUE, TOKEN_ACCESS, TOKEN_ID, TOKEN_REFRESH

__all__ = ["MARKER", "legacy_token_aad", "seal_tokens_with_their_version"]

logger = logging.getLogger("outbound.storage.token_versions")

# the ``store_secrets`` row that says the conversion ran (its value: sealed, for the registry)
MARKER = "token_aad_version"
_PAGE = 500
_COLUMNS = (TOKEN_ACCESS, TOKEN_REFRESH, TOKEN_ID)


def legacy_token_aad(row: Any, column: str) -> bytes:
    """The associated data earlier releases sealed a token column with: no version."""
    return aad(
        "tokens",
        row["project_id"],
        row["app_id"],
        row["user_id"],
        row["tenant_id"],
        row["external_identifier"],
        column,
    )


async def _reseal(tx: Any, keyring: Keyring, row: Any) -> int:
    """Re-seal one row's secrets that open with the old associated data; 1 if any did."""
    fresh: dict[str, bytes] = {}
    for column in _COLUMNS:
        blob = row[column.column]
        if blob is None:
            continue
        try:
            plain = keyring.open(bytes(blob), legacy_token_aad(row, column.column))
        except DecryptionError:
            continue
        fresh[column.column] = keyring.seal(plain, column.aad_of(row))
    if not fresh:
        return 0
    assignments = ", ".join(f"{name} = :{name}" for name in fresh)
    await tx.execute(
        f"UPDATE tokens SET {assignments} WHERE id = :id",  # noqa: S608 - our column names
        {**fresh, "id": row["id"]},
    )
    return 1


async def seal_tokens_with_their_version(db: Database, keyring: Keyring) -> int:
    """Re-seal the token rows of earlier releases, once (the first start of this release;
    several servers starting together convert once). The number of rows re-sealed; a value
    that does not open with the old associated data (sealed with the version already, or
    unreadable) is left as it is — a read of it fails as it would have."""
    converted = 0
    async with db.transaction() as tx:
        created = await tx.execute(
            "INSERT INTO store_secrets (name, value, created_at) VALUES (:name, :value, :now)"
            " ON CONFLICT (name) DO NOTHING",
            {
                "name": MARKER,
                "value": keyring.seal("1", STORE_SECRET_VALUE.aad(MARKER)),
                "now": now(),
            },
        )
        if not created:
            return 0
        params: dict[str, Any] = {}
        where = ""
        while True:
            rows = await tx.fetchall(
                "SELECT id, project_id, app_id, user_id, tenant_id, external_identifier,"  # noqa: S608 - constant SQL
                f" version, access_token, refresh_token, id_token FROM tokens{where}"
                f" ORDER BY id LIMIT {_PAGE}",
                params,
            )
            for row in rows:
                converted += await _reseal(tx, keyring, row)
            if len(rows) < _PAGE:
                break
            where, params = " WHERE id > :after", {"after": rows[-1]["id"]}
    if converted:
        logger.info("re-sealed %d token rows with their version in the associated data", converted)
    return converted
