"""The row codec and the sealed-column registry in this process (so that mutation testing can
see them): each secret column of a token row is sealed for its own row and column, opens only
there, and a token row reads back with every field where it was written."""

from __future__ import annotations

import hashlib
import time
from typing import Any

import orjson
import pytest

from outbound.crypto import DecryptionError, Keyring
from outbound.secret import Secret
from outbound.storage.codec import (
    RowCodec,
    SealedSecret,
    client_secret_aad,
    lookup_hash,
    new_id,
    now,
    token_aad,
)
from outbound.storage.records import TokenWrite
from outbound.storage.sealed import (
    APP_CLIENT_SECRET,
    SEALED_COLUMNS,
    TOKEN_ACCESS,
    WEBHOOK_SECRET,
    sealed_column,
)

KEYRING = Keyring([b"\x07" * 32])


def codec() -> RowCodec:
    # built in each test, not at import: mutation testing swaps the code in after import
    return RowCodec(KEYRING)


OWNER = TokenWrite(
    project_id="prj_a", app_id="app_a", user_id="user_a", tenant_id="", external_identifier="x"
)
TOKEN_COLUMNS = ("access_token", "refresh_token", "id_token")


def token_row(owner: TokenWrite = OWNER, **values: Any) -> dict[str, Any]:
    """A ``tokens`` row as the database hands it back, its columns sealed for ``owner``."""
    sealed = {
        column: codec().seal_token(owner, column, None if value is None else Secret(value), 3)
        for column, value in values.items()
    }
    return {
        "id": "tok_1",
        "project_id": owner.project_id,
        "app_id": owner.app_id,
        "user_id": owner.user_id,
        "tenant_id": owner.tenant_id,
        "external_identifier": owner.external_identifier,
        "scopes": orjson.dumps(["read", "write"]),
        "access_token": None,
        "refresh_token": None,
        "id_token": None,
        **sealed,
        "access_token_type": "Bearer",
        "access_token_expiry": 1_900_000_000,
        "last_refresh_time": 1_800_000_000,
        "last_refresh_error": "",
        "needs_reconnect": 1,
        "token_sub": "sub-1",
        "granted_by": "user",
        "extra": orjson.dumps({"k": "v"}),
        "created_at": 1_700_000_000,
        "updated_at": 1_700_000_001,
        "version": 3,
    }


def revealed(secret: Secret | None) -> str | None:
    return None if secret is None else secret.reveal()


def test_a_token_row_reads_back_as_written() -> None:
    record = codec().token(token_row(access_token="at", refresh_token="rt", id_token="it"))
    assert (record.id, record.project_id, record.app_id) == ("tok_1", "prj_a", "app_a")
    assert (record.user_id, record.tenant_id, record.external_identifier) == ("user_a", "", "x")
    assert record.scopes == ["read", "write"]
    assert [revealed(record.access_token), revealed(record.refresh_token)] == ["at", "rt"]
    assert revealed(record.id_token) == "it"
    assert record.access_token_type == "Bearer"
    assert record.access_token_expiry == 1_900_000_000
    assert record.last_refresh_time == 1_800_000_000
    assert record.last_refresh_error == ""
    assert record.needs_reconnect is True
    assert (record.token_sub, record.granted_by, record.extra) == ("sub-1", "user", {"k": "v"})
    assert (record.created_at, record.updated_at, record.version) == (
        1_700_000_000,
        1_700_000_001,
        3,
    )


def test_absent_secrets_stay_absent() -> None:
    record = codec().token(token_row())
    assert (record.access_token, record.refresh_token, record.id_token) == (None, None, None)
    assert codec().seal_token(OWNER, "access_token", None, 1) is None
    assert codec().seal(None, b"aad") is None
    assert codec().open(None, b"aad") is None
    assert codec().open_lazily(None, "aad") is None


@pytest.mark.parametrize("source", TOKEN_COLUMNS)
@pytest.mark.parametrize("target", TOKEN_COLUMNS)
def test_a_token_secret_opens_only_in_its_own_column(source: str, target: str) -> None:
    row = token_row(OWNER, **{source: "secret"})
    row[source], row[target] = None, row[source]
    if source == target:
        assert revealed(getattr(codec().token(row), target)) == "secret"
        return
    with pytest.raises(DecryptionError):
        revealed(getattr(codec().token(row), target))


