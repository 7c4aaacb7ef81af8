"""Where the vault may send a request: the guard against server-side request forgery (SSRF).

Every URL a key holder can configure (an app's discovery, token and revocation URLs, a session
issuer's JWKS URL, and anything later such as webhooks) names a host the *server* connects
to. Unguarded, a key holder could make the server POST a client secret to
``http://127.0.0.1:6379`` or fetch ``http://169.254.169.254/`` and read the answer back. So:

* :func:`check_url` — pure: http(s) only, a host, no user-info, no backslash, no control or
  white space, and a host spelled as a name or a canonical IP literal;
* :func:`address_allowed` — pure: an address is allowed when it is public (not loopback,
  private, link-local, unique-local, multicast, unspecified, shared, reserved or
  documentation; IPv4 embedded in IPv6 — mapped, compatible, 6to4, Teredo, NAT64 — judged
  as the IPv4 it carries) or inside one of the operator's ``--provider-allow-networks``;
  plain http only inside those networks;
* :func:`vet` — resolves the host once and checks *every* address it resolves to (any
  spelling — ``2130706433``, ``0x7f.1``, ``127.1``, ``[::ffff:7f00:1]``, a trailing dot, a
  name that resolves to 10.0.0.1 — ends up as the address the resolver returns);
* :class:`GuardedTransport` — the httpx transport every provider call goes through: it vets
  each request and connects to an address it vetted, never resolving the name a second time
  (no DNS rebinding between check and connect). TLS still verifies, and SNI and ``Host``
  still name, the host of the URL.

:mod:`outbound.net.http` builds the client every provider call uses on this transport.
"""

from __future__ import annotations

import asyncio
import contextvars
import ipaddress
import re
import socket
import typing
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpcore
import httpx

__all__ = [
    "AddressRefused",
    "EncodingRefused",
    "GuardedTransport",
    "NetworkPolicy",
    "UnsafeURL",
    "address_allowed",
    "check_url",
    "is_private_name",
    "is_public",
    "system_resolve",
    "vet",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Awaitable[list[str]]]

DEFAULT_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20)
# Seconds one name resolution may take before the request counts as failed.
RESOLVE_TIMEOUT = 5.0

# Names that never denote a public host: RFC 6761 (localhost), RFC 6762 (.local), RFC 8375
# (home.arpa), ICANN's .internal (2024), and cloud metadata names. A name with no dot is
# resolved through the machine's search domains, so it is internal too.
_PRIVATE_SUFFIXES = (".localhost", ".local", ".internal", ".home.arpa", ".localdomain", ".lan")
_PRIVATE_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})
_NAME = re.compile(r"^[a-z0-9_]([a-z0-9_-]{0,62})(\.[a-z0-9_]([a-z0-9_-]{0,62}))*$")
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_SHARED = ipaddress.ip_network("100.64.0.0/10")  # RFC 6598 carrier-grade NAT


class UnsafeURL(ValueError):
    """A URL the vault refuses to send a request to; the message says why (never an
    address the name resolved to: that would map the operator's internal network)."""


class AddressRefused(UnsafeURL):
    """The URL is well-formed but its host is (or resolves to) a refused address."""


@dataclass(frozen=True)
class NetworkPolicy:
    """Which non-public networks the operator allows requests into: providers'
    (``--provider-allow-networks``) or webhooks' (``--webhook-allow-networks``); empty: public
    addresses only."""

    allow: tuple[IPNetwork, ...] = ()
    # The option that sets ``allow``: refusals name it, so an operator widens the right one.
    option: str = "--provider-allow-networks"

    @classmethod
    def parse(cls, text: str, option: str = "--provider-allow-networks") -> NetworkPolicy:
        """``"10.0.0.0/8, 127.0.0.1"`` → a policy; ValueError naming a bad entry."""
        networks = []
        for entry in (part.strip() for part in text.split(",")):
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                raise ValueError(
                    f"{option}: {entry!r} is not a CIDR network (e.g. 10.0.0.0/8, fd00::/8)"
                ) from None
        return cls(tuple(networks), option)

    def in_allowed_network(self, address: IPAddress) -> bool:
        candidates = [address, *([_embedded_v4(address)] if address.version == 6 else [])]
        return any(
            candidate is not None and candidate.version == net.version and candidate in net
            for candidate in candidates
            for net in self.allow
        )

    def __str__(self) -> str:
        return ",".join(str(net) for net in self.allow) or "(public addresses only)"


