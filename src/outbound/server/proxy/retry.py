"""When the proxy asks the provider again, and how long it waits first.

Retried answers: 429 and 502/503/504 — the provider (or a gateway before it) says it could
not answer *now*. Only when the request can be sent again as it was (its body buffered, see
``handler``) and only:

- for idempotent methods (RFC 9110 §9.2.2: GET, HEAD, OPTIONS, PUT, DELETE), at most
  :data:`DEFAULT_RETRIES` times unless the caller sends ``Outbound-Retries: N``;
- for POST and PATCH only when the caller sends ``Outbound-Retries: N`` (it knows the call
  is safe to repeat, say with an ``Idempotency-Key``);
- never more than :data:`MAX_RETRIES` times.

The wait: the provider's ``Retry-After`` (seconds or an HTTP date) when it gives one — and
when it asks for more than ``max_retry_after`` seconds (``--proxy-max-retry-after``), its
answer is returned at once instead of holding the caller (a proxy that honours a one-hour
Retry-After piles requests up). Without one, exponential backoff from
:data:`BACKOFF_BASE` with full jitter. A wait that would end past the call's deadline
(``--proxy-timeout``) is not waited: the answer in hand is returned.
"""

from __future__ import annotations

import email.utils
import random
from collections.abc import Callable

__all__ = [
    "BACKOFF_BASE",
    "DEFAULT_RETRIES",
    "IDEMPOTENT",
    "MAX_RETRIES",
    "RETRIED_STATUSES",
    "allowed_retries",
    "retry_after",
    "wait_before_retry",
]

RETRIED_STATUSES = frozenset({429, 502, 503, 504})
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
DEFAULT_RETRIES = 2
MAX_RETRIES = 5
BACKOFF_BASE = 0.25


def allowed_retries(method: str, header: bytes | None) -> int:
    """How many times a call may be retried: ``Outbound-Retries`` (0 to 5) when sent, else
    :data:`DEFAULT_RETRIES` for idempotent methods and 0 for the others. ``ValueError`` for a
    header that is not a small number."""
    if header is not None:
        text = header.strip()
        if not text.isdigit() or len(text) > 2:
            raise ValueError("Outbound-Retries must be a number from 0 to 5")
        return min(int(text), MAX_RETRIES)
    return DEFAULT_RETRIES if method in IDEMPOTENT else 0


def retry_after(value: str | None, now: float) -> float | None:
    """Seconds a ``Retry-After`` value asks to wait (delay-seconds or an HTTP date); None
    when absent or unreadable."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - now)


def wait_before_retry(
    attempt: int,
    retry_after_seconds: float | None,
    *,
    max_retry_after: float,
    time_left: float,
    rand: Callable[[], float] = random.random,
) -> float | None:
    """Seconds to wait before retry number ``attempt`` (1 for the first), or None: do not
    retry (the provider asks for longer than ``max_retry_after``, or the wait would not end
    within ``time_left``)."""
    if retry_after_seconds is not None:
        if retry_after_seconds > max_retry_after:
            return None
        # A little jitter on top, so that callers told the same second do not all come back
        # in the same millisecond.
        wait = retry_after_seconds + 0.1 * rand()
    else:
        wait = BACKOFF_BASE * (2 ** (attempt - 1)) * rand()
    return wait if wait < time_left else None