@pytest.mark.parametrize(
    "field", ["project_id", "app_id", "user_id", "tenant_id", "external_identifier"]
)
@pytest.mark.parametrize("column", TOKEN_COLUMNS)
def test_a_token_secret_opens_only_in_its_own_row(field: str, column: str) -> None:
    row = token_row(OWNER, **{column: "secret"})
    row[field] = row[field] + "-other"
    with pytest.raises(DecryptionError):
        revealed(getattr(codec().token(row), column))


@pytest.mark.parametrize("version", [2, 4, 30])
@pytest.mark.parametrize("column", TOKEN_COLUMNS)
def test_a_token_secret_opens_only_at_the_version_it_was_sealed_for(
    version: int, column: str
) -> None:
    """A value sealed for version 3 of its row does not open in the row at another version:
    an older value put back after a refresh (the row moved on) does not open."""
    row = token_row(OWNER, **{column: "secret"})
    assert revealed(getattr(codec().token(row), column)) == "secret"
    row["version"] = version
    with pytest.raises(DecryptionError):
        revealed(getattr(codec().token(row), column))


def test_the_codec_and_the_registry_agree_on_the_associated_data() -> None:
    identity = ("prj_a", "app_a", "user_a", "", "x", 7)
    for column in TOKEN_COLUMNS:
        blob = codec().seal_token(OWNER, column, Secret("v"), 7)
        assert blob is not None
        expected = sealed_column("tokens", column).aad(*identity)
        assert token_aad(*identity, column) == expected
        assert revealed(codec().open(blob, expected)) == "v"
        lazy = codec().open_lazily(blob, expected.decode())
        assert isinstance(lazy, SealedSecret) and revealed(lazy) == "v"
    assert client_secret_aad("prj_a", "app_a") == APP_CLIENT_SECRET.aad("prj_a", "app_a")
    sealed = codec().seal(Secret("client-secret"), client_secret_aad("prj_a", "app_a"))
    assert sealed is not None
    assert revealed(codec().open(sealed, client_secret_aad("prj_a", "app_a"))) == "client-secret"
    with pytest.raises(DecryptionError):
        codec().open(sealed, client_secret_aad("prj_b", "app_a"))


def test_a_lazily_opened_secret_is_checked_when_revealed() -> None:
    blob = codec().seal(Secret("v"), b"right")
    assert blob is not None
    wrong = codec().open_lazily(blob, "wrong")
    assert wrong is not None
    with pytest.raises(DecryptionError):
        wrong.reveal()
    right = codec().open_lazily(blob, "right")
    assert right is not None
    assert right.reveal() == right.reveal() == "v"


def test_every_sealed_column_binds_table_row_and_column() -> None:
    seen = set()
    for column in SEALED_COLUMNS:
        identity = [f"{name}-1" for name in column.identity]
        data = column.aad(*identity)
        assert data == "\x1f".join([column.table, *identity, column.column]).encode()
        assert column.aad_of(dict(zip(column.identity, identity, strict=True))) == data
        assert column.name == f"{column.table}.{column.column}"
        assert sealed_column(column.table, column.column) is column
        seen.add(data)
        with pytest.raises(ValueError, match=column.name):
            column.aad(*identity, "extra")
    assert len(seen) == len(SEALED_COLUMNS)
    assert WEBHOOK_SECRET.aad("p", "w") != WEBHOOK_SECRET.aad("p", "w2")
    assert TOKEN_ACCESS.aad_after(
        TOKEN_ACCESS.row_prefix("p", "a", "u", "", "", 2)
    ) == TOKEN_ACCESS.aad("p", "a", "u", "", "", 2)
    # a version is written in decimal, and is part of what names a token row
    assert (
        TOKEN_ACCESS.aad("p", "a", "u", "", "", 12)
        == b"tokens\x1fp\x1fa\x1fu\x1f\x1f\x1f12\x1faccess_token"
    )
    assert TOKEN_ACCESS.identity[-1] == "version"


def test_an_unknown_column_is_not_sealed() -> None:
    with pytest.raises(KeyError, match=r"tokens\.scopes"):
        sealed_column("tokens", "scopes")
    with pytest.raises(KeyError):
        sealed_column("apps", "access_token")


def test_lookup_hashes_ids_and_clock() -> None:
    assert lookup_hash("link-1") == hashlib.sha256(b"link-1").hexdigest()
    ids = {new_id("tok_") for _ in range(50)}
    assert len(ids) == 50
    assert all(i.startswith("tok_") and len(i) == 26 and i[4:].isalnum() for i in ids)
    assert len(new_id("x", 8)) == 9
    assert isinstance(now(), int) and abs(now() - time.time()) < 2
