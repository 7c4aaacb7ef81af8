"""One supervisor for every background loop a server runs.

Each loop has ``start()`` (creates its task, or nothing when its setting turns it off) and
``async stop()``. The supervisor starts them in order and stops them in reverse — on a clean
stop and just as well when a later start fails — because each start is pushed on one
``AsyncExitStack``: a loop is stopped if and only if it was started.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Protocol

__all__ = ["Loop", "Supervisor"]


class Loop(Protocol):
    def start(self) -> None: ...
    async def stop(self) -> None: ...


class Supervisor:
    """Starts loops and stops them, the last started first."""

    def __init__(self, stack: AsyncExitStack) -> None:
        self._stack = stack

    def start(self, loop: Loop) -> None:
        loop.start()
        self._stack.push_async_callback(loop.stop)

    def on_stop(self, callback: Callable[[], Awaitable[object]]) -> None:
        """Run ``callback`` at the stop, where a loop started now would stop (a drain)."""
        self._stack.push_async_callback(callback)
