"""The proxy's side of the wire to providers: one guarded HTTP client, and the caller's body.

Every proxied connection goes through the network guard's transport (``GuardedTransport``):
the host is resolved once per request, every address checked against
``--provider-allow-networks``, and the connection made to a checked address. Redirects are
passed back to the caller, never followed; no cookie is kept. Compressed answers pass through
as they are (the proxy never inflates them) and the caller's ``Accept-Encoding`` is sent on.

A request body is read up to :data:`REPLAY_LIMIT` bytes first: a body that ends within it is
held, so the call can be sent again (after a 401's refresh, or a 429/5xx); a longer one is
streamed on as it arrives — the bytes already read, then the rest — and cannot be replayed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
from starlette.types import Receive

from ...net import NetworkPolicy, provider_http
from ..http.errors import ApiError

__all__ = ["REPLAY_LIMIT", "Body", "read_body", "upstream_client"]

REPLAY_LIMIT = 1024 * 1024
# Keep-alive connections to providers: one process's proxied calls share them.
_LIMITS = httpx.Limits(max_connections=512, max_keepalive_connections=128, keepalive_expiry=30)


def upstream_client(policy: NetworkPolicy, timeout: float) -> httpx.AsyncClient:
    """The client every proxied call goes through: guarded, no redirects, no cookies, no
    proxy from the environment; ``timeout`` bounds connecting and each read and write (the
    call as a whole is bounded by its deadline)."""
    return provider_http(
        policy,
        timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
        limits=_LIMITS,
        pass_encoded=True,
    )


def _gone() -> ApiError:
    return ApiError("E130408", "the client went away before its request body was complete")


@dataclass
class Body:
    """A request body: held whole (``replayable``), or streamed once from the caller."""

    held: bytes | None
    _first: bytes = b""
    _receive: Receive | None = None

    @property
    def replayable(self) -> bool:
        return self.held is not None

    def content(self) -> bytes | AsyncIterator[bytes] | None:
        """What httpx sends: the held bytes (again), or the stream (once)."""
        if self.held is not None:
            return self.held or None
        return self._stream()

    async def _stream(self) -> AsyncIterator[bytes]:
        receive, self._receive = self._receive, None
        if receive is None:
            raise RuntimeError("a streamed request body can be sent once")
        yield self._first
        self._first = b""
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _gone()
            chunk = message.get("body", b"")
            if chunk:
                yield chunk
            if not message.get("more_body", False):
                return


async def read_body(receive: Receive) -> Body:
    """The caller's body: held when it ends within :data:`REPLAY_LIMIT` bytes, else the
    first part read and the rest left to stream."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _gone()
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if not message.get("more_body", False):
            return Body(b"".join(chunks))
        if size > REPLAY_LIMIT:
            return Body(None, b"".join(chunks), receive)
