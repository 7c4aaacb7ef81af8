"""Reaching PostgreSQL at start: wait a bounded time for a database that is not up yet.

Servers are often started together with their database (one compose file, one deploy), so a
refused connection at start is retried with backoff for ``wait`` seconds; after that, or at
once when the server answered and refused us for good (wrong password, no such database), the
start fails with one line naming the host and the reason: never a driver traceback, never a
store half set up.
"""

from __future__ import annotations

import asyncio
import time
from urllib.parse import urlsplit

from .errors import DatabaseUnreachable
from .urls import DatabaseURL

__all__ = ["DatabaseUnreachable", "wait_for_database"]

_FIRST_DELAY = 0.25
_MAX_DELAY = 5.0
# A server that answered with one of these is on its way up (or busy): worth waiting for.
_PASSING = ("starting up", "shutting down", "recovery", "too many")


def where(url: DatabaseURL) -> str:
    """``host:port`` of a PostgreSQL URL, without its credentials."""
    parts = urlsplit(url.raw)
    return f"{parts.hostname or 'localhost'}:{parts.port or 5432}"


def _reason(exc: Exception) -> str:
    # libpq's own text about the connection attempt (the server's address and why it failed);
    # at this point no query ran, so it cannot quote a row. First line only.
    lines = str(exc).strip().splitlines() or [type(exc).__name__]
    reason = lines[0].removeprefix("connection failed: ").strip()
    return " ".join(reason.split())


def _for_good(reason: str) -> bool:
    return "FATAL" in reason and not any(p in reason for p in _PASSING)


async def wait_for_database(url: DatabaseURL, wait: float) -> None:
    """Return once PostgreSQL accepts a connection; raise :class:`DatabaseUnreachable` after
    ``wait`` seconds of refusals (retried with backoff) or at once on a final refusal."""
    import psycopg

    deadline = time.monotonic() + wait
    delay = _FIRST_DELAY
    while True:
        remaining = deadline - time.monotonic()
        try:
            connection = await psycopg.AsyncConnection.connect(
                url.libpq, connect_timeout=max(1, min(10, int(remaining) + 1))
            )
        except psycopg.Error as exc:
            reason = _reason(exc)
            if _for_good(reason) or time.monotonic() + delay > deadline:
                waited = "" if _for_good(reason) else f" after trying for {wait:g} s"
                raise DatabaseUnreachable(
                    f"cannot reach PostgreSQL at {where(url)}{waited}: {reason}"
                ) from None
            await asyncio.sleep(delay)
            delay = min(delay * 2, _MAX_DELAY)
            continue
        await connection.close()
        return
