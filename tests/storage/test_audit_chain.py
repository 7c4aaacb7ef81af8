"""The audit chain in a real database (both backends): retention pruning, key rotation,
concurrent writers, and the ends of the chain (head and anchor) under tampering."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator

import pytest

from outbound.audit import AuditEvent
from outbound.crypto import Keyring
from outbound.storage import DatabaseURL, Store, connect, upgrade
from outbound.storage.audit_events import prune
from outbound.storage.audit_verify import verify_project
from tests.support.database import execute
from tests.support.server import Store as DataStore

KEY_A, KEY_B = os.urandom(32), os.urandom(32)
DAY_MS = 86_400_000


class Opener:
    """Opens outbound stores in this process on the test database, with given master keys."""

    def __init__(self, url: DatabaseURL) -> None:
        self.url = url
        self.opened: list[Store] = []

    async def __call__(self, *keys: bytes) -> Store:
        vault = Store(await connect(self.url), Keyring(list(keys or (KEY_A,))))
        self.opened.append(vault)
        return vault


@pytest.fixture
async def open_store(store: DataStore) -> AsyncIterator[Opener]:
    url = (
        DatabaseURL.parse(store.database_url)
        if store.database_url
        else DatabaseURL.sqlite_in(store.data_dir)
    )
    store.data_dir.mkdir(parents=True, exist_ok=True)
    await asyncio.to_thread(upgrade, url)
    opener = Opener(url)
    yield opener
    for vault in opener.opened:
        await vault.db.close()


def event(project_id: str, n: int, time_ms: int | None = None) -> AuditEvent:
    return AuditEvent(
        project_id,
        "token.fetch",
        "key:abc",
        time_ms if time_ms is not None else int(time.time() * 1000),
        app_id="app",
        user_id=f"user-{n}",
    )


async def test_pruning_keeps_the_rest_verifiable_and_the_anchor_cannot_move(
    open_store: Opener, store: DataStore
) -> None:
    vault = await open_store()
    project = await vault.keys.create_project()
    old = int(time.time() * 1000) - 100 * DAY_MS
    await vault.audit.record(*(event(project, n, old + n) for n in range(6)))
    await vault.audit.record(*(event(project, n) for n in range(6, 10)))

    pruned = await prune(vault.db, vault.keyring, int(time.time() * 1000) - 90 * DAY_MS)

    assert pruned >= 6
    report = await verify_project(vault, project)
    assert report["ok"] is True, report
    assert (report["events"], report["firstSeq"], report["prunedThrough"]) == (4, 7, 6)
    # deleting more of the prefix by hand, and moving the anchor to hide it, is found
    execute(store, "DELETE FROM audit_events WHERE project_id = ? AND seq = 7", (project,))
    report = await verify_project(vault, project)
    assert (report["problem"]["kind"], report["problem"]["seq"]) == ("deleted", 7)
    execute(
        store,
        "UPDATE audit_heads SET anchor_seq = 7 WHERE project_id = ?",
        (project,),
    )
    report = await verify_project(vault, project)
    assert report["problem"]["kind"] == "anchor", report


async def test_a_deleted_newest_event_is_found_through_the_head(
    open_store: Opener, store: DataStore
) -> None:
    vault = await open_store()
    project = await vault.keys.create_project()
    await vault.audit.record(*(event(project, n) for n in range(5)))
    execute(store, "DELETE FROM audit_events WHERE project_id = ? AND seq = 5", (project,))

    report = await verify_project(vault, project)

    assert (report["problem"]["kind"], report["problem"]["seq"]) == ("deleted", 5), report


async def test_a_rotated_master_key_keeps_old_links_verifiable_while_it_is_kept(
    open_store: Opener,
) -> None:
    first = await open_store(KEY_A)
    project = await first.keys.create_project()
    await first.audit.record(*(event(project, n) for n in range(3)))
    rotated = await open_store(KEY_B, KEY_A)
    await rotated.audit.record(*(event(project, n) for n in range(3, 6)))

    assert (await verify_project(rotated, project))["ok"] is True
    without_old = await open_store(KEY_B)
    report = await verify_project(without_old, project)
    assert (report["problem"]["kind"], report["problem"]["seq"]) == ("unknown_key", 1)


async def test_concurrent_writers_never_fork_a_chain(open_store: Opener) -> None:
    first = await open_store()
    project = await first.keys.create_project()
    writers = [first, *[await open_store() for _ in range(3)]]

    async def write(vault: Store, base: int) -> None:
        for n in range(15):
            await vault.audit.record(event(project, base + n))

    await asyncio.gather(*(write(w, i * 100) for i, w in enumerate(writers)))

    report = await verify_project(first, project)
    assert report["ok"] is True, report
    assert (report["events"], report["firstSeq"], report["lastSeq"]) == (60, 1, 60)
