"""The row codec: how secrets are sealed into rows, and rows opened into records.

Every secret column goes through the keyring on its way in and out; the associated data names
the row's identity and the column — for token rows, which change, also the row's version — so
the database alone never yields a usable secret (a sealed value copied into another row or
column, or an older value put back into its own cell, does not open). The token repository, the
refresh lease and ``rekey`` all seal and open token rows here, so they cannot disagree on the
associated data.

Also the two things every table's rows share: the clock they record (:func:`now`) and the ids
they are given (:func:`new_id`).
"""

from __future__ import annotations

import hashlib
import secrets
import string
import time
from typing import Protocol

import orjson

from ..crypto import Keyring
from ..secret import Secret
from .database import Row
from .records import TokenRecord
from .sealed import (
    APP_CLIENT_SECRET,
    APP_PRIVATE_KEY,
    TOKEN_ACCESS,
    TOKEN_ID,
    TOKEN_REFRESH,
    sealed_column,
)

__all__ = [
    "RowCodec",
    "SealedSecret",
    "TokenOwner",
    "client_secret_aad",
    "new_id",
    "now",
    "private_key_aad",
    "token_aad",
]

_ALPHABET = string.ascii_letters + string.digits


def now() -> int:
    """The time rows record: whole seconds since the epoch."""
    return int(time.time())


def new_id(prefix: str, length: int = 22) -> str:
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(length))


def lookup_hash(secret: str) -> str:
    """The column a bearer value (a link id, a state, a session id) is found by: its SHA-256,
    so a read of the table hands out nothing that can be presented."""
    return hashlib.sha256(secret.encode()).hexdigest()


def token_aad(
    project_id: str,
    app_id: str,
    user_id: str,
    tenant_id: str,
    external_id: str,
    version: int,
    column: str,
) -> bytes:
    """The associated data of a token row's secret ``column`` at the row's ``version`` (see
    ``sealed.py``)."""
    return sealed_column("tokens", column).aad(
        project_id, app_id, user_id, tenant_id, external_id, version
    )


def client_secret_aad(project_id: str, app_id: str) -> bytes:
    """The associated data of an app's client secret."""
    return APP_CLIENT_SECRET.aad(project_id, app_id)


def private_key_aad(project_id: str, app_id: str) -> bytes:
    """The associated data of an app's private key (a GitHub App's)."""
    return APP_PRIVATE_KEY.aad(project_id, app_id)


class TokenOwner(Protocol):
    """What names a token row (and so its associated data): a write or a read record."""

    @property
    def project_id(self) -> str: ...
    @property
    def app_id(self) -> str: ...
    @property
    def user_id(self) -> str: ...
    @property
    def tenant_id(self) -> str: ...
    @property
    def external_identifier(self) -> str: ...


class SealedSecret(Secret):
    """A secret still sealed in its row; opened (and checked) on first ``reveal()``."""

    __slots__ = ("_aad", "_keyring", "_sealed")

    def __init__(self, keyring: Keyring, sealed: bytes, aad: str) -> None:
        # No super().__init__: this sits on the fetch hot path, and the value is not known yet.
        self._value = None  # type: ignore[assignment]
        self._keyring, self._sealed, self._aad = keyring, sealed, aad

    def reveal(self) -> str:
        if self._value is None:
            self._value = self._keyring.open(self._sealed, self._aad.encode())
        return self._value


class RowCodec:
    """Seals and opens the secret columns of rows with one keyring."""

    def __init__(self, keyring: Keyring) -> None:
        self.keyring = keyring

    def seal(self, value: Secret | None, aad: bytes) -> bytes | None:
        """``value`` sealed for the column ``aad`` names; None stays None (no secret)."""
        if value is None:
            return None
        return self.keyring.seal(value.reveal(), aad)

    def open(self, sealed: bytes | None, aad: bytes) -> Secret | None:
        """The secret sealed in a column, opened (and checked) now; None stays None."""
        if sealed is None:
            return None
        return Secret(self.keyring.open(sealed, aad))

    def open_lazily(self, sealed: bytes | None, aad: str) -> Secret | None:
        """The secret sealed in a column, opened when first revealed; None stays None."""
        if sealed is None:
            return None
        return SealedSecret(self.keyring, sealed, aad)

    def seal_token(
        self, owner: TokenOwner, column: str, value: Secret | None, version: int
    ) -> bytes | None:
        """``value`` sealed for the token column ``column`` of ``owner``'s row as it will be at
        ``version`` (the version the write gives the row)."""
        if value is None:
            return None
        return self.keyring.seal(
            value.reveal(),
            sealed_column("tokens", column).aad(
                owner.project_id,
                owner.app_id,
                owner.user_id,
                owner.tenant_id,
                owner.external_identifier,
                version,
            ),
        )

    def token(self, row: Row) -> TokenRecord:
        """The token in a ``tokens`` row, its access token opened."""
        # The associated data of this row minus the column, built once per row on the fetch
        # hot path (the three token columns share the table and the identity, version included:
        # a value sealed for an earlier version of the row does not open).
        identity = TOKEN_ACCESS.row_prefix(
            row["project_id"],
            row["app_id"],
            row["user_id"],
            row["tenant_id"],
            row["external_identifier"],
            row["version"],
        )
        access = row["access_token"]
        refresh = row["refresh_token"]
        id_token = row["id_token"]
        return TokenRecord(
            id=row["id"],
            project_id=row["project_id"],
            app_id=row["app_id"],
            user_id=row["user_id"],
            tenant_id=row["tenant_id"],
            external_identifier=row["external_identifier"],
            scopes=orjson.loads(row["scopes"]),
            access_token=None
            if access is None
            else Secret(self.keyring.open(access, TOKEN_ACCESS.aad_after(identity))),
            # Most fetches hand out only the access token: the others open when first revealed.
            refresh_token=None
            if refresh is None
            else SealedSecret(self.keyring, refresh, TOKEN_REFRESH.aad_after(identity).decode()),
            id_token=None
            if id_token is None
            else SealedSecret(self.keyring, id_token, TOKEN_ID.aad_after(identity).decode()),
            access_token_type=row["access_token_type"],
            access_token_expiry=row["access_token_expiry"],
            last_refresh_time=row["last_refresh_time"],
            last_refresh_error=row["last_refresh_error"],
            needs_reconnect=bool(row["needs_reconnect"]),
            token_sub=row["token_sub"],
            granted_by=row["granted_by"],
            extra=orjson.loads(row["extra"]),
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            version=row["version"],
        )
