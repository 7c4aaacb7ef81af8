"""One proxied call's conversation with the provider: send, refresh once on 401, retry what
may be retried, and hand back the answer to relay.

- **401**: the token is refreshed once, forced — through the same single-flight refresher as
  every fetch (one in-process flight per token, the database lease across servers, and a
  token another caller has already replaced since ours was read is used as is, not refreshed
  again) — and the call sent once more with the new token, when its body was held
  (``upstream.Body.replayable``). A second 401 is the answer. A refresh the provider refuses
  marks the connection (as any refresh does) and answers E131010; one that fails transiently
  passes the provider's 401 on. For fetch-only keys and users' tokens (``Owner.limited``) a
  token refreshed less than ``FORCE_REFRESH_INTERVAL`` seconds ago is not refreshed again.
- **429, 502, 503, 504**: retried as ``retry.py`` says, within the call's deadline.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import httpx

from ...net import UnsafeURL
from ...storage import TokenRecord
from ..http.errors import ApiError
from ..tokens.fetch import FORCE_REFRESH_INTERVAL
from ..vault import Vault
from .api_base import ProviderApi
from .caller import Owner
from .headers import Headers, inject, inject_query
from .retry import RETRIED_STATUSES, retry_after, wait_before_retry
from .upstream import Body

__all__ = ["Exchange"]

Sleep = Callable[[float], Awaitable[None]]


def unreachable(reason: str) -> ApiError:
    return ApiError("E131022", f"the provider could not be reached: {reason}")


def too_slow(timeout: float) -> ApiError:
    return ApiError("E131024", f"the provider did not answer within {timeout:g} s")


class Exchange:
    """Sends one proxied call (its attempts) and returns the provider's answer, still
    streaming; the caller relays it and closes it."""

    def __init__(
        self,
        vault: Vault,
        client: httpx.AsyncClient,
        owner: Owner,
        *,
        timeout: float,
        max_retry_after: float,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.vault = vault
        self.client = client
        self.owner = owner
        self.timeout = timeout
        self.max_retry_after = max_retry_after
        self.sleep = sleep
        self.deadline = time.monotonic() + timeout
        self.attempts = 0
        self.refreshed = False

    async def run(
        self,
        method: str,
        url: httpx.URL,
        headers: Headers,
        body: Body,
        token: TokenRecord,
        api: ProviderApi,
        retries: int,
    ) -> httpx.Response:
        """The provider's final answer (status and headers read, body still to stream)."""
        while True:
            response = await self._send(method, url, headers, body, token, api)
            status = response.status_code
            if status == 401 and not self.refreshed and body.replayable:
                self.refreshed = True
                newer = await self._after_401(token, response)
                if newer is not None:
                    await response.aclose()
                    token = newer
                    continue
                return response
            if status in RETRIED_STATUSES and self.attempts < retries and body.replayable:
                wait = wait_before_retry(
                    self.attempts + 1,
                    retry_after(response.headers.get("retry-after"), time.time()),
                    max_retry_after=self.max_retry_after,
                    time_left=self.deadline - time.monotonic(),
                )
                if wait is not None:
                    await response.aclose()
                    self.attempts += 1
                    await self.sleep(wait)
                    continue
            return response

    async def _send(
        self,
        method: str,
        url: httpx.URL,
        headers: Headers,
        body: Body,
        token: TokenRecord,
        api: ProviderApi,
    ) -> httpx.Response:
        assert token.access_token is not None
        secret = token.access_token.reveal()
        credential = api.credential(token.access_token_type)
        if credential.query:
            url = url.copy_with(query=inject_query(url.query, credential, secret))
        request = self.client.build_request(
            method, url, headers=inject(headers, credential, secret), content=body.content()
        )
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise too_slow(self.timeout)
        try:
            async with asyncio.timeout(left):
                return await self.client.send(request, stream=True)
        except TimeoutError:
            raise too_slow(self.timeout) from None
        except httpx.TimeoutException:
            raise too_slow(self.timeout) from None
        except UnsafeURL as exc:
            raise unreachable(f"refused by the network guard ({exc})") from None
        except (httpx.TransportError, OSError) as exc:
            raise unreachable(type(exc).__name__) from None

    async def _after_401(self, token: TokenRecord, response: httpx.Response) -> TokenRecord | None:
        """A token to try again with, or None (the 401 is the answer)."""
        if token.refresh_token is None:
            return None
        owner = self.owner
        if owner.limited and time.time() - token.last_refresh_time < FORCE_REFRESH_INTERVAL:
            # Refreshed moments ago: only a token someone else has stored since is tried.
            current = await self.vault.tokens.fetch(
                owner.project_id, owner.app_id, owner.user_id, owner.tenant_id
            )
            return current if current.version != token.version else None
        try:
            newer = await self.vault.tokens.refresher.refresh(token, force=True)
        except ApiError as exc:
            if exc.code == "E131011":  # transient: the provider's 401 is the answer
                return None
            await response.aclose()
            raise
        return newer if newer.access_token != token.access_token else None
