"""Bounded caches for what providers send (discovery documents, issuers' key sets).

Every project's apps share one server process, so a cache keyed by a URL a key holder
chooses must be bounded twice — in entries and in bytes — or one project could fill the
server's memory with documents. Least recently used entries go first.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from collections.abc import AsyncIterator
from typing import Generic, TypeVar

__all__ = ["BoundedCache", "KeyedLocks"]

K = TypeVar("K")
V = TypeVar("V")


class BoundedCache(Generic[K, V]):
    """A least-recently-used map holding at most ``max_entries`` values whose sizes (as the
    caller measured them, in bytes) add up to at most ``max_bytes``."""

    def __init__(self, *, max_entries: int, max_bytes: int) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._items: OrderedDict[K, tuple[V, int]] = OrderedDict()
        self._bytes = 0

    def get(self, key: K) -> V | None:
        item = self._items.get(key)
        if item is None:
            return None
        self._items.move_to_end(key)
        return item[0]

    def put(self, key: K, value: V, size: int) -> None:
        """Keep ``value`` unless it alone exceeds ``max_bytes``; evict the least recently
        used entries until both bounds hold."""
        self.pop(key)
        if size > self.max_bytes or self.max_entries <= 0:
            return
        self._items[key] = (value, size)
        self._bytes += size
        while len(self._items) > self.max_entries or self._bytes > self.max_bytes:
            _, (_, evicted) = self._items.popitem(last=False)
            self._bytes -= evicted

    def pop(self, key: K) -> V | None:
        item = self._items.pop(key, None)
        if item is None:
            return None
        self._bytes -= item[1]
        return item[0]

    def __len__(self) -> int:
        return len(self._items)

    @property
    def bytes(self) -> int:
        return self._bytes


class KeyedLocks(Generic[K]):
    """One :class:`asyncio.Lock` per key, forgotten when nobody holds or awaits it, so the
    set of keys (URLs chosen by key holders) cannot grow without bound."""

    def __init__(self) -> None:
        self._locks: dict[K, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: K) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    def __len__(self) -> int:
        return len(self._locks)
