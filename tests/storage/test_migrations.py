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


def test_a_store_from_before_connection_status_opens_with_its_tokens_active(
    tmp_path: Path,
) -> None:
    """Migration 0006 on a store made by the previous schema: every token is still there,
    readable, and listed as an active connection."""
    import asyncio
    import sqlite3

    from alembic import command

    from outbound.crypto import load_keyring
    from outbound.secret import Secret
    from outbound.storage import Store, TokenWrite, connect
    from outbound.storage.connections import list_connections
    from outbound.storage.migrate import _alembic_config
    from outbound.storage.token_versions import seal_tokens_with_their_version

    url = DatabaseURL.sqlite_in(tmp_path)
    engine = create_engine(url.sqlalchemy)
    with engine.connect() as conn:
        command.upgrade(_alembic_config(conn), "0004")
        conn.commit()
    engine.dispose()
    keyring = load_keyring(None, tmp_path)
    db = sqlite3.connect(str(url.sqlite_path))
    db.execute("INSERT INTO projects (id, name, created_at) VALUES ('P1', '', 1)")
    db.execute(
        "INSERT INTO apps (project_id, id, name, config, created_at, updated_at)"
        " VALUES ('P1', 'a1', 'a1', '{}', 1, 1)"
    )
    db.execute(
        "INSERT INTO tokens (id, project_id, app_id, user_id, tenant_id, external_identifier,"
        " scopes, access_token, access_token_type, access_token_expiry, last_refresh_time,"
        " created_at, updated_at) VALUES ('tok_old', 'P1', 'a1', 'u1', '', '', '[\"read\"]',"
        " ?, 'Bearer', 0, 1, 1, 1)",
        # sealed as releases before the row version was in the associated data sealed it
        (
            keyring.seal(
                "old-access",
                b"\x1f".join([b"tokens", b"P1", b"a1", b"u1", b"", b"", b"access_token"]),
            ),
        ),
    )
    db.commit()
    db.close()

    async def check() -> None:
        upgrade(url)
        database = await connect(url)
        try:
            store = Store(database, keyring)
            assert await seal_tokens_with_their_version(database, keyring) == 1  # as at start
            [token] = await store.tokens.find("P1", "a1", "u1", "")
            assert token.access_token is not None
            assert token.access_token.reveal() == "old-access"
            page = await list_connections(database, "P1")
            assert [(c.id, c.status, c.failure_count) for c in page.connections] == [
                ("tok_old", "active", 0)
            ]
            # and the store writes as before
            await store.tokens.put(
                [TokenWrite("P1", "a1", "u2", "", access_token=Secret("new-access"))]
            )
        finally:
            await database.close()

    asyncio.run(check())


def test_apps_made_from_a_template_before_api_base_url_get_the_templates(tmp_path: Path) -> None:
    """Migration 0018: an app made from a template with a fixed API base URL gets it; one
    that set its own, one without a template and one whose template's URL needs values
    (a shop) are left as they were."""
    import json
    import sqlite3

    from alembic import command

    from outbound.catalog import get_template
    from outbound.storage.migrate import _alembic_config

    url = DatabaseURL.sqlite_in(tmp_path)
    engine = create_engine(url.sqlalchemy)
    with engine.connect() as conn:
        command.upgrade(_alembic_config(conn), "0017")
        conn.commit()
    engine.dispose()
    configs = {
        "gh": {"templateId": "github"},
        "own": {"templateId": "github", "apiBaseUrl": "https://ghe.example.com/api/v3"},
        "plain": {"tokenUrl": "https://idp.example.com/token"},
        "shop": {"templateId": "shopify"},
    }
    db = sqlite3.connect(str(url.sqlite_path))
    db.execute("INSERT INTO projects (id, name, created_at) VALUES ('P1', '', 1)")
    for app_id, config in configs.items():
        db.execute(
            "INSERT INTO apps (project_id, id, name, config, created_at, updated_at)"
            " VALUES ('P1', ?, ?, ?, 1, 1)",
            (app_id, app_id, json.dumps(config)),
        )
    db.commit()
    db.close()

    upgrade(url)

    db = sqlite3.connect(str(url.sqlite_path))
    stored = {row[0]: json.loads(row[1]) for row in db.execute("SELECT id, config FROM apps")}
    db.close()
    github = get_template("github")
    assert github is not None and github.spec.api_base_url.startswith("https://")
    assert stored["gh"] == {"templateId": "github", "apiBaseUrl": github.spec.api_base_url}
    assert stored["own"] == configs["own"]
    assert stored["plain"] == configs["plain"]
    shopify = get_template("shopify")
    assert shopify is not None and "{" in shopify.spec.api_base_url
    assert stored["shop"] == configs["shop"]
