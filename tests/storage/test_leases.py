"""The refresh-ahead rule and the lease, against the real database (SQLite and PostgreSQL):
a token is due by one rule, and a round's lease is taken only while the row is still the one
the round picked and still due."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from outbound.crypto.keyring import Keyring
from outbound.secret import Secret
from outbound.storage import DatabaseURL, Store, TokenWrite, connect, upgrade
from outbound.storage.leases import (
    Picked,
    RefreshedToken,
    RefreshLeases,
    due_for_refresh_ahead,
)
from tests.support.server import postgres_database

WINDOW = 20


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def leases(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[RefreshLeases]:
    with contextlib.ExitStack() as stack:
        if request.param == "postgres":
            url = DatabaseURL.parse(stack.enter_context(postgres_database()))
        else:
            url = DatabaseURL.sqlite_in(tmp_path)
        upgrade(url)
        db = await connect(url)
        try:
            yield RefreshLeases(Store(db, Keyring([os.urandom(32)])))
        finally:
            await db.close()


async def _token(leases: RefreshLeases, user: str, *, obtained: int, lifetime: int) -> str:
    store = leases.store
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
    async with store.db.transaction() as tx:
        await tx.execute(
            "UPDATE tokens SET access_token_expiry = :expiry, last_refresh_time = :obtained"
            " WHERE id = :id",
            {"expiry": obtained + lifetime, "obtained": obtained, "id": token_id},
        )
    return token_id


def _ids(picked: list[Picked]) -> set[str]:
    return {p.id for p in picked}


async def test_a_token_that_lives_as_long_as_the_window_is_due_only_at_half_its_life(
    leases: RefreshLeases,
) -> None:
    now = int(time.time())
    token = await _token(leases, "short", obtained=now, lifetime=WINDOW)
    long_lived = await _token(leases, "long", obtained=now - 3600 + 15, lifetime=3600)

    # Fresh, and already expiring within the window: not due.
    assert _ids(await leases.expiring(now, WINDOW, 100)) == {long_lived}
    assert _ids(await leases.expiring(now + WINDOW // 2 - 1, WINDOW, 100)) == {long_lived}
    # Half its life gone: due.
    assert _ids(await leases.expiring(now + WINDOW // 2, WINDOW, 100)) == {token, long_lived}


async def test_the_lease_is_not_taken_for_a_token_refreshed_since_the_round_picked_it(
    leases: RefreshLeases,
) -> None:
    now = int(time.time())
    raced = await _token(leases, "raced", obtained=now - 15, lifetime=WINDOW)
    calm = await _token(leases, "calm", obtained=now - 15, lifetime=WINDOW)
    picked = {p.id: p for p in await leases.expiring(now, WINDOW, 100)}
    assert set(picked) == {raced, calm}

    # A fetch refreshes one of them after the round picked it: a new token, the version moves.
    found = await leases.read(picked[raced].project_id, raced)
    assert found is not None
    fetched = await leases.store_refresh(
        found[0],
        RefreshedToken(
            access_token=Secret("at-new"),
            refresh_token=Secret("rt-new"),
            id_token=None,
            token_type="Bearer",
            expires_at=int(time.time()) + WINDOW,
            scopes=None,
            subject="",
            extra={},
        ),
    )
    assert fetched is not None

    due = due_for_refresh_ahead(int(time.time()), WINDOW)
    assert await leases.claim_picked(picked[raced], due, "round", now + 30) is None
    # The fresh row is not due by the rule either, whatever version a round would name.
    assert (
        await leases.claim_picked(
            Picked(fetched.project_id, raced, fetched.version), due, "round", now + 30
        )
        is None
    )
    claimed = await leases.claim_picked(picked[calm], due, "round", now + 30)
    assert claimed is not None and claimed.id == calm
    assert claimed.refresh_token is not None and claimed.refresh_token.reveal() == "rt-calm"
    # Taken once: a second round (or server) does not take it again.
    assert await leases.claim_picked(picked[calm], due, "other", now + 30) is None
    # Nor does the next round pick it while the lease lives.
    assert await leases.expiring(int(time.time()), WINDOW, 100) == []


async def test_a_round_is_fair_per_project_not_per_app(leases: RefreshLeases) -> None:
    """Issue 25, item 21: a project with many apps does not take a round's share of each; a
    round of 20 with a 20-app project and a one-app project due gives each project half."""
    store = leases.store
    now = int(time.time())
    crowd, small = await store.keys.create_project(), await store.keys.create_project()
    writes = []
    for project_id, apps, users in ((crowd, 20, 5), (small, 1, 20)):
        for a in range(apps):
            app_id = f"app-{a}"
            await store.apps.create(project_id, app_id, app_id, {}, None)
            writes += [
                TokenWrite(
                    project_id=project_id,
                    app_id=app_id,
                    user_id=f"u-{u}",
                    tenant_id="",
                    access_token=Secret("at"),
                    refresh_token=Secret("rt"),
                )
                for u in range(users)
            ]
    await store.tokens.put(writes)
    async with store.db.transaction() as tx:
        await tx.execute(
            "UPDATE tokens SET access_token_expiry = :expiry, last_refresh_time = :obtained",
            {"expiry": now + 10, "obtained": now - 3590},
        )

    for picked in (
        await leases.expiring(now, WINDOW, 20),
        await leases.idle(now, 3000, 20),
    ):
        by_project = [p.project_id for p in picked]
        assert by_project.count(small) == 10, by_project
        assert by_project.count(crowd) == 10
        # and within the crowded project, ten different apps take a turn each
        apps = {
            row["app_id"]
            for row in await store.db.fetchall("SELECT id, app_id FROM tokens")
            if row["id"] in {p.id for p in picked if p.project_id == crowd}
        }
        assert len(apps) == 10
    # a round large enough takes every due token
    assert len(await leases.expiring(now, WINDOW, 200)) == 120