def _embedded_v4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for, when it embeds one."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if any(address in net for net in _NAT64):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if int(address) >> 32 == 0 and int(address) > 1:  # deprecated IPv4-compatible ::a.b.c.d
        return ipaddress.IPv4Address(int(address))
    return None


def is_public(address: IPAddress) -> bool:
    """Whether ``address`` is a unicast address on the public internet."""
    embedded = _embedded_v4(address)
    if embedded is not None:
        return is_public(embedded)
    if (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_unspecified
        or address.is_reserved
        or not address.is_global
    ):
        return False
    if isinstance(address, ipaddress.IPv4Address):
        return address not in _SHARED and address != ipaddress.IPv4Address("255.255.255.255")
    return not address.is_site_local


def address_allowed(address: IPAddress, policy: NetworkPolicy, *, scheme: str) -> bool:
    """Whether a request of ``scheme`` may go to ``address``: anywhere inside the allowed
    networks; https only, to public addresses, elsewhere."""
    if policy.in_allowed_network(address):
        return True
    return scheme == "https" and is_public(address)


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None


def check_url(url: str, *, field: str = "url") -> tuple[str, str, int]:
    """(scheme, host, port) of a URL the vault may send requests to, as far as its spelling
    tells; :class:`UnsafeURL` naming ``field`` otherwise. The host comes back lower-cased,
    without a trailing dot, IDNA-encoded."""
    if any(ch in url for ch in "\\\t\r\n ") or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        raise UnsafeURL(
            f"{field}: the URL contains a backslash, white space or a control character"
        )
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UnsafeURL(f"{field}: the URL is malformed (bad host or port)") from None
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        raise UnsafeURL(f"{field}: only https URLs are allowed (got scheme {scheme[:20]!r})")
    if "@" in parts.netloc or parts.username is not None or parts.password is not None:
        raise UnsafeURL(f"{field}: the URL must not carry user-info (user:password@)")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise UnsafeURL(f"{field}: the URL has no host")
    if _literal(host) is None:
        try:
            host = host.encode("idna").decode("ascii").lower()
        except UnicodeError:
            raise UnsafeURL(f"{field}: the URL's host is not a valid host name") from None
        if not _NAME.match(host) or len(host) > 253:
            raise UnsafeURL(f"{field}: the URL's host is not a valid host name")
    return scheme, host, port or (443 if scheme == "https" else 80)


def is_private_name(host: str) -> bool:
    """Names that denote no public host, whatever they resolve to here."""
    return host in _PRIVATE_NAMES or "." not in host or host.endswith(_PRIVATE_SUFFIXES)


