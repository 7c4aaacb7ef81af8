"""The HTTP client every call to a provider, an issuer or a webhook receiver goes through.

:func:`provider_http` builds it: on the :class:`~outbound.net.guard.GuardedTransport` (only to
addresses the policy allows, connected to the address that was checked, answers uncompressed),
never following redirects, keeping no cookies, ignoring the environment's proxy settings.
:func:`read_capped` sends one request on such a client and reads its answer up to a byte cap
(the body is streamed and reading stops past the cap: a provider cannot fill memory).
"""

from __future__ import annotations

import typing
from dataclasses import dataclass
from http.cookiejar import Cookie, CookieJar
from urllib.request import Request as UrllibRequest

import httpx

from .guard import DEFAULT_LIMITS, GuardedTransport, NetworkPolicy, Resolver, system_resolve

__all__ = ["Answer", "AnswerTooLarge", "provider_http", "read_capped"]


class _NoCookies(CookieJar):
    """A jar that keeps nothing: a cookie one provider sets must never ride along on another
    project's request (one jar is shared by every project's calls)."""

    def set_cookie(self, cookie: Cookie) -> None:
        return None

    def extract_cookies(self, response: typing.Any, request: UrllibRequest) -> None:
        return None

    def set_cookie_if_ok(self, cookie: Cookie, request: UrllibRequest) -> None:
        return None


def provider_http(
    policy: NetworkPolicy,
    *,
    timeout: float | httpx.Timeout = 10.0,
    resolve: Resolver = system_resolve,
    verify: bool | str = True,
    limits: httpx.Limits = DEFAULT_LIMITS,
    pass_encoded: bool = False,
) -> httpx.AsyncClient:
    """The HTTP client for calls to providers and issuers: guarded by ``policy``, never
    following redirects, keeping no cookies, ignoring proxy settings of the environment.
    ``pass_encoded``: compressed answers pass through unread (the provider-API proxy)."""
    return httpx.AsyncClient(
        transport=GuardedTransport(
            policy, resolve=resolve, verify=verify, limits=limits, pass_encoded=pass_encoded
        ),
        follow_redirects=False,
        cookies=_NoCookies(),
        trust_env=False,
        timeout=timeout,
    )


@dataclass(frozen=True)
class Answer:
    """A whole answer, read within its cap."""

    status: int
    headers: httpx.Headers
    body: bytes

    @property
    def content_type(self) -> str:
        return str(self.headers.get("content-type", ""))


class AnswerTooLarge(Exception):
    """The answer announced, or sent, more than ``cap`` bytes; reading stopped there."""

    def __init__(self, status: int, cap: int) -> None:
        super().__init__(f"the answer is larger than {cap} bytes")
        self.status = status
        self.cap = cap


async def read_capped(
    http: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    headers: dict[str, str],
    content: bytes | None,
    timeout: httpx.Timeout,
    cap: int,
) -> Answer:
    """Send one request (never following a redirect: a redirected POST would carry its
    credentials somewhere else) and read the answer whole, or raise :class:`AnswerTooLarge`
    as soon as it announces or sends more than ``cap`` bytes."""
    async with http.stream(
        method, url, headers=headers, content=content, timeout=timeout, follow_redirects=False
    ) as response:
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            raise AnswerTooLarge(response.status_code, cap)
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > cap:
                raise AnswerTooLarge(response.status_code, cap)
            chunks.append(chunk)
        return Answer(response.status_code, response.headers, b"".join(chunks))
