"""The migrations build exactly the schema the code declares, on both backends."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from outbound.storage import DatabaseURL, upgrade
from outbound.storage.schema import metadata
from tests.support.server import postgres_database


def differences(url: DatabaseURL) -> list[object]:
    upgrade(url)
    upgrade(url)  # a second start finds nothing to do
    engine = create_engine(url.sqlalchemy)
    try:
        with engine.connect() as conn:
            return list(compare_metadata(MigrationContext.configure(conn), metadata))
    finally:
        engine.dispose()


def test_sqlite_migrations_match_the_schema(tmp_path: Path) -> None:
    assert differences(DatabaseURL.sqlite_in(tmp_path)) == []


@pytest.mark.postgres
def test_postgres_migrations_match_the_schema() -> None:
    with postgres_database() as url:
        assert differences(DatabaseURL.parse(url)) == []
