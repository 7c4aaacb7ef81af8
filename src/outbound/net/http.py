"""The HTTP client every call to a provider, an issuer or a webhook receiver goes through.

:func:`provider_http` builds it: on the :class:`~outbound.net.guard.GuardedTransport` (only to
addresses the policy allows, connected to the address that was checked, answers uncompressed),
never following redirects, keeping no cookies, ignoring the environment's proxy settings.
"""

from __future__ import annotations

import typing
from http.cookiejar import Cookie, CookieJar
from urllib.request import Request as UrllibRequest

import httpx

from .guard import DEFAULT_LIMITS, GuardedTransport, NetworkPolicy, Resolver, system_resolve

__all__ = ["provider_http"]


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