async def system_resolve(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to, as the operating system resolves them (which
    also reads every legacy IPv4 spelling: ``2130706433``, ``0x7f.1``, ``127.1``)."""
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


async def _resolve(host: str, port: int, resolve: Resolver, timeout: float) -> list[IPAddress]:
    literal = _literal(host)
    if literal is not None:
        return [literal]
    try:
        async with asyncio.timeout(timeout):
            found = await resolve(host, port)
    except (OSError, TimeoutError):
        return []
    addresses = [_literal(text) for text in found]
    return [a for a in addresses if a is not None]


async def vet(
    url: str,
    policy: NetworkPolicy,
    *,
    field: str = "url",
    resolve: Resolver = system_resolve,
    timeout: float = RESOLVE_TIMEOUT,
    unresolvable_ok: bool = False,
) -> tuple[str, int, list[IPAddress]]:
    """(host, port, addresses) of a URL whose every address the policy allows; else
    :class:`UnsafeURL`. A name that does not resolve raises ``OSError`` — or, with
    ``unresolvable_ok`` (checking a configuration, when the name may resolve later), comes
    back with no addresses, unless it is a private name."""
    scheme, host, port = check_url(url, field=field)
    addresses = await _resolve(host, port, resolve, timeout)
    if not addresses:
        if is_private_name(host):
            raise AddressRefused(
                f"{field}: {host!r} is not a public host name; allow its network with"
                f" {policy.option} if the host really is internal"
            )
        if unresolvable_ok and scheme == "https":
            return host, port, []
        if unresolvable_ok:
            raise UnsafeURL(
                f"{field}: plain http is allowed only inside {policy.option}, and"
                f" {host!r} does not resolve; use an https URL"
            )
        raise OSError(f"{host} does not resolve")
    refused = [a for a in addresses if not address_allowed(a, policy, scheme=scheme)]
    if refused:
        public = all(is_public(a) for a in refused)
        if public:
            raise UnsafeURL(
                f"{field}: plain http is allowed only inside {policy.option}; use an https URL"
            )
        what = "is" if _literal(host) is not None else "resolves to"
        raise AddressRefused(
            f"{field}: {host!r} {what} a loopback, private, link-local or otherwise"
            f" non-public address; allow its network with {policy.option} if the host"
            " really is internal"
        )
    if is_private_name(host) and not all(policy.in_allowed_network(a) for a in addresses):
        raise AddressRefused(f"{field}: {host!r} is not a public host name")
    return host, port, addresses


# -- the transport: connect only to vetted addresses -----------------------------------------

# (host, port) -> the addresses vetted for the request being sent in this task.
_PINNED: contextvars.ContextVar[dict[tuple[str, int], list[IPAddress]]] = contextvars.ContextVar(
    "outbound_net_guard_pinned"
)


class _PinnedBackend(httpcore.AsyncNetworkBackend):
    """Connects to the addresses :class:`GuardedTransport` vetted for this request, never to
    whatever the name resolves to now; refuses a connection nothing was vetted for."""

    def __init__(self) -> None:
        self._backend = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = _PINNED.get({}).get((host.rstrip(".").lower(), port))
        if not addresses:
            raise AddressRefused(f"no vetted address for {host}:{port}; the request was refused")
        last: Exception | None = None
        for address in addresses:
            try:
                return await self._backend.connect_tcp(
                    str(address), port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise AddressRefused("unix sockets are not provider addresses")

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


class EncodingRefused(httpx.TransportError):
    """An answer compressed although the request asked for ``Accept-Encoding: identity``."""


class _RefusedBody(httpx.AsyncByteStream):
    """The body of an answer in an encoding nobody asked for: reading it raises
    :class:`EncodingRefused`; its status and headers stay readable (a webhook delivery's
    outcome is its status alone)."""

    def __init__(self, stream: httpx.AsyncByteStream, encoding: str) -> None:
        self._stream = stream
        self._encoding = encoding

    async def __aiter__(self) -> typing.AsyncIterator[bytes]:
        raise EncodingRefused(
            f"the answer is compressed ({self._encoding!r}) though only identity was accepted"
        )
        yield b""  # pragma: no cover - makes this an async generator

    async def aclose(self) -> None:
        await self._stream.aclose()


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport, vetting every request with :func:`vet` and connecting only to the
    addresses it vetted. Keep-alive connections are reused per origin; each was vetted when
    it was opened."""

    def __init__(
        self,
        policy: NetworkPolicy,
        *,
        resolve: Resolver = system_resolve,
        verify: bool | str = True,
        limits: httpx.Limits = DEFAULT_LIMITS,
        pass_encoded: bool = False,
    ) -> None:
        super().__init__(verify=verify, trust_env=False, limits=limits)
        self.policy = policy
        self._resolve = resolve
        # The proxy streams answers through as bytes, never inflating them: it leaves
        # Accept-Encoding to its caller and passes compressed answers on.
        self.pass_encoded = pass_encoded
        # httpx offers no way to choose the network backend: build the pool as it does, with ours.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify, trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_PinnedBackend(),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        host, port, addresses = await vet(str(request.url), self.policy, resolve=self._resolve)
        # Answers are read up to a byte cap, and httpx inflates a whole network chunk before
        # anyone can count it (64 KiB of gzip are 64 MiB of zeros): ask for identity, and
        # refuse to inflate anything else.
        if not self.pass_encoded:
            request.headers["Accept-Encoding"] = "identity"
        pinned = {**_PINNED.get({}), (host, port): addresses}
        token = _PINNED.set(pinned)
        try:
            response = await super().handle_async_request(request)
        finally:
            _PINNED.reset(token)
        encoding = response.headers.get("content-encoding", "").strip().lower()
        if encoding in ("", "identity") or self.pass_encoded:
            return response
        assert isinstance(response.stream, httpx.AsyncByteStream)
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=_RefusedBody(response.stream, encoding[:32]),
            extensions=response.extensions,
        )
