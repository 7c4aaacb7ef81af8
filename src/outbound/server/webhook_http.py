"""The one function that sends a webhook over HTTP.

Kept apart and small on purpose: webhook URLs are chosen by API callers, so this is where the
outbound HTTP guard (SSRF checks, allow-list) that protects calls to providers applies too.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from ..oauth.netguard import NetworkPolicy, UnsafeURL, provider_http

__all__ = ["WEBHOOK_TIMEOUT", "PostResult", "WebhookHTTP"]

# Standard Webhooks' advice, and the issue's: a receiver answers within seconds or not at all.
WEBHOOK_TIMEOUT = 10.0


@dataclass(frozen=True)
class PostResult:
    status_code: int  # 0: no HTTP answer
    error: str  # '' when an answer came; else what went wrong, without the URL


class WebhookHTTP:
    def __init__(
        self, timeout: float = WEBHOOK_TIMEOUT, network: NetworkPolicy | None = None
    ) -> None:
        # The providers' guard: public addresses only (or --provider-allow-networks), checked
        # at each delivery and connected to as checked; no redirects (a 3xx is an answer that
        # is not 2xx, so the delivery is retried), no cookies.
        self._client = provider_http(network or NetworkPolicy(), timeout=timeout)

    async def post(self, url: str, headers: dict[str, str], body: bytes) -> PostResult:
        try:
            # The answer's body is not needed: its status is the outcome.
            async with self._client.stream("POST", url, headers=headers, content=body) as reply:
                return PostResult(reply.status_code, "")
        except UnsafeURL:
            return PostResult(0, "refused: the URL is not on an allowed network")
        except httpx.TimeoutException:
            return PostResult(0, "timeout")
        except httpx.HTTPError as exc:
            # The type only: an exception's text may quote the URL, which may carry a token.
            return PostResult(0, type(exc).__name__)

    async def aclose(self) -> None:
        await self._client.aclose()
