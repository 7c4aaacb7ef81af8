"""The network guard: which addresses a provider call may reach, and that it connects to the
address it checked. Names are resolved by a resolver the test controls; connections go to real
loopback listeners."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
import tracemalloc
import zlib
from collections.abc import Iterator

import httpx
import pytest

import outbound.net
from outbound.net.guard import (
    AddressRefused,
    GuardedTransport,
    NetworkPolicy,
    UnsafeURL,
    check_url,
    vet,
)
from outbound.net.http import provider_http
from outbound.net.logs import quiet_http_logs
from outbound.oauth import OAuthClient, OAuthConfigError
from outbound.oauth.lru import BoundedCache, KeyedLocks

PUBLIC = NetworkPolicy()
LOOPBACK = NetworkPolicy.parse("127.0.0.0/8")


def resolver(table: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    calls: list[str] = []

    async def resolve(host: str, port: int) -> list[str]:
        calls.append(host)
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "unknown")
        return table[host]

    resolve.calls = calls  # type: ignore[attr-defined]
    return resolve


NAMES = resolver(
    {
        "internal.example.com": ["10.1.2.3"],
        "metadata.example.com": ["169.254.169.254"],
        "mixed.example.com": ["93.184.216.34", "127.0.0.1"],
        "v6.example.com": ["fd12::1"],
        "mapped.example.com": ["::ffff:10.0.0.1"],
        "public.example.com": ["93.184.216.34", "2606:2800:220:1::1"],
    }
)

REFUSED = [
    "https://internal.example.com/token",  # a name that resolves to a private address
    "https://metadata.example.com/",
    "https://mixed.example.com/token",  # one bad address is enough
    "https://v6.example.com/token",
    "https://mapped.example.com/token",
    "http://public.example.com/token",  # plain http to a public host
    "https://127.0.0.1/",
    "https://[::1]/",
    "https://[::ffff:127.0.0.1]/",
    "https://[::ffff:a9fe:a9fe]/",
    "https://169.254.169.254/",
    "https://0.0.0.0/",
    "https://[::]/",
    "https://10.0.0.1/",
    "https://172.31.255.255/",
    "https://192.168.0.1/",
    "https://100.64.0.1/",
    "https://[fc00::1]/",
    "https://[fe80::1]/",
    "https://224.0.0.251/",
    "https://[ff02::1]/",
    "https://240.0.0.1/",
    "https://[64:ff9b::a9fe:a9fe]/",
    "https://[2002:a9fe:a9fe::]/",
    "https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",  # Teredo
    "https://localhost/",
    "https://metadata.google.internal/",
    "https://printer.local/",
    "https://router.home.arpa/",
    "https://intranet/",
    "https://user:pw@public.example.com/",
    "https://public.example.com\\@evil/",
    "javascript://public.example.com/%0aalert(1)",
    "file:///etc/passwd",
    "gopher://public.example.com:6379/_INFO",
    "https://public.example.com\r\nX-Injected: 1/",
]


@pytest.mark.parametrize("url", REFUSED)
async def test_hostile_urls_are_refused(url: str) -> None:
    with pytest.raises(UnsafeURL):
        await vet(url, PUBLIC, resolve=NAMES, unresolvable_ok=True)


async def test_public_https_and_allowed_networks_pass() -> None:
    host, port, addresses = await vet("https://public.example.com/t", PUBLIC, resolve=NAMES)
    assert (host, port) == ("public.example.com", 443)
    assert [str(a) for a in addresses] == ["93.184.216.34", "2606:2800:220:1::1"]
    internal = NetworkPolicy.parse("10.0.0.0/8")
    # inside an allowed network, plain http too (an internal Keycloak)
    await vet("http://internal.example.com:8080/realms/x", internal, resolve=NAMES)
    await vet("https://mapped.example.com/", internal, resolve=NAMES)
    # an unresolvable public name is accepted when checking a configuration, not when calling
    assert (await vet("https://nx.example.com/", PUBLIC, resolve=NAMES, unresolvable_ok=True))[
        2
    ] == []
    with pytest.raises(OSError):
        await vet("https://nx.example.com/", PUBLIC, resolve=NAMES)


def test_allowed_networks_are_parsed_strictly() -> None:
    assert str(NetworkPolicy.parse(" 10.0.0.0/8 , fd00::/8,")) == "10.0.0.0/8,fd00::/8"
    with pytest.raises(ValueError, match=r"'10\.0\.0\.0/33'"):
        NetworkPolicy.parse("10.0.0.0/8,10.0.0.0/33")


def test_check_url_normalises_the_host() -> None:
    assert check_url("https://EXAMPLE.com./x") == ("https", "example.com", 443)
    assert check_url("http://bücher.example:8080/") == ("http", "xn--bcher-kva.example", 8080)


# -- the transport connects to what it checked ------------------------------------------------


class Counter:
    """A loopback HTTP listener that counts connections."""

    def __init__(self, host: str, port: int = 0, body: bytes = b"ok") -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(16)
        self.port: int = self.sock.getsockname()[1]
        self.connections = 0
        self.body = body
        self.requests: list[bytes] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            with conn:
                self.requests.append(conn.recv(65536))
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nSet-Cookie: sid=abc; Path=/"
                    + b"\r\nConnection: close\r\nContent-Length: "
                    + str(len(self.body)).encode()
                    + b"\r\n\r\n"
                    + self.body
                )

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def listeners() -> Iterator[tuple[Counter, Counter]]:
    good = Counter("127.0.0.2", body=b"vetted")
    evil = Counter("127.0.0.1", good.port, body=b"internal")
    yield good, evil
    good.close()
    evil.close()


async def test_the_connection_goes_to_the_vetted_address_not_a_rebound_one(
    listeners: tuple[Counter, Counter],
) -> None:
    good, evil = listeners
    answers = iter([["127.0.0.2"], ["127.0.0.1"], ["127.0.0.1"]])
    calls: list[str] = []

    async def rebinding(host: str, port: int) -> list[str]:
        calls.append(host)
        return next(answers)

    policy = NetworkPolicy.parse("127.0.0.2/32")
    async with httpx.AsyncClient(transport=GuardedTransport(policy, resolve=rebinding)) as http:
        response = await http.get(f"http://rebind.example:{good.port}/")
        assert response.text == "vetted"
        assert calls == ["rebind.example"]  # resolved once: the connect did not ask again
        assert good.requests[0].startswith(b"GET / HTTP/1.1")
        assert b"\r\nHost: rebind.example:" in good.requests[0]  # Host names the URL's host
        # the name now resolves to a refused address: refused before any connection
        with pytest.raises(AddressRefused):
            await http.get(f"http://rebind.example:{good.port}/again")
    assert evil.connections == 0
    assert good.connections == 1


async def test_provider_calls_keep_no_cookies(listeners: tuple[Counter, Counter]) -> None:
    good, _ = listeners
    async with provider_http(NetworkPolicy.parse("127.0.0.2/32")) as http:
        await http.get(f"http://127.0.0.2:{good.port}/one")
        await http.get(f"http://127.0.0.2:{good.port}/two")
        assert len(http.cookies.jar) == 0
    assert all(b"\r\ncookie:" not in r.lower() for r in good.requests)


async def test_the_engine_refuses_an_internal_token_url_without_connecting(
    listeners: tuple[Counter, Counter],
) -> None:
    from outbound.oauth import ProviderConfig
    from outbound.secret import Secret

    _, evil = listeners
    config = ProviderConfig(
        client_id="c",
        client_secret=Secret("s"),
        authorization_url="https://idp.example/auth",
        token_url=f"http://127.0.0.1:{evil.port}/token",
    )
    async with OAuthClient() as oauth:
        with pytest.raises(OAuthConfigError) as caught:
            await oauth.refresh(config, Secret("rt"))
    assert caught.value.error == "forbidden_url"
    assert evil.connections == 0


# -- bounded caches ----------------------------------------------------------------------------


def test_the_lru_is_bounded_in_entries_and_bytes() -> None:
    cache: BoundedCache[int, str] = BoundedCache(max_entries=3, max_bytes=100)
    for n in range(10):
        cache.put(n, "v", 10)
    assert len(cache) == 3 and cache.get(9) == "v" and cache.get(0) is None
    cache.get(7)  # recently used: survives the next eviction
    cache.put(10, "big", 80)
    assert cache.bytes <= 100 and cache.get(7) == "v" and cache.get(8) is None
    cache.put(11, "too big", 101)
    assert cache.get(11) is None


async def test_keyed_locks_forget_unused_keys() -> None:
    locks: KeyedLocks[str] = KeyedLocks()

    async def hold(key: str) -> None:
        async with locks.hold(key):
            await asyncio.sleep(0)

    await asyncio.gather(*(hold(f"k{n % 50}") for n in range(500)))
    assert len(locks) == 0


async def test_the_discovery_cache_is_bounded() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        issuer = str(request.url).removesuffix("/.well-known/openid-configuration")
        return httpx.Response(200, json={"issuer": issuer, "pad": "x" * 10_000})

    async with OAuthClient(
        httpx.AsyncClient(transport=httpx.MockTransport(handler)),
        discovery_cache_entries=50,
        discovery_cache_bytes=200_000,
    ) as oauth:
        for n in range(300):
            await oauth.metadata(f"https://idp{n}.example/.well-known/openid-configuration")
        assert 0 < len(oauth._metadata) <= 50
        assert oauth._metadata.bytes <= 200_000
        assert len(oauth._metadata_locks) == 0


async def test_the_jwks_cache_is_bounded() -> None:
    import json

    import jwt
    from cryptography.hazmat.primitives.asymmetric import ec

    from outbound.server.http.session_jwt import JwksCache

    key = ec.generate_private_key(ec.SECP256R1())
    jwk = {**json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key())), "kid": "k1"}
    fetched: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        fetched.append(str(request.url))
        return httpx.Response(200, json={"keys": [jwk], "pad": "x" * 1000})

    cache = JwksCache(transport=httpx.MockTransport(handler), max_entries=20, max_bytes=10_000)
    for n in range(100):
        assert await cache.key(f"https://issuer{n}.example/jwks", "k1")
    assert len(fetched) == 100
    assert 0 < len(cache._sets) <= 10 and cache._sets.bytes <= 10_000
    assert len(cache._locks) == 0


async def test_a_jwks_url_on_loopback_is_refused_by_default(
    listeners: tuple[Counter, Counter],
) -> None:
    from outbound.server.http.session_jwt import JwksCache, SessionTokenError

    _, evil = listeners
    with pytest.raises(SessionTokenError, match="refused"):
        await JwksCache().key(f"http://127.0.0.1:{evil.port}/jwks", "kid")
    assert evil.connections == 0


# -- logs ---------------------------------------------------------------------------------------


def test_httpx_request_lines_lose_their_query_string(caplog: pytest.LogCaptureFixture) -> None:
    quiet_http_logs()
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("httpx").info(
            'HTTP Request: %s %s "%s %d %s"',
            "POST",
            httpx.URL("https://idp.example/token?client_secret=s3cr3t&x=1"),
            "HTTP/1.1",
            200,
            "OK\nforged",
        )
        logging.getLogger("httpcore.http11").debug("receive_response_headers Set-Cookie: sid=1")
    text = caplog.text
    assert "https://idp.example/token?…" in text
    assert "s3cr3t" not in text and "sid=1" not in text and "OK\nforged" not in text


# -- compressed answers --------------------------------------------------------------------------


class GzipBomb:
    """A loopback listener answering every request with 64 MiB of zeros gzip-compressed
    (~64 KiB), ``Content-Encoding: gzip``, no length announced, whatever was accepted."""

    def __init__(self) -> None:
        packer = zlib.compressobj(9, zlib.DEFLATED, 31)
        self.body = b"".join(
            [*(packer.compress(bytes(1 << 20)) for _ in range(64)), packer.flush()]
        )
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/"
        self.requests: list[bytes] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                self.requests.append(conn.recv(65536))
                with contextlib.suppress(OSError):
                    conn.sendall(
                        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                        b"Content-Encoding: gzip\r\nConnection: close\r\n\r\n" + self.body
                    )

    def close(self) -> None:
        self.sock.close()


async def test_compressed_answers_are_refused_not_inflated() -> None:
    """Every kind of call asks for identity; a gzip answer is never inflated in memory (the
    discovery, token, JWKS and registration readers refuse it; a webhook's outcome is its
    status, read without its body)."""
    from outbound.oauth import ProviderConfig, TransientOAuthError
    from outbound.secret import Secret
    from outbound.server.background.webhook_http import WebhookHTTP
    from outbound.server.http.session_jwt import JwksCache, SessionTokenError

    bomb = GzipBomb()
    config = ProviderConfig(
        client_id="c",
        client_secret=Secret("s"),
        authorization_url=bomb.url + "auth",
        token_url=bomb.url + "token",
    )
    tracemalloc.start()
    try:
        async with OAuthClient(network=LOOPBACK) as oauth:
            with pytest.raises(TransientOAuthError) as refresh:
                await oauth.refresh(config, Secret("rt"))
            with pytest.raises(TransientOAuthError) as discovery:
                await oauth.metadata(bomb.url + ".well-known/openid-configuration")
            with pytest.raises(TransientOAuthError) as registration:
                await oauth.register(bomb.url + "register", {}, requested="none")
        with pytest.raises(SessionTokenError, match="EncodingRefused"):
            await JwksCache(network=LOOPBACK).key(bomb.url + "jwks", "kid")
        webhooks = WebhookHTTP(network=LOOPBACK)
        delivered = await webhooks.post(bomb.url + "hook", {}, b"{}")
        await webhooks.aclose()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        bomb.close()
    for caught in (refresh, discovery, registration):
        assert caught.value.error == "response_encoding"
    assert delivered.status_code == 200
    assert len(bomb.requests) == 5
    for request in bomb.requests:
        assert b"\r\naccept-encoding: identity\r\n" in request.lower()
    assert peak < 8 * 1024 * 1024, f"{peak / 2**20:.1f} MiB held at the peak"


def test_public_surface_is_pinned() -> None:
    assert outbound.net.__all__ == [
        "AddressRefused",
        "EncodingRefused",
        "GuardedTransport",
        "NetworkPolicy",
        "UnsafeURL",
        "check_url",
        "loggable",
        "provider_http",
        "quiet_http_logs",
        "vet",
    ]


# -- how the transport and the client are built (mutation testing found these unchecked) -------


def test_the_transport_keeps_the_limits_and_tls_verification_it_was_given() -> None:
    """The guarded pool replaces httpx's own: it must carry the limits and the TLS context,
    or a provider gets unbounded connections, or certificates go unchecked."""
    import ssl

    from outbound.net.guard import DEFAULT_LIMITS, _PinnedBackend

    limits = httpx.Limits(max_connections=7, max_keepalive_connections=3, keepalive_expiry=11)
    transport = GuardedTransport(PUBLIC, limits=limits)
    pool = transport._pool
    assert (pool._max_connections, pool._max_keepalive_connections) == (7, 3)
    assert pool._keepalive_expiry == 11
    assert isinstance(pool._network_backend, _PinnedBackend)
    context = pool._ssl_context
    assert context is not None
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert transport.policy is PUBLIC
    default = GuardedTransport(PUBLIC)._pool
    assert (
        (default._max_connections, default._max_keepalive_connections)
        == (
            DEFAULT_LIMITS.max_connections,
            DEFAULT_LIMITS.max_keepalive_connections,
        )
        == (100, 20)
    )
    unverified = GuardedTransport(PUBLIC, verify=False)._pool._ssl_context
    assert unverified is not None and unverified.verify_mode == ssl.CERT_NONE


async def test_the_environment_steers_neither_tls_trust_nor_proxies(
    listeners: tuple[Counter, Counter], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``SSL_CERT_FILE`` and the proxy variables of the process environment are ignored: a
    proxy mounted by the environment would carry provider calls past the guard (here to the
    loopback listener standing in for an internal host)."""
    good, evil = listeners
    monkeypatch.setenv("SSL_CERT_FILE", "/nonexistent/ca.pem")
    monkeypatch.setenv("SSL_CERT_DIR", "/nonexistent")
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
        monkeypatch.setenv(name, f"http://127.0.0.1:{evil.port}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    GuardedTransport(PUBLIC)  # builds: the environment's CA file is not read
    async with provider_http(NetworkPolicy.parse("127.0.0.2/32"), timeout=3) as http:
        assert http.timeout == httpx.Timeout(3)
        # httpx reads proxies from the environment only for a client without a transport;
        # the client says it trusts nothing of it either way
        assert not http._mounts and http.trust_env is False
        assert not http.follow_redirects
        response = await http.get(f"http://127.0.0.2:{good.port}/direct")
        assert response.text == "vetted"
    assert evil.connections == 0
    assert provider_http(PUBLIC).timeout == httpx.Timeout(10.0)


async def test_a_host_name_with_a_final_dot_connects_to_its_vetted_address(
    listeners: tuple[Counter, Counter],
) -> None:
    """``Rebind.Example.`` is vetted as ``rebind.example``; the pinned backend must find the
    addresses vetted for it under the name as httpcore hands it over (a final dot, any case),
    or it refuses a request the guard allowed."""
    good, evil = listeners
    names = resolver({"rebind.example": ["127.0.0.2"]})
    transport = GuardedTransport(NetworkPolicy.parse("127.0.0.2/32"), resolve=names)
    async with httpx.AsyncClient(transport=transport) as http:
        response = await http.get(f"http://Rebind.Example.:{good.port}/dot")
        assert response.text == "vetted"
    assert names.calls == ["rebind.example"]
    assert (good.connections, evil.connections) == (1, 0)
