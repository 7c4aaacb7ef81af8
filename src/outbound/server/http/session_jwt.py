"""Verifying an end user's session token (a JWT) against the project's configured issuer.

The signature is checked by PyJWT against the issuer's published JWKS; only RS256 and ES256
are accepted (never ``none``, never a shared-secret HS* algorithm, whatever the token's header
claims). The JWKS is fetched with a timeout and a size cap, cached for ``JWKS_TTL`` seconds,
and fetched again once when a token names a key id the cached set does not hold (the issuer
rotated its keys) — at most every ``JWKS_REFETCH_INTERVAL`` seconds, so tokens with made-up key
ids cannot make the server hammer the issuer. The JWKS URL is reached through the same network
guard as every provider call (:func:`outbound.net.http.provider_http`), and the cache is
bounded in entries and bytes (LRU).

Every failure is a :class:`SessionTokenError` whose message says what failed and never quotes
the token.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt

from ...net.guard import NetworkPolicy, UnsafeURL
from ...net.http import provider_http
from ...oauth.lru import BoundedCache, KeyedLocks
from ...storage.session_issuers import SessionIssuer

__all__ = [
    "ALGORITHMS",
    "JWKS_TTL",
    "LEEWAY",
    "JwksCache",
    "SessionTokenError",
    "verify_session_token",
]

ALGORITHMS = ("RS256", "ES256")
LEEWAY = 60
JWKS_TTL = 300.0
JWKS_REFETCH_INTERVAL = 30.0
JWKS_TIMEOUT = 5.0
JWKS_MAX_BYTES = 256 * 1024
JWKS_CACHE_ENTRIES = 1024
JWKS_CACHE_BYTES = 8 * 1024 * 1024


class SessionTokenError(Exception):
    """The session token is not acceptable; the message says why, without the token."""


@dataclass
class _KeySet:
    keys: dict[str | None, jwt.PyJWK]
    fetched_at: float


@dataclass
class JwksCache:
    """The issuers' key sets by JWKS URL, shared by every request of one server process."""

    ttl: float = JWKS_TTL
    refetch_interval: float = JWKS_REFETCH_INTERVAL
    timeout: float = JWKS_TIMEOUT
    # A test's mock transport; by default the network guard's, with ``network``.
    transport: httpx.AsyncBaseTransport | None = None
    network: NetworkPolicy = field(default_factory=NetworkPolicy)
    max_entries: int = JWKS_CACHE_ENTRIES
    max_bytes: int = JWKS_CACHE_BYTES
    _sets: BoundedCache[str, _KeySet] = field(init=False)
    _locks: KeyedLocks[str] = field(default_factory=KeyedLocks)

    def __post_init__(self) -> None:
        self._sets = BoundedCache(max_entries=self.max_entries, max_bytes=self.max_bytes)

    async def key(self, jwks_url: str, kid: str | None) -> jwt.PyJWK:
        cached = self._sets.get(jwks_url)
        now = time.monotonic()
        if cached is None or now - cached.fetched_at > self.ttl:
            cached = await self._refresh(jwks_url, cached)
        found = _pick(cached, kid)
        if found is None and now - cached.fetched_at > self.refetch_interval:
            # An unknown key id: the issuer may have rotated its keys since the last fetch.
            cached = await self._refresh(jwks_url, cached)
            found = _pick(cached, kid)
        if found is None:
            raise SessionTokenError(
                "the session token's key id is not in the issuer's JWKS"
                if kid
                else "the session token names no key id (kid) and the issuer's JWKS has"
                " several keys"
            )
        return found

    async def _refresh(self, jwks_url: str, seen: _KeySet | None) -> _KeySet:
        async with self._locks.hold(jwks_url):
            current = self._sets.get(jwks_url)
            if current is not None and current is not seen:
                return current  # another request fetched it while this one waited
            keys, size = await self._fetch(jwks_url)
            fresh = _KeySet(keys, time.monotonic())
            self._sets.put(jwks_url, fresh, size)
            return fresh

    def _client(self) -> httpx.AsyncClient:
        if self.transport is not None:
            return httpx.AsyncClient(
                timeout=self.timeout, transport=self.transport, follow_redirects=False
            )
        return provider_http(self.network, timeout=self.timeout)

    async def _fetch(self, jwks_url: str) -> tuple[dict[str | None, jwt.PyJWK], int]:
        try:
            # One deadline for the whole fetch: the read timeout alone restarts with every
            # byte, and an issuer dripping one byte a second would hold the request forever.
            async with (
                asyncio.timeout(self.timeout),
                self._client() as http,
                http.stream("GET", jwks_url) as response,
            ):
                if response.status_code != 200:
                    raise SessionTokenError(
                        f"the issuer's JWKS URL answered HTTP {response.status_code}"
                    )
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > JWKS_MAX_BYTES:
                        raise SessionTokenError(
                            f"the issuer's JWKS is larger than {JWKS_MAX_BYTES} bytes"
                        )
        except UnsafeURL as exc:
            raise SessionTokenError(f"the issuer's JWKS URL is refused: {exc}") from None
        except (TimeoutError, httpx.TimeoutException):
            raise SessionTokenError(
                f"the issuer's JWKS did not arrive within {self.timeout:g} s"
            ) from None
        except (httpx.HTTPError, OSError) as exc:
            raise SessionTokenError(
                f"the issuer's JWKS could not be fetched ({type(exc).__name__})"
            ) from None
        try:
            document = json.loads(body)
            key_set = jwt.PyJWKSet.from_dict(document)
        except (ValueError, jwt.PyJWTError):
            raise SessionTokenError("the issuer's JWKS is not a usable JSON Web Key Set") from None
        keys = {key.key_id: key for key in key_set.keys if key.public_key_use in (None, "sig")}
        return keys, len(body)


