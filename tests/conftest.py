"""Fixtures shared by the whole suite: real servers on both storage backends."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.support.server import LiveServer, Store, postgres_database, running_server

pytest_plugins = ["tests.support.strict_run"]

BACKENDS = ["sqlite", "postgres"]
if os.environ.get("OUTBOUND_TEST_BACKENDS"):
    BACKENDS = os.environ["OUTBOUND_TEST_BACKENDS"].split(",")

T = TypeVar("T")


class PerBackend:
    """What a session keeps once per backend (a store, its servers) until the session ends.

    A session fixture parametrized by ``backend`` is torn down whenever the next test asks for
    the other backend. Run serially, pytest orders the tests so that happens once; on several
    workers (scripts/test), each worker takes whole files, and every file switches backends:
    without this, every file would start its servers anew."""

    def __init__(self, stack: contextlib.ExitStack) -> None:
        self._stack = stack
        self._kept: dict[tuple[str, str], Any] = {}

    def get(
        self, what: str, backend: str, make: Callable[[], contextlib.AbstractContextManager[T]]
    ) -> T:
        key = (what, backend)
        if key not in self._kept:
            self._kept[key] = self._stack.enter_context(make())
        found: T = self._kept[key]
        return found


@pytest.fixture(scope="session")
def per_backend() -> Iterator[PerBackend]:
    # Closed last in, first out: servers stop before their store's database is dropped.
    with contextlib.ExitStack() as stack:
        yield PerBackend(stack)


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@contextlib.contextmanager
def new_store(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    data_dir: Path = tmp_path_factory.mktemp(f"outbound-{backend}")
    if backend == "postgres":
        with postgres_database() as url:
            yield Store(data_dir, url)
    else:
        yield Store(data_dir)


@pytest.fixture(scope="session")
def store(backend: str, per_backend: PerBackend, tmp_path_factory: pytest.TempPathFactory) -> Store:
    return per_backend.get("store", backend, lambda: new_store(backend, tmp_path_factory))


@pytest.fixture(scope="session")
def live_server(backend: str, store: Store, per_backend: PerBackend) -> LiveServer:
    """A real ``outbound serve`` process with a project of its own."""
    return per_backend.get("live_server", backend, lambda: running_server(store))


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """On several workers, which take whole files (scripts/test), files with a long test
    (marked slow) start first: one started last would keep its worker, and the run, going
    long after the others are done."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return
    long_files = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in long_files)
