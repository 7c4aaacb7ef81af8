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
    Claim,
    Picked,
    RefreshedToken,
    RefreshLeases,
    any_of,
    due_for_refresh_ahead,
    idle_for_refresh,
)
from outbound.storage.records import TokenRecord
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
        crowd_apps = {
            row["app_id"]
            for row in await store.db.fetchall("SELECT id, app_id FROM tokens")
            if row["id"] in {p.id for p in picked if p.project_id == crowd}
        }
        assert len(crowd_apps) == 10
    # a round large enough takes every due token
    assert len(await leases.expiring(now, WINDOW, 200)) == 120


def _answer(access: str, **changes: object) -> RefreshedToken:
    fields: dict[str, object] = {
        "access_token": Secret(access),
        "refresh_token": None,
        "id_token": None,
        "token_type": "",
        "expires_at": int(time.time()) + 3600,
        "scopes": None,
        "subject": "",
        "extra": {},
    }
    return RefreshedToken(**(fields | changes))  # type: ignore[arg-type]


async def _read(leases: RefreshLeases, token_id: str) -> tuple[TokenRecord, Claim]:
    row = await leases.db.fetchone("SELECT project_id FROM tokens WHERE id = :id", {"id": token_id})
    assert row is not None
    found = await leases.read(row["project_id"], token_id)
    assert found is not None
    return found


async def test_one_claimer_wins_until_its_claim_expires(leases: RefreshLeases) -> None:
    now = int(time.time())
    token_id = await _token(leases, "u", obtained=now, lifetime=3600)
    token, claim = await _read(leases, token_id)
    assert not claim.held(now)
    assert await leases.claim(token, "server-a", now + 60)
    assert not await leases.claim(token, "server-b", now + 60)
    _, claim = await _read(leases, token_id)
    assert claim == Claim("server-a", now + 60)
    assert claim.held(now + 60) and not claim.held(now + 61)
    # only the holder extends its claim
    assert not await leases.renew(token_id, "server-b", now + 600)
    assert await leases.renew(token_id, "server-a", now + 120)
    assert (await _read(leases, token_id))[1].until == now + 120

    # a claim past its deadline (its server died) is free for the taking
    async with leases.db.transaction() as tx:
        await tx.execute(
            "UPDATE tokens SET refresh_claim_until = :until WHERE id = :id",
            {"until": int(time.time()) - 1, "id": token_id},
        )
    assert await leases.claim(token, "server-b", now + 60)
    assert (await _read(leases, token_id))[1].owner == "server-b"


async def test_a_claim_on_an_older_version_or_a_token_to_reconnect_is_refused(
    leases: RefreshLeases,
) -> None:
    now = int(time.time())
    token_id = await _token(leases, "u", obtained=now, lifetime=3600)
    token, _ = await _read(leases, token_id)
    # replaced meanwhile (an upload for the same owner): a new version of the same row
    assert await _token(leases, "u", obtained=now, lifetime=3600) == token_id
    assert not await leases.claim(token, "server-a", now + 60)
    newer, _ = await _read(leases, token_id)
    assert await leases.mark_needs_reconnect(newer, "invalid_grant")
    reconnect, claim = await _read(leases, token_id)
    assert reconnect.needs_reconnect and reconnect.last_refresh_error == "invalid_grant"
    assert claim.owner is None
    assert not await leases.claim(reconnect, "server-a", now + 60)
    # a refusal against a row that changed since is not recorded
    assert not await leases.mark_needs_reconnect(token, "late")


async def test_a_claim_given_back_frees_the_token_for_others(leases: RefreshLeases) -> None:
    now = int(time.time())
    token_id = await _token(leases, "u", obtained=now, lifetime=3600)
    token, _ = await _read(leases, token_id)
    assert await leases.claim(token, "server-a", now + 60)
    await leases.release(token_id, "server-b")  # not the holder: nothing happens
    assert (await _read(leases, token_id))[1].owner == "server-a"
    await leases.release(token_id, "server-a", note="answer may be lost")
    again, claim = await _read(leases, token_id)
    assert claim == Claim(None, 0)
    assert again.last_refresh_error == "answer may be lost"
    assert again.version == token.version
    assert await leases.claim(token, "server-b", now + 60)
    await leases.release(token_id, "server-b")
    assert (await _read(leases, token_id))[0].last_refresh_error == "answer may be lost"


