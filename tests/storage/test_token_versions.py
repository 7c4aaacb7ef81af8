"""Token rows of earlier releases (sealed without the row's version in the associated data) are
re-sealed once, at the first start of this release, and never again: a value of the old form
put back afterwards neither opens nor gets converted (issue 25, item 20)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from outbound.crypto import DecryptionError
from outbound.crypto.keyring import Keyring
from outbound.secret import Secret
from outbound.storage import DatabaseURL, Store, TokenWrite, connect, upgrade
from outbound.storage.token_versions import (
    MARKER,
    legacy_token_aad,
    seal_tokens_with_their_version,
)
from tests.support.server import postgres_database


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    with contextlib.ExitStack() as stack:
        if request.param == "postgres":
            url = DatabaseURL.parse(stack.enter_context(postgres_database()))
        else:
            url = DatabaseURL.sqlite_in(tmp_path)
        upgrade(url)
        db = await connect(url)
        try:
            yield Store(db, Keyring([os.urandom(32)]))
        finally:
            await db.close()


async def _owner_token(store: Store, user: str) -> str:
    projects = await store.db.fetchall("SELECT id FROM projects")
    project_id = projects[0]["id"] if projects else await store.keys.create_project()
    if not await store.db.fetchone("SELECT id FROM apps WHERE id = 'app'"):
        await store.apps.create(project_id, "app", "app", {}, None)
    (token_id,) = await store.tokens.put(
        [
            TokenWrite(
                project_id=project_id,
                app_id="app",
                user_id=user,
                tenant_id="",
                access_token=Secret("at-" + user),
                refresh_token=Secret("rt-" + user),
            )
        ]
    )
    return token_id


async def _seal_as_before(store: Store, token_id: str, access: str, refresh: str | None) -> None:
    """Write the row's secrets as releases before the version was in the associated data."""
    row = await store.db.fetchone("SELECT * FROM tokens WHERE id = :id", {"id": token_id})
    assert row is not None
    keyring = store.keyring
    async with store.db.transaction() as tx:
        await tx.execute(
            "UPDATE tokens SET access_token = :access, refresh_token = :refresh WHERE id = :id",
            {
                "access": keyring.seal(access, legacy_token_aad(row, "access_token")),
                "refresh": None
                if refresh is None
                else keyring.seal(refresh, legacy_token_aad(row, "refresh_token")),
                "id": token_id,
            },
        )


async def _read(store: Store, user: str) -> tuple[str | None, str | None]:
    project = await store.db.fetchone("SELECT id FROM projects")
    assert project is not None
    [token] = await store.tokens.find(project["id"], "app", user, "")
    access = None if token.access_token is None else token.access_token.reveal()
    refresh = None if token.refresh_token is None else token.refresh_token.reveal()
    return access, refresh


async def test_rows_of_earlier_releases_are_resealed_once_and_the_old_form_never_again(
    store: Store,
) -> None:
    old = await _owner_token(store, "old")
    await _seal_as_before(store, old, "at-legacy", "rt-legacy")
    await _owner_token(store, "new")  # written by this release
    with pytest.raises(DecryptionError):
        await _read(store, "old")  # the old form does not open as it is

    # the first start converts the old row (the new one does not open the old way: untouched)
    assert await seal_tokens_with_their_version(store.db, store.keyring) == 1
    assert await _read(store, "old") == ("at-legacy", "rt-legacy")
    assert await _read(store, "new") == ("at-new", "rt-new")
    marker = await store.db.fetchone(
        "SELECT name FROM store_secrets WHERE name = :name", {"name": MARKER}
    )
    assert marker is not None

    # A database writer plants a value of the old form afterwards: it does not open, and no
    # later start converts it.
    await _seal_as_before(store, old, "at-planted", None)
    assert await seal_tokens_with_their_version(store.db, store.keyring) == 0
    with pytest.raises(DecryptionError):
        await _read(store, "old")
    # the store keeps writing and reading: an upload for that owner replaces the bad row
    await _owner_token(store, "old")
    assert await _read(store, "old") == ("at-old", "rt-old")


async def test_a_new_store_converts_nothing_and_marks_itself(store: Store) -> None:
    assert await seal_tokens_with_their_version(store.db, store.keyring) == 0
    assert await store.db.fetchone(
        "SELECT name FROM store_secrets WHERE name = :name", {"name": MARKER}
    )


async def test_a_replaced_token_is_sealed_for_its_new_version(store: Store) -> None:
    """``tokens.put`` bumps the version and seals for it: each write reads back, and the
    value of the previous version does not open in the row as it is now."""
    token_id = await _owner_token(store, "u")
    before = await store.db.fetchone(
        "SELECT access_token, version FROM tokens WHERE id = :id", {"id": token_id}
    )
    assert before is not None
    assert await _owner_token(store, "u") == token_id
    after = await store.db.fetchone(
        "SELECT access_token, version FROM tokens WHERE id = :id", {"id": token_id}
    )
    assert after is not None
    assert after["version"] == before["version"] + 1
    assert await _read(store, "u") == ("at-u", "rt-u")
    async with store.db.transaction() as tx:
        await tx.execute(
            "UPDATE tokens SET access_token = :old WHERE id = :id",
            {"old": before["access_token"], "id": token_id},
        )
    with pytest.raises(DecryptionError):
        await _read(store, "u")
