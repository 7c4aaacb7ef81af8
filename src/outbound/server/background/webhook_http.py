"""The one function that sends a webhook over HTTP.

Kept apart and small on purpose: webhook URLs are chosen by API callers, so this is where the
outbound HTTP guard (SSRF checks, allow-list) that protects calls to providers applies too.

Every way a send can fail comes back as a :class:`PostResult` with a reason — the name does
not resolve, the guard refused the address, TLS failed, the connection was refused or reset,
the receiver timed out — so the sender records it as an attempt and retries on its schedule;
nothing escapes as an exception.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass

import httpx

from ...net.guard import NetworkPolicy, UnsafeURL
from ...net.http import provider_http

__all__ = ["WEBHOOK_TIMEOUT", "PostResult", "WebhookHTTP", "failure_reason"]

# Standard Webhooks' advice, and the issue's: a receiver answers within seconds or not at all.
WEBHOOK_TIMEOUT = 10.0


@dataclass(frozen=True)
class PostResult:
    status_code: int  # 0: no HTTP answer
    error: str  # '' when an answer came; else what went wrong, without the URL


def _causes(exc: BaseException) -> list[BaseException]:
    """``exc`` and what it was raised from (httpx wraps httpcore, which wraps the OSError)."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def failure_reason(exc: BaseException) -> str:
    """Why a send failed, in words an operator acts on — never the URL nor an address (an
    exception's text may quote the URL, which may carry a token)."""
    chain = _causes(exc)
    if any(isinstance(e, UnsafeURL) for e in chain):
        return (
            "refused by the network guard: the host is not on an allowed network"
            " (--webhook-allow-networks)"
        )
    if isinstance(exc, httpx.TimeoutException) or any(isinstance(e, TimeoutError) for e in chain):
        return "timeout: no answer within the deadline"
    for cause in chain:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"TLS error: certificate verification failed ({cause.verify_message})"
        if isinstance(cause, ssl.SSLError):
            return f"TLS error: {cause.reason or type(cause).__name__}"
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, ConnectionResetError | BrokenPipeError):
            return "connection reset by the receiver"
        if isinstance(cause, OSError) and cause.errno and cause.strerror:
            return f"connection failed: {cause.strerror}"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "the receiver closed the connection without an HTTP answer"
    if isinstance(exc, httpx.HTTPError):
        return type(exc).__name__
    if isinstance(exc, OSError):
        # Raised by the guard's resolution (and the resolver): the name has no address now.
        return "DNS: the host name does not resolve"
    return f"internal error ({type(exc).__name__})"


class WebhookHTTP:
    def __init__(
        self, timeout: float = WEBHOOK_TIMEOUT, network: NetworkPolicy | None = None
    ) -> None:
        # The providers' guard with the webhooks' policy: public addresses only (or
        # --webhook-allow-networks), checked at each delivery and connected to as checked; no
        # redirects (a 3xx is an answer that is not 2xx, so the delivery is retried), no cookies.
        self._client = provider_http(network or NetworkPolicy(), timeout=timeout)

    async def post(self, url: str, headers: dict[str, str], body: bytes) -> PostResult:
        try:
            # The answer's body is not needed: its status is the outcome.
            async with self._client.stream("POST", url, headers=headers, content=body) as reply:
                return PostResult(reply.status_code, "")
        except (httpx.HTTPError, OSError) as exc:
            # UnsafeURL is a ValueError; OSError covers a name that does not resolve.
            return PostResult(0, failure_reason(exc))
        except UnsafeURL as exc:
            return PostResult(0, failure_reason(exc))

    async def aclose(self) -> None:
        await self._client.aclose()