def _pick(cached: _KeySet, kid: str | None) -> jwt.PyJWK | None:
    if kid is not None:
        return cached.keys.get(kid)
    return next(iter(cached.keys.values())) if len(cached.keys) == 1 else None


def _checked_header(token: str, issuer: SessionIssuer) -> tuple[str, str | None]:
    """The token's algorithm and key id, once its header and the issuer's configuration allow
    verifying it at all; else :class:`SessionTokenError`."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise SessionTokenError("the session token is not a well-formed JWT") from None
    alg = header.get("alg")
    if alg not in ALGORITHMS:
        raise SessionTokenError(
            f"the session token's algorithm {str(alg)[:16]!r} is not accepted"
            f" (only {', '.join(ALGORITHMS)})"
        )
    if not issuer.audiences and not issuer.audience_optional:
        # Without an audience, a token the issuer minted for any other app would do.
        raise SessionTokenError(
            "the project's session issuer has no audience configured: run outbound projects"
            " set-session-issuer with --audience (or --no-audience if the issuer cannot set one)"
        )
    kid = header.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise SessionTokenError("the session token's key id (kid) is not a string")
    return alg, kid


async def verify_session_token(
    token: str, issuer: SessionIssuer, jwks: JwksCache
) -> Mapping[str, Any]:
    """The token's claims once signature, algorithm, ``iss``, ``aud``, ``exp``/``nbf`` and
    ``sub`` are all right; else :class:`SessionTokenError`."""
    alg, kid = _checked_header(token, issuer)
    audiences = issuer.audiences
    key = await jwks.key(issuer.jwks_url, kid)
    if key.algorithm_name not in (alg, None):
        raise SessionTokenError("the session token's algorithm does not match its key")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key=key,
            algorithms=[alg],
            issuer=issuer.issuer,
            audience=audiences or None,
            leeway=LEEWAY,
            options={
                "require": ["exp", "iss", "sub", *(["aud"] if audiences else [])],
                "verify_aud": bool(audiences),
            },
        )
    except jwt.ExpiredSignatureError:
        raise SessionTokenError("the session token has expired") from None
    except jwt.ImmatureSignatureError:
        raise SessionTokenError("the session token is not valid yet (nbf or iat)") from None
    except jwt.InvalidIssuerError:
        raise SessionTokenError(
            "the session token's issuer (iss) is not the project's session issuer"
        ) from None
    except jwt.InvalidAudienceError:
        raise SessionTokenError(
            "the session token's audience (aud) does not include the project's audience"
        ) from None
    except jwt.MissingRequiredClaimError as exc:
        raise SessionTokenError(f"the session token has no {exc.claim!r} claim") from None
    except jwt.InvalidSignatureError:
        raise SessionTokenError("the session token's signature does not verify") from None
    except jwt.PyJWTError as exc:
        raise SessionTokenError(
            f"the session token is not acceptable ({type(exc).__name__})"
        ) from None
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub or len(sub) > 256:
        raise SessionTokenError("the session token's subject (sub) is empty or too long")
    return claims
