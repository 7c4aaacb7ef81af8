"""The registry of sealed columns (``storage/sealed.py``) is complete, and what it promises
holds for every column in it: a sealed value opens only in its own row and column.

A store on each backend is filled through the repositories the server uses — tokens (all
three columns), an app's client secret, a connect session's PKCE verifier, a webhook's current
and previous signing secret, a ``useDcr`` app's registered client and its registration access
token, and the store's own key record — in two projects with two apps each. Then:

- every binary column of the migrated schema is either in the registry or declared not sealed
  (digests and MACs), and a column holding sealed values that is not in the registry fails;
- every sealed value, moved into any other cell — another column of its row, the same column
  of another row, of another app, of another project, or another table — does not open there.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import LargeBinary, create_engine, inspect

from outbound.crypto import DecryptionError
from outbound.secret import Secret
from outbound.server.config import Settings
from outbound.server.open_store import open_store
from outbound.storage import Store
from outbound.storage.connect_sessions import ConnectSessions
from outbound.storage.records import TokenWrite
from outbound.storage.registrations import Registrations
from outbound.storage.schema import metadata
from outbound.storage.sealed import NOT_SEALED, SEALED_COLUMNS, SealedColumn
from outbound.storage.webhooks import WebhookStore
from tests.support.server import Store as DataStore
from tests.support.server import postgres_database

REGISTERED = {column.name for column in SEALED_COLUMNS}


@dataclass(frozen=True)
class Cell:
    column: SealedColumn
    row: dict[str, Any]
    blob: bytes

    @property
    def project(self) -> str:
        return str(self.row.get("project_id", ""))

    @property
    def app(self) -> str:
        if self.column.table == "apps":
            return str(self.row["id"])
        return str(self.row.get("app_id", ""))

    @property
    def row_key(self) -> tuple[str, tuple[Any, ...]]:
        return self.column.table, tuple(self.row[name] for name in self.column.key)


@pytest.fixture(scope="module")
def filled(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DataStore]:
    """A store with a value in every sealed column, in two projects of two apps each."""
    data_dir = tmp_path_factory.mktemp(f"sealed-{backend}")
    with _database(backend, data_dir) as store:
        asyncio.run(_fill(store))
        yield store


def _database(backend: str, data_dir: Path) -> Any:
    import contextlib

    @contextlib.contextmanager
    def make() -> Iterator[DataStore]:
        if backend == "postgres":
            with postgres_database() as url:
                yield DataStore(data_dir, url)
        else:
            yield DataStore(data_dir)

    return make()


def _settings(store: DataStore) -> Settings:
    return Settings(
        data_dir=store.data_dir, database_url=store.database_url, master_key=store.master_key
    )


async def _fill(test_store: DataStore) -> None:
    store = await open_store(_settings(test_store))
    try:
        for _ in range(2):
            project_id = await store.keys.create_project("p")
            for app_id in ("a1", "a2"):
                await _fill_app(store, project_id, app_id)
            webhooks = WebhookStore(store.db, store.keyring)
            for _ in range(2):
                webhook, _secret = await webhooks.create(project_id, "https://h.example/", [])
                await webhooks.rotate(project_id, webhook.id, overlap=3600)
    finally:
        await store.db.close()


async def _fill_app(store: Store, project_id: str, app_id: str) -> None:
    await store.apps.create(project_id, app_id, app_id, {}, Secret(f"cs-{project_id}-{app_id}"))
    await store.tokens.put(
        [
            TokenWrite(
                project_id,
                app_id,
                user,
                "",
                access_token=Secret(f"at-{user}"),
                refresh_token=Secret(f"rt-{user}"),
                id_token=Secret(f"it-{user}"),
            )
            for user in ("u1", "u2")
        ]
    )
    sessions = ConnectSessions(store)
    for user in ("u1", "u2"):
        link = await sessions.create(
            project_id=project_id,
            app_id=app_id,
            user_id=user,
            tenant_id="",
            external_identifier="",
            scopes=[],
            redirect_url="https://app.example/",
            ttl=600,
        )
        assert await sessions.open_link(
            link,
            state=f"state-{project_id}-{app_id}-{user}",
            code_verifier=Secret(f"cv-{user}"),
            scopes=[],
            redirect_uri="https://vault.example/cb",
            state_ttl=600,
            browser="b",
        )
    registrations = Registrations(store)
    assert await registrations.claim(
        project_id, app_id, owner="me", until=2**40, issuer="i", redirect_uri="r"
    )
    assert await registrations.store_client(
        project_id,
        app_id,
        owner="me",
        issuer="i",
        redirect_uri="r",
        client_id=f"client-{app_id}",
        client_secret=Secret(f"dcr-cs-{app_id}"),
        token_endpoint_auth_method="client_secret_basic",
        registration_access_token=Secret(f"rat-{app_id}"),
        registration_client_uri="https://as.example/reg/1",
    )


def _binary_columns(store: DataStore) -> set[str]:
    """The binary columns of the store as migrated (not as ``schema.py`` says it is)."""
    engine = create_engine(_settings(store).database.sqlalchemy)
    try:
        with engine.connect() as conn:
            inspector = inspect(conn)
            return {
                f"{table}.{column['name']}"
                for table in inspector.get_table_names()
                for column in inspector.get_columns(table)
                if isinstance(column["type"], LargeBinary)
            }
    finally:
        engine.dispose()


def _cells(store: DataStore) -> list[Cell]:
    async def read() -> list[Cell]:
        opened = await open_store(_settings(store))
        try:
            cells = []
            for column in SEALED_COLUMNS:
                for row in await opened.db.fetchall(
                    f"SELECT *, {column.column} AS sealed FROM {column.table}"
                    f" WHERE {column.column} IS NOT NULL"
                ):
                    values = dict(row)
                    blob = bytes(values.pop("sealed"))
                    cells.append(Cell(column, values, blob))
            return cells
        finally:
            await opened.db.close()

    return asyncio.run(read())


def test_every_binary_column_is_in_the_registry_or_declared_not_sealed(
    filled: DataStore,
) -> None:
    in_schema = {
        f"{table.name}.{column.name}"
        for table in metadata.sorted_tables
        for column in table.columns
        if isinstance(column.type, LargeBinary)
    }
    migrated = _binary_columns(filled)
    assert migrated == in_schema, "the migrations and schema.py disagree on binary columns"
    undeclared = migrated - REGISTERED - set(NOT_SEALED)
    assert not undeclared, f"binary columns neither sealed nor declared: {undeclared}"
    assert migrated >= REGISTERED
    assert not REGISTERED & set(NOT_SEALED)


def test_no_column_holds_sealed_values_unless_it_is_in_the_registry(filled: DataStore) -> None:
    from outbound.crypto import load_keyring
    from tests.support.database import execute

    key_id = bytes.fromhex(load_keyring(filled.master_key, None).primary_key_id)
    holding: set[str] = set()
    for name in sorted(_binary_columns(filled)):
        table, column = name.split(".")
        rows = execute(filled, f"SELECT {column} FROM {table} WHERE {column} IS NOT NULL")
        # a sealed value: version 1, the key id, a nonce and at least a tag
        if any(len(blob) >= 33 and bytes(blob)[:5] == b"\x01" + key_id for (blob,) in rows):
            holding.add(name)
    assert holding - REGISTERED == set(), "sealed values in a column the registry misses"
    assert holding == REGISTERED, f"the fill left {REGISTERED - holding} empty"


def test_a_sealed_value_opens_in_its_own_cell_only(filled: DataStore) -> None:
    """Moves across columns, rows, apps, projects and tables, for every sealed column."""
    from outbound.crypto import load_keyring

    keyring = load_keyring(filled.master_key, None)
    cells = _cells(filled)
    kinds: dict[str, set[str]] = {column.name: set() for column in SEALED_COLUMNS}
    for target in cells:
        ad = target.column.aad_of(target.row)
        keyring.open(target.blob, ad)  # its own value opens
        for moved in cells:
            if moved is target:
                continue
            if moved.blob == target.blob:
                continue
            with pytest.raises(DecryptionError):
                keyring.open(moved.blob, ad)
            kinds[moved.column.name].add(_kind(moved, target))
    for column in SEALED_COLUMNS:
        missing = _EXPECTED_MOVES[column.table] - kinds[column.name]
        assert not missing, f"{column.name}: no move to {missing}"


_EVERY = {"another table", "another project", "another app", "another row"}
# the moves the fill makes possible for each table's values (a test of the fill itself)
_EXPECTED_MOVES = {
    "tokens": _EVERY | {"another column of its row"},
    "apps": _EVERY - {"another row"},
    "connect_sessions": _EVERY,
    "webhooks": _EVERY - {"another app"} | {"another column of its row"},
    "client_registrations": _EVERY - {"another row"} | {"another column of its row"},
    "store_keys": {"another table"},
}


def _kind(moved: Cell, target: Cell) -> str:
    if moved.column.table != target.column.table:
        return "another table"
    if moved.row_key == target.row_key:
        return "another column of its row"
    if moved.column != target.column:
        return "another column of another row"
    if moved.project != target.project:
        return "another project"
    if moved.app != target.app:
        return "another app"
    return "another row"
