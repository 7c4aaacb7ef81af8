"""Fixtures shared by the whole suite: real servers on both storage backends."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.server import LiveServer, Store, postgres_database, running_server

BACKENDS = ["sqlite", "postgres"]
if os.environ.get("OUTBOUND_TEST_BACKENDS"):
    BACKENDS = os.environ["OUTBOUND_TEST_BACKENDS"].split(",")


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def store(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    data_dir: Path = tmp_path_factory.mktemp(f"outbound-{backend}")
    if backend == "postgres":
        with postgres_database() as url:
            yield Store(data_dir, url)
    else:
        yield Store(data_dir)


@pytest.fixture(scope="session")
def live_server(store: Store) -> Iterator[LiveServer]:
    """A real ``outbound serve`` process with a project of its own."""
    with running_server(store) as server:
        yield server
