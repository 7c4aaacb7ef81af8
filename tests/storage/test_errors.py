"""Storage's errors share one root (issue 21): every exception class a storage module defines
or raises as its own is a :class:`StorageError`, and the ones callers catch as ``ValueError``
still are."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import outbound.storage
from outbound.storage import errors
from outbound.storage.errors import StorageError


def test_every_storage_exception_has_the_one_root() -> None:
    found = set()
    for module_info in pkgutil.iter_modules(outbound.storage.__path__):
        module = importlib.import_module(f"outbound.storage.{module_info.name}")
        for _, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, Exception) and value.__module__.startswith("outbound.storage"):
                found.add(value)
                assert issubclass(value, StorageError), value
    assert found == {getattr(errors, name) for name in errors.__all__}


def test_value_errors_stay_value_errors() -> None:
    assert issubclass(errors.InvalidCursor, ValueError)
    assert issubclass(errors.DatabaseUnreachable, ValueError)
    assert issubclass(errors.TooManyPending, errors.LimitReached)
    assert issubclass(errors.TooManyWebhooks, errors.LimitReached)
