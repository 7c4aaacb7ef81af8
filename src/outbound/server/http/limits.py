"""Abuse limits that need no database: failed authentication, and an optional per-key rate.

Failed authentication is counted per client address and per (claimed) project in fixed
one-minute windows. Once either count passes the limit, further *failures* from that address
or against that project answer 429 ``E130429`` with ``Retry-After`` instead of 401, until the
window ends. A request that authenticates is never limited by this, so a flood of bad keys
aimed at a project cannot lock its real clients out.

The per-key limit (``--key-rate-limit``, off by default) is a token bucket per management key
id, applied after the key is verified: a guessed key id cannot spend another key's budget.

Counts live in each server process (bounded: the oldest entries are dropped first); servers
behind a load balancer each apply the limit to what they see.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .auth import claimed_project
from .errors import ApiError

__all__ = ["FailureCounter", "KeyRateLimiter", "Limits"]

WINDOW = 60.0
MAX_ENTRIES = 10_000


@dataclass
class FailureCounter:
    """Failures per key in fixed windows of ``window`` seconds."""

    limit: int
    window: float = WINDOW
    clock: Callable[[], float] = time.monotonic
    _counts: dict[str, tuple[float, int]] = field(default_factory=dict)

    def fail(self, key: str) -> int | None:
        """Count a failure; seconds until the window ends when ``key`` is over the limit."""
        now = self.clock()
        start, count = self._counts.get(key, (now, 0))
        if now - start >= self.window:
            start, count = now, 0
        self._counts[key] = (start, count + 1)
        if len(self._counts) > MAX_ENTRIES:
            del self._counts[next(iter(self._counts))]
        if count + 1 > self.limit:
            return max(1, math.ceil(start + self.window - now))
        return None


@dataclass
class KeyRateLimiter:
    """A token bucket per key id: ``rate`` requests per second, bursts of ``rate`` (at
    least 1)."""

    rate: float
    clock: Callable[[], float] = time.monotonic
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)

    def take(self, key_id: str) -> int | None:
        """Spend one request; seconds to wait when the bucket is empty."""
        now = self.clock()
        burst = max(1.0, self.rate)
        tokens, last = self._buckets.get(key_id, (burst, now))
        tokens = min(burst, tokens + (now - last) * self.rate)
        if tokens < 1:
            self._buckets[key_id] = (tokens, now)
            return max(1, math.ceil((1 - tokens) / self.rate))
        self._buckets[key_id] = (tokens - 1, now)
        if len(self._buckets) > MAX_ENTRIES:
            del self._buckets[next(iter(self._buckets))]
        return None


class Limits:
    def __init__(self, failure_limit: int, key_rate: float) -> None:
        self.addresses = FailureCounter(failure_limit) if failure_limit else None
        self.projects = FailureCounter(failure_limit) if failure_limit else None
        self.keys = KeyRateLimiter(key_rate) if key_rate > 0 else None

    def answer(self, exc: Exception, address: str, authorization: str) -> Exception:
        """What a request that failed with ``exc`` is answered — the one place the hot path and
        the routes turn a failed authentication into a rate limit: E130401 counts against
        ``address`` and the project the ``authorization`` header claims (a 429 once either
        failed too often); any other error is answered as is."""
        if not (isinstance(exc, ApiError) and exc.code == "E130401"):
            return exc
        return self.unauthorized(exc, address, claimed_project(authorization))

    def unauthorized(self, error: ApiError, address: str, project_id: str) -> ApiError:
        """The answer to a failed authentication: ``error`` itself (401), or a 429 once the
        address or the project has failed too often this minute."""
        waits = []
        if self.addresses is not None:
            waits.append(self.addresses.fail(address))
        if self.projects is not None and project_id:
            waits.append(self.projects.fail(project_id[:64]))
        wait = max((w for w in waits if w is not None), default=None)
        if wait is None:
            return error
        return ApiError(
            "E130429",
            "too many failed authentications from this address or against this project;"
            " check the credentials, then retry after Retry-After seconds",
            retry_after=wait,
        )

    def admit(self, key_id: str) -> None:
        """Count one request of a verified key; 429 when the key is over its rate."""
        if self.keys is None:
            return
        wait = self.keys.take(key_id)
        if wait is not None:
            raise ApiError(
                "E130429",
                "this management key is over its request rate (--key-rate-limit)",
                retry_after=wait,
            )
