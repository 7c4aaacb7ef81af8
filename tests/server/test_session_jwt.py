"""The JWKS cache: one fetch per TTL, one refetch for an unknown key id (not one per token),
and a size cap. The issuer is simulated with httpx.MockTransport serving RFC 7517 documents."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from outbound.net.guard import NetworkPolicy
from outbound.server.http.session_jwt import (
    JWKS_MAX_BYTES,
    JwksCache,
    SessionTokenError,
    verify_session_token,
)
from outbound.storage.session_issuers import SessionIssuer

# These tests are about keys, so the issuer waives the audience (--no-audience).
ISSUER = SessionIssuer(
    "P1",
    "https://sessions.example.com",
    "https://sessions.example.com/jwks",
    "",
    audience_optional=True,
)


class Issuer:
    def __init__(self) -> None:
        self.keys: dict[str, ec.EllipticCurvePrivateKey] = {}
        self.fetches = 0
        self.padding = 0

    def rotate(self, kid: str) -> None:
        self.keys[kid] = ec.generate_private_key(ec.SECP256R1())

    def token(self, kid: str, sub: str = "alice") -> str:
        now = int(time.time())
        claims = {"iss": ISSUER.issuer, "sub": sub, "exp": now + 60}
        return jwt.encode(claims, self.keys[kid], algorithm="ES256", headers={"kid": kid})

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.fetches += 1
        keys: list[dict[str, Any]] = [
            {**json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key())), "kid": kid}
            for kid, key in self.keys.items()
        ]
        return httpx.Response(200, json={"keys": keys, "padding": "x" * self.padding})


@pytest.fixture
def issuer() -> Issuer:
    issuer = Issuer()
    issuer.rotate("k1")
    return issuer


def cache(issuer: Issuer, **kwargs: Any) -> JwksCache:
    return JwksCache(transport=httpx.MockTransport(issuer.handle), **kwargs)


async def test_keys_are_fetched_once_within_the_ttl(issuer: Issuer) -> None:
    jwks = cache(issuer)
    for _ in range(3):
        claims = await verify_session_token(issuer.token("k1"), ISSUER, jwks)
        assert claims["sub"] == "alice"
    assert issuer.fetches == 1


async def test_an_unknown_key_id_refetches_once_then_not_again_for_a_while(
    issuer: Issuer,
) -> None:
    jwks = cache(issuer, refetch_interval=0)
    await verify_session_token(issuer.token("k1"), ISSUER, jwks)
    issuer.rotate("k2")

    assert (await verify_session_token(issuer.token("k2"), ISSUER, jwks))["sub"] == "alice"
    assert issuer.fetches == 2

    slow = cache(issuer, refetch_interval=3600)
    await verify_session_token(issuer.token("k1"), ISSUER, slow)
    forged_kid = jwt.encode(
        {"iss": ISSUER.issuer, "sub": "a", "exp": int(time.time()) + 60},
        ec.generate_private_key(ec.SECP256R1()),
        algorithm="ES256",
        headers={"kid": "made-up"},
    )
    before = issuer.fetches
    for _ in range(5):
        with pytest.raises(SessionTokenError, match="key id is not in the issuer's JWKS"):
            await verify_session_token(forged_kid, ISSUER, slow)
    assert issuer.fetches == before


async def test_an_oversized_jwks_is_refused(issuer: Issuer) -> None:
    issuer.padding = JWKS_MAX_BYTES
    with pytest.raises(SessionTokenError, match="larger than"):
        await verify_session_token(issuer.token("k1"), ISSUER, cache(issuer))


async def test_an_issuer_without_an_audience_and_without_the_waiver_is_refused(
    issuer: Issuer,
) -> None:
    strict = SessionIssuer(ISSUER.project_id, ISSUER.issuer, ISSUER.jwks_url, "")
    with pytest.raises(SessionTokenError, match="no audience configured"):
        await verify_session_token(issuer.token("k1"), strict, cache(issuer))
    assert issuer.fetches == 0  # refused before anything is fetched


async def test_a_dripping_jwks_url_cannot_hold_a_request_past_the_deadline() -> None:
    """An issuer whose JWKS URL answers a byte every 0.3 s (each read well inside the read
    timeout) is given up on at the fetch's one overall deadline."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    stop = threading.Event()

    def drip() -> None:
        conn, _ = listener.accept()
        with conn, contextlib.suppress(OSError):
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{")
            while not stop.wait(0.3):
                conn.sendall(b" ")

    threading.Thread(target=drip, daemon=True).start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/jwks"
    jwks = JwksCache(network=NetworkPolicy.parse("127.0.0.0/8"), timeout=1.0)
    started = time.monotonic()
    try:
        with pytest.raises(SessionTokenError, match="within 1 s"):
            await asyncio.wait_for(jwks.key(url, "k1"), 10)
    finally:
        stop.set()
        listener.close()
    assert time.monotonic() - started < 2.0
