"""Startup and shutdown (``server/startup.py``): a step that fails unwinds every step before it.

The metrics listener starts last; with its port taken, the start fails — and by then the store,
the OAuth client, the audit writer and every background loop have started. None may be left
running, and the database must be closed, as after a clean stop.
"""

from __future__ import annotations

import asyncio
import errno
import socket
from pathlib import Path

import pytest

from outbound.server import startup
from outbound.server.config import Settings
from outbound.server.open_store import open_store as open_store_as_built
from outbound.storage import Store


def _outbound_tasks() -> list[asyncio.Task[object]]:
    return [t for t in asyncio.all_tasks() if t.get_name().startswith("outbound-") and not t.done()]


def _track_close(monkeypatch: pytest.MonkeyPatch) -> list[Store]:
    """The stores ``startup`` opens, each marked ``closed`` once its database is closed."""
    opened: list[Store] = []
    real_open = open_store_as_built

    async def open_store(settings: Settings) -> Store:
        store = await real_open(settings)
        close = store.db.close

        async def closing() -> None:
            await close()
            store.closed = True  # type: ignore[attr-defined]

        store.db.close = closing  # type: ignore[method-assign]
        opened.append(store)
        return store

    monkeypatch.setattr(startup, "open_store", open_store)
    return opened


def _settings(tmp_path: Path, metrics_port: int) -> Settings:
    # every loop on, refresh ahead included, so that each has a task to leave behind
    return Settings(
        data_dir=tmp_path,
        metrics_host="127.0.0.1",
        metrics_port=metrics_port,
        refresh_ahead=600,
        audit_retention_days=30,
    )


async def test_a_failing_last_step_unwinds_every_step_before_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened = _track_close(monkeypatch)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(OSError) as raised:
            async with startup.serving(_settings(tmp_path, port)):
                pytest.fail("the server started with its metrics port taken")
    assert raised.value.errno == errno.EADDRINUSE
    [store] = opened
    assert getattr(store, "closed", False), "the database was left open"
    assert _outbound_tasks() == []


async def test_a_clean_stop_stops_every_loop_and_closes_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened = _track_close(monkeypatch)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with startup.serving(_settings(tmp_path, port)) as vault:
        names = {t.get_name() for t in _outbound_tasks()}
        assert {"outbound-metrics", "outbound-connect-sessions"} <= names
        assert vault.store is opened[0]
    assert getattr(opened[0], "closed", False)
    assert _outbound_tasks() == []
