"""One bounded HTTP exchange with a provider, and every way it can fail as an OAuth error.

Every request is bounded three ways: connect/read timeouts, an overall deadline (a provider
that trickles one byte a second cannot hold a caller), and ``max_response_bytes`` (read by
:func:`outbound.net.http.read_capped`: the body is streamed and reading stops past the cap).

Unless a caller hands in its own ``http`` client, every request goes through
:func:`outbound.net.http.provider_http`: only to addresses the
:class:`~outbound.net.guard.NetworkPolicy` allows (public ones, or the operator's allowed
networks), connected to the address that was checked, with no redirects and no cookies kept.

What went wrong is sorted by what the caller may do next: a request refused before any
connection (the guard, a bad URL) is an :class:`OAuthConfigError`; a connection that broke
after the request went out is :data:`ANSWER_LOST` (the provider may have acted on it); a
timeout says whether the request may have been sent (``answer_may_be_lost``).
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import httpx

from .._version import __version__
from ..net.guard import EncodingRefused, NetworkPolicy, UnsafeURL
from ..net.http import Answer, AnswerTooLarge, provider_http, read_capped
from .errors import ANSWER_LOST, OAuthConfigError, OAuthError, TransientOAuthError

__all__ = ["USER_AGENT", "ProviderHTTP"]

USER_AGENT = f"outbound/{__version__}"


class ProviderHTTP:
    """Sends the engine's requests. ``guarded``: through the network guard (the client was
    built here); a caller's own ``http`` client is used as it is and left open on
    :meth:`aclose`."""

    def __init__(
        self,
        http: httpx.AsyncClient | None,
        *,
        timeout: float,
        max_response_bytes: int,
        network: NetworkPolicy | None,
    ) -> None:
        self.guarded = http is None
        self._http = http if http is not None else provider_http(network or NetworkPolicy())
        self._deadline = timeout
        self._timeouts = httpx.Timeout(timeout, connect=min(timeout, 5.0))
        self.max_response_bytes = max_response_bytes

    async def aclose(self) -> None:
        if self.guarded:
            await self._http.aclose()

    async def send(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        body: bytes | None,
        timeout: float | None = None,
        *,
        cap: int | None = None,
    ) -> Answer:
        """The whole answer to one request, within ``timeout`` (default: the client's
        deadline) and ``cap`` bytes (never more than ``max_response_bytes``)."""
        host = urlsplit(url).hostname or "?"
        headers = {"User-Agent": USER_AGENT, **headers}
        deadline = self._deadline if timeout is None else timeout
        cap = min(cap or self.max_response_bytes, self.max_response_bytes)
        timeouts = (
            self._timeouts
            if deadline == self._deadline
            else httpx.Timeout(deadline, connect=min(self._deadline, 5.0))
        )
        try:
            async with asyncio.timeout(deadline):
                return await read_capped(
                    self._http,
                    method,
                    url,
                    headers=headers,
                    content=body,
                    timeout=timeouts,
                    cap=cap,
                )
        except AnswerTooLarge as exc:
            raise TransientOAuthError(
                "response_too_large",
                f"{host} sent more than {exc.cap} bytes",
                status_code=exc.status,
            ) from None
        # TimeoutError is an OSError; every httpx failure here is a TransportError, but
        # InvalidURL.
        except (UnsafeURL, OSError, httpx.TransportError, httpx.InvalidURL) as exc:
            quiet = isinstance(exc, UnsafeURL) or (
                isinstance(exc, OSError) and not isinstance(exc, TimeoutError)
            )
            raise _as_oauth_error(exc, host, deadline) from (None if quiet else exc)


def _as_oauth_error(exc: Exception, host: str, deadline: float) -> OAuthError:
    """What a failed exchange means to the engine's caller."""
    if isinstance(exc, UnsafeURL):
        # Refused before any connection was made: the app must point elsewhere.
        return OAuthConfigError("forbidden_url", str(exc))
    if isinstance(exc, httpx.ReadError | httpx.RemoteProtocolError):
        # The request went out (httpx reads only once it is written): the provider may
        # have acted on it and answered to a connection that broke.
        return TransientOAuthError(
            ANSWER_LOST,
            f"the connection to {host} broke before its answer arrived",
            answer_may_be_lost=True,
        )
    if isinstance(exc, TimeoutError | httpx.TimeoutException):
        # Past a connect or pool timeout nothing was sent; any other timeout may have
        # left the provider acting on a request whose answer we stopped reading.
        unsent = isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout)
        return TransientOAuthError(
            "timeout", f"{host} did not answer within {deadline:g} s", answer_may_be_lost=not unsent
        )
    if isinstance(exc, OSError):  # the name does not resolve (now)
        return TransientOAuthError(
            "connection_error", f"talking to {host} failed ({type(exc).__name__})"
        )
    if isinstance(exc, EncodingRefused):
        return TransientOAuthError(
            "response_encoding",
            f"{host} sent a compressed answer though only identity was accepted",
        )
    if isinstance(exc, httpx.UnsupportedProtocol):
        return OAuthConfigError("invalid_url", f"cannot send a request to {host}")
    if isinstance(exc, httpx.TransportError):
        return TransientOAuthError(
            "connection_error", f"talking to {host} failed ({type(exc).__name__})"
        )
    return OAuthConfigError("invalid_url", "the provider URL is invalid")  # httpx.InvalidURL
