"""The server's background loops (webhook sender, audit flush and retention, refresh ahead,
metrics counter): how one stops."""

from __future__ import annotations

import asyncio
import contextlib


async def stop_task(task: asyncio.Task[None] | None) -> None:
    """Cancel ``task`` (None: not started) and wait until it has ended, so nothing it does
    runs past the caller's shutdown; its cancellation is the expected end, not an error."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
