"""The registry of sealed columns: every column that holds ciphertext, declared once.

A sealed column's associated data is ``table, <identity columns of the row…>, column``: the
table and column names bind a value to its column (copied into another column, even of the
same row, it does not open), the identity binds it to its row (copied into another row — of
another user, app or project — it does not open). Sealing and opening in the repositories,
``outbound rekey``, the store's own key record and the tests that move ciphertext around all
take the associated data from here, so they cannot disagree; a test enumerates the schema's
binary columns and fails on one that holds sealed values but is missing here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..crypto import aad

__all__ = [
    "APP_CLIENT_SECRET",
    "APP_PRIVATE_KEY",
    "CONNECT_CODE_VERIFIER",
    "DEVICE_CODE",
    "NOT_SEALED",
    "REGISTRATION_ACCESS_TOKEN",
    "REGISTRATION_CLIENT_SECRET",
    "SEALED_COLUMNS",
    "STORE_KEY_SECRETS",
    "STORE_SECRET_VALUE",
    "TOKEN_ACCESS",
    "TOKEN_ID",
    "TOKEN_REFRESH",
    "WEBHOOK_PREVIOUS_SECRET",
    "WEBHOOK_SECRET",
    "SealedColumn",
    "sealed_column",
]


@dataclass(frozen=True)
class SealedColumn:
    table: str
    column: str
    # the columns that name the row in the associated data, in order
    identity: tuple[str, ...]
    # the row's primary key (what ``rekey`` updates it by)
    key: tuple[str, ...]

    def aad(self, *identity: str | int) -> bytes:
        """The associated data of this column in the row ``identity`` names."""
        return self.aad_after(self.row_prefix(*identity))

    def row_prefix(self, *identity: str | int) -> str:
        """The associated data up to the column name: built once per row on the fetch hot
        path, for the row's several sealed columns (see :meth:`aad_after`). A number (a row's
        version) is written in decimal."""
        if len(identity) != len(self.identity):
            raise ValueError(f"{self.name} is named by {self.identity}")
        return aad(self.table, *(str(part) for part in identity), "").decode()

    def aad_after(self, row_prefix: str) -> bytes:
        """The associated data of this column from its row's :meth:`row_prefix`."""
        return (row_prefix + self.column).encode()

    def aad_of(self, row: Mapping[str, Any]) -> bytes:
        """The associated data of this column in ``row`` (which has the identity columns)."""
        return self.aad(*(row[name] for name in self.identity))

    @property
    def name(self) -> str:
        return f"{self.table}.{self.column}"


# A token row changes (refreshed, replaced by an upload or a new connection): its version,
# bumped by every write of its secrets, is part of what names it, so an older sealed value of
# the same cell — before a refresh, from a backup — does not open in the row as it is now.
# Each write knows the version it writes before it seals (``tokens.put`` bumps, then seals, in
# one transaction; a refresh writes the version after the one it read, conditionally).
_TOKEN_IDENTITY = (
    "project_id",
    "app_id",
    "user_id",
    "tenant_id",
    "external_identifier",
    "version",
)

TOKEN_ACCESS = SealedColumn("tokens", "access_token", _TOKEN_IDENTITY, ("id",))
TOKEN_REFRESH = SealedColumn("tokens", "refresh_token", _TOKEN_IDENTITY, ("id",))
TOKEN_ID = SealedColumn("tokens", "id_token", _TOKEN_IDENTITY, ("id",))
APP_CLIENT_SECRET = SealedColumn(
    "apps", "client_secret", ("project_id", "id"), ("project_id", "id")
)
APP_PRIVATE_KEY = SealedColumn("apps", "private_key", ("project_id", "id"), ("project_id", "id"))
# a link hash is unique across projects: it names the row alone
CONNECT_CODE_VERIFIER = SealedColumn(
    "connect_sessions", "code_verifier", ("link_hash",), ("link_hash",)
)
DEVICE_CODE = SealedColumn("device_connects", "device_code", ("project_id", "id"), ("id",))
WEBHOOK_SECRET = SealedColumn("webhooks", "secret", ("project_id", "id"), ("id",))
WEBHOOK_PREVIOUS_SECRET = SealedColumn("webhooks", "previous_secret", ("project_id", "id"), ("id",))
REGISTRATION_CLIENT_SECRET = SealedColumn(
    "client_registrations",
    "client_secret",
    ("project_id", "app_id"),
    ("project_id", "app_id"),
)
REGISTRATION_ACCESS_TOKEN = SealedColumn(
    "client_registrations",
    "registration_access_token",
    ("project_id", "app_id"),
    ("project_id", "app_id"),
)
# The secrets derived from each master key that has sealed this store (``store_keys.py``):
# kept sealed so that they outlive the master key they came from.
STORE_KEY_SECRETS = SealedColumn("store_keys", "secrets", ("key_id",), ("key_id",))
# the store's own secrets (``key_digests.py``)
STORE_SECRET_VALUE = SealedColumn("store_secrets", "value", ("name",), ("name",))

SEALED_COLUMNS: tuple[SealedColumn, ...] = (
    TOKEN_ACCESS,
    TOKEN_REFRESH,
    TOKEN_ID,
    APP_CLIENT_SECRET,
    APP_PRIVATE_KEY,
    CONNECT_CODE_VERIFIER,
    DEVICE_CODE,
    WEBHOOK_SECRET,
    WEBHOOK_PREVIOUS_SECRET,
    REGISTRATION_CLIENT_SECRET,
    REGISTRATION_ACCESS_TOKEN,
    STORE_KEY_SECRETS,
    STORE_SECRET_VALUE,
)

# The schema's other binary columns, and why they are not sealed: digests and MACs are not
# secrets to open, only to compare.
NOT_SEALED: dict[str, str] = {
    "management_keys.digest": "keyed digest of a management key's secret (compared, not opened)",
    "audit_events.mac": "the audit chain's link MAC",
    "audit_heads.mac": "the audit chain's last link MAC",
    "audit_heads.tag": "MAC over the head record",
    "audit_heads.anchor_mac": "the pruning anchor's link MAC",
    "audit_heads.anchor_tag": "MAC over the anchor record",
}


def sealed_column(table: str, column: str) -> SealedColumn:
    for found in SEALED_COLUMNS:
        if (found.table, found.column) == (table, column):
            return found
    raise KeyError(f"{table}.{column} is not a sealed column")