async def test_a_stored_refresh_keeps_what_the_provider_did_not_send(
    leases: RefreshLeases,
) -> None:
    now = int(time.time())
    token_id = await _token(leases, "u", obtained=now - 100, lifetime=200)
    token, _ = await _read(leases, token_id)
    assert await leases.claim(token, "server-a", now + 60)
    stored = await leases.store_refresh(token, _answer("at-2", expires_at=now + 7200))
    assert stored is not None
    assert stored.access_token is not None and stored.access_token.reveal() == "at-2"
    assert stored.refresh_token is not None and stored.refresh_token.reveal() == "rt-u"
    assert stored.access_token_type == token.access_token_type
    assert stored.scopes == token.scopes
    assert stored.access_token_expiry == now + 7200
    assert stored.version == token.version + 1
    assert stored.last_refresh_time >= now
    assert (await _read(leases, token_id))[1] == Claim(None, 0)
    # a rotated refresh token, new scopes and extras replace the old ones
    rotated = await leases.store_refresh(
        stored,
        _answer(
            "at-3",
            refresh_token=Secret("rt-3"),
            id_token=Secret("id-3"),
            token_type="DPoP",
            scopes=["a", "b"],
            subject="sub-3",
            extra={"k": 1},
        ),
    )
    assert rotated is not None
    assert rotated.refresh_token is not None and rotated.refresh_token.reveal() == "rt-3"
    assert rotated.id_token is not None and rotated.id_token.reveal() == "id-3"
    assert (rotated.access_token_type, rotated.scopes) == ("DPoP", ["a", "b"])
    assert (rotated.token_sub, rotated.extra) == ("sub-3", {"k": 1})
    # what another server stored wins: an answer for an older version is not stored
    assert await leases.store_refresh(stored, _answer("at-late")) is None
    latest, _ = await _read(leases, token_id)
    assert latest.access_token is not None and latest.access_token.reveal() == "at-3"


async def test_idle_tokens_are_picked_for_a_keep_alive_refresh(leases: RefreshLeases) -> None:
    now = int(time.time())
    idle = await _token(leases, "idle", obtained=now - 1000, lifetime=3600)
    await _token(leases, "fresh", obtained=now - 10, lifetime=3600)
    assert _ids(await leases.idle(now, 500, 100)) == {idle}
    assert _ids(await leases.idle(now, 1000, 100)) == set()
    assert _ids(await leases.idle(now, 999, 100)) == {idle}
    either = any_of(due_for_refresh_ahead(now, WINDOW), idle_for_refresh(now, 500))
    assert set(either.params) == {"ahead_now", "ahead_until", "idle_before", "idle_now"}
    picked = (await leases.idle(now, 500, 100))[0]
    assert (await leases.claim_picked(picked, either, "round", now + 30)) is not None
    never = any_of()
    assert await leases.claim_picked(picked, never, "round", now + 30) is None


async def test_a_round_takes_over_a_dead_servers_claim_but_not_a_live_one(
    leases: RefreshLeases,
) -> None:
    now = int(time.time())
    token_id = await _token(leases, "u", obtained=now - 3000, lifetime=3010)
    token, _ = await _read(leases, token_id)
    assert await leases.claim(token, "live-server", now + 600)
    assert await leases.expiring(now, WINDOW, 100) == []
    assert await leases.idle(now, 500, 100) == []
    async with leases.db.transaction() as tx:
        await tx.execute(
            "UPDATE tokens SET refresh_claim_until = :until WHERE id = :id",
            {"until": now - 1, "id": token_id},
        )
    assert _ids(await leases.expiring(now, WINDOW, 100)) == {token_id}
    assert _ids(await leases.idle(now, 500, 100)) == {token_id}


async def test_a_transient_failure_gives_the_claim_back_and_backs_off(
    leases: RefreshLeases,
) -> None:
    now = int(time.time())
    token_id = await _token(leases, "u", obtained=now - 3000, lifetime=3010)
    token, _ = await _read(leases, token_id)
    assert await leases.claim(token, "server-a", now + 600)
    await leases.record_transient_failure(token_id, "server-a", "provider answered 503")
    again, claim = await _read(leases, token_id)
    assert claim == Claim(None, 0)
    assert again.last_refresh_error == "provider answered 503"
    assert again.version == token.version
    # backed off: the next rounds leave it alone for a while
    assert await leases.expiring(now, WINDOW, 100) == []


async def test_a_stored_refresh_and_a_refusal_are_audited_with_the_token(
    leases: RefreshLeases,
) -> None:
    now = int(time.time())
    token_id = await _token(leases, "u", obtained=now - 100, lifetime=200)
    token, _ = await _read(leases, token_id)
    stored = await leases.store_refresh(token, _answer("at-2"))
    assert stored is not None
    assert await leases.mark_needs_reconnect(stored, "invalid_grant")
    rows = await leases.db.fetchall(
        "SELECT project_id, action, app_id, user_id, tenant_id, token_id, error_code, detail"
        " FROM audit_events WHERE action = 'token.refresh' ORDER BY seq"
    )
    assert [dict(row) for row in rows] == [
        {
            "project_id": token.project_id,
            "action": "token.refresh",
            "app_id": "app",
            "user_id": "u",
            "tenant_id": "",
            "token_id": token_id,
            "error_code": error_code,
            "detail": "fetch",
        }
        for error_code in ("", "E131010")
    ]
    # a user's token in a tenant: the event names the tenant too
    (in_tenant,) = await leases.store.tokens.put(
        [
            TokenWrite(
                project_id=token.project_id,
                app_id="app",
                user_id="u",
                tenant_id="t1",
                access_token=Secret("at-t"),
                refresh_token=Secret("rt-t"),
            )
        ]
    )
    tenant_token, _ = await _read(leases, in_tenant)
    assert await leases.store_refresh(tenant_token, _answer("at-t2")) is not None
    row = await leases.db.fetchone(
        "SELECT user_id, tenant_id, token_id FROM audit_events WHERE action = 'token.refresh'"
        " ORDER BY seq DESC LIMIT 1"
    )
    assert row is not None and dict(row) == {
        "user_id": "u",
        "tenant_id": "t1",
        "token_id": in_tenant,
    }
