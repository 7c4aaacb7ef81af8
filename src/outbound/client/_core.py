"""The SDK's I/O-free core: what to send, how to read the answer, when to try again.

Both clients drive the same generator, :func:`exchange`. It yields a :class:`Send` (the
transport performs it and sends back a :class:`Reply`) or a :class:`Wait` (the transport
sleeps, with ``time.sleep`` or ``asyncio.sleep``), and finally returns the parsed result or
raises an :class:`~outbound.client.OutboundError`. So retries, error mapping and logging
exist once; the sync and async clients only move bytes.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Generator, Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlencode

from ..secret import Secret
from ._exceptions import error_from_response, parse_retry_after, token_exchange_error
from ._masking import MaskedDict, redact

__all__ = [
    "ApiRequest",
    "Exchange",
    "Reply",
    "RetryPolicy",
    "Send",
    "Wait",
    "decode_json",
    "exchange",
]

logger = logging.getLogger("outbound.client")

JSONBody = dict[str, Any]


@dataclass(frozen=True, slots=True)
class ApiRequest:
    """One management API call, before it meets a transport."""

    method: Literal["GET", "POST", "DELETE"]
    path: str
    body: JSONBody | None = None
    params: Mapping[str, str] | None = None
    # Safe to send twice: a repeat leaves the server as one send would. Only these are
    # retried after a 502/503/504, where the first attempt may or may not have landed.
    idempotent: bool = True
    # A user's access token that authenticates this call instead of the management key
    # (outbound_application_by_token).
    credential: Secret | None = None
    # An OAuth form (the token-exchange endpoint): sent urlencoded, with no Authorization
    # header (its credential is in the form), its errors read as RFC 6749 §5.2 answers.
    form: Mapping[str, str] | None = None

    def encoded_body(self) -> bytes | None:
        if self.form is not None:
            return urlencode(self.form).encode()
        if self.body is None:
            return None
        return json.dumps(self.body, separators=(",", ":")).encode()


@dataclass(frozen=True, slots=True)
class Send:
    request: ApiRequest
    attempt: int


@dataclass(frozen=True, slots=True)
class Wait:
    seconds: float


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    headers: Mapping[str, str]
    content: bytes


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """When to try a call again, and how long to wait first.

    429 is retried for every call: the server refused it before doing anything. 502, 503 and
    504 are retried only for idempotent calls, because the first attempt may have landed.
    A provider-unavailable answer (E131011) is never retried: the vault has already waited on
    the provider. The wait honours ``Retry-After``; otherwise it grows exponentially (with
    jitter, so many clients do not retry in step). A ``Retry-After`` longer than ``max_wait`` is not
    slept through: the error is raised at once for the caller to decide.
    """

    max_retries: int = 3
    backoff: float = 0.25
    max_wait: float = 30.0

    RETRY_ON_ANY = frozenset({429})
    RETRY_IF_IDEMPOTENT = frozenset({502, 503, 504})
    PROVIDER_UNAVAILABLE = b'"E131011"'

    def delay(self, request: ApiRequest, attempt: int, reply: Reply) -> float | None:
        """Seconds to wait before attempt ``attempt + 1``, or ``None`` to stop here."""
        if attempt > self.max_retries:
            return None
        status = reply.status
        if status not in self.RETRY_ON_ANY and not (
            request.idempotent and status in self.RETRY_IF_IDEMPOTENT
        ):
            return None
        if self.PROVIDER_UNAVAILABLE in reply.content:
            # The vault itself waited on the provider and failed: asking again at once only
            # piles more requests on a provider in trouble. The caller gets the error, with
            # its retry_after, promptly.
            return None
        if "retry-after" in reply.headers:
            wait = float(parse_retry_after(reply.headers))
            return wait if wait <= self.max_wait else None
        exponential: float = self.backoff * 2 ** (attempt - 1)
        return min(self.max_wait, exponential * (0.5 + random.random() / 2))


def decode_json(content: bytes) -> MaskedDict:
    if not content:
        return MaskedDict()
    decoded = json.loads(content, object_hook=MaskedDict)
    if not isinstance(decoded, MaskedDict):
        raise ValueError("the server answered JSON that is not an object")
    return decoded


Exchange = Generator[Send | Wait, Reply | None, MaskedDict]


def exchange(request: ApiRequest, policy: RetryPolicy) -> Exchange:
    """Send ``request`` (retrying per ``policy``) and return its parsed answer."""
    debug = logger.isEnabledFor(logging.DEBUG)
    attempt = 1
    while True:
        if debug:
            logger.debug(
                "-> %s %s params=%s body=%s attempt=%d",
                request.method,
                request.path,
                dict(request.params or {}),
                redact(request.body),
                attempt,
            )
        reply = yield Send(request, attempt)
        assert reply is not None
        if debug:
            logger.debug(
                "<- %s %s %d body=%s",
                request.method,
                request.path,
                reply.status,
                _redacted_content(reply.content),
            )
        if 200 <= reply.status < 300:
            return decode_json(reply.content)
        wait = policy.delay(request, attempt, reply)
        if wait is None:
            if request.form is not None:
                raise token_exchange_error(reply.status, reply.headers, reply.content)
            raise error_from_response(reply.status, reply.headers, reply.content)
        logger.info(
            "%s %s answered %d; retrying in %.2fs (attempt %d of %d)",
            request.method,
            request.path,
            reply.status,
            wait,
            attempt + 1,
            policy.max_retries + 1,
        )
        yield Wait(wait)
        attempt += 1


def _redacted_content(content: bytes) -> object:
    try:
        return redact(json.loads(content)) if content else ""
    except ValueError:
        return f"<{len(content)} bytes, not JSON>"
