"""Which headers cross the proxy, in each direction, and where the credential goes.

To the provider (:func:`request_headers`): only the names of :data:`FORWARDED` — content
negotiation, the body's own description, conditional and range requests, and the version and
argument headers providers define — plus any ``X-…`` header except the forwarding ones. Never
the caller's ``Authorization``, ``Proxy-Authorization`` or ``Cookie``, never a hop-by-hop
header (RFC 9110 §7.6.1, and any header ``Connection`` names), never ``Host`` (it names the
provider) and never the vault's own ``Outbound-…`` headers. The credential is set last
(:func:`inject`), so no caller header can stand in for it.

From the provider (:func:`response_headers`): everything but hop-by-hop headers and
``Set-Cookie`` (the vault's callers are backends, and a provider's session cookie is the
provider's business with the vault's credential, not the caller's); ``Date`` is the vault's
own (its server writes one, a second would be a duplicate).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from urllib.parse import quote, unquote_to_bytes

__all__ = [
    "FORWARDED",
    "HOP_BY_HOP",
    "Credential",
    "inject",
    "inject_query",
    "request_headers",
    "response_headers",
]

Headers = list[tuple[bytes, bytes]]

# RFC 9110 §7.6.1's hop-by-hop headers, and the ones proxies have used as such.
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)

# Request headers passed on to the provider (lower case).
FORWARDED = frozenset(
    {
        b"accept",
        b"accept-encoding",
        b"accept-language",
        b"cache-control",
        b"content-disposition",
        b"content-encoding",
        b"content-language",
        b"content-length",
        b"content-md5",
        b"content-range",
        b"content-type",
        b"digest",
        b"idempotency-key",
        b"if-match",
        b"if-modified-since",
        b"if-none-match",
        b"if-range",
        b"if-unmodified-since",
        b"pragma",
        b"prefer",
        b"range",
        b"user-agent",
        # providers' own request headers without an X- prefix
        b"anthropic-version",
        b"dropbox-api-arg",
        b"dropbox-api-path-root",
        b"dropbox-api-select-admin",
        b"dropbox-api-select-user",
        b"linkedin-version",
        b"notion-version",
        b"openai-organization",
        b"stripe-account",
        b"stripe-version",
    }
)
# X- headers that say who the client is or where it came from: not the caller's to set.
_X_REFUSED = frozenset(
    {
        b"x-forwarded-for",
        b"x-forwarded-host",
        b"x-forwarded-proto",
        b"x-forwarded-port",
        b"x-forwarded-prefix",
        b"x-real-ip",
        b"x-original-url",
        b"x-rewrite-url",
        b"x-http-method-override",
        b"x-http-method",
        b"x-method-override",
    }
)
# Answer headers not relayed: cookies, and Date (the vault's own server writes one).
_NOT_RELAYED = frozenset({b"set-cookie", b"set-cookie2", b"date"})
# Never sent on, whatever the lists above say.
_NEVER = frozenset({b"authorization", b"cookie", b"host", b"forwarded"}) | HOP_BY_HOP


def _connection_named(headers: Iterable[tuple[bytes, bytes]]) -> set[bytes]:
    named: set[bytes] = set()
    for name, value in headers:
        if name == b"connection":
            named.update(part.strip().lower() for part in value.split(b","))
    return named


def forwarded(name: bytes) -> bool:
    """Whether a request header of this (lower-case) name may go to the provider."""
    if name in _NEVER or name.startswith(b"outbound-"):
        return False
    if name in FORWARDED:
        return True
    return name.startswith(b"x-") and name not in _X_REFUSED


def request_headers(headers: Iterable[tuple[bytes, bytes]]) -> Headers:
    """The caller's headers (ASGI: lower-case names) that go on to the provider."""
    headers = list(headers)
    named = _connection_named(headers)
    return [(n, v) for n, v in headers if forwarded(n) and n not in named]


def response_headers(headers: Iterable[tuple[bytes, bytes]]) -> Headers:
    """The provider's answer headers (lower-cased here) that go back to the caller."""
    headers = [(name.lower(), value) for name, value in headers]
    named = _connection_named(headers)
    return [
        (n, v)
        for n, v in headers
        if n not in HOP_BY_HOP and n not in named and n not in _NOT_RELAYED
    ]


class Credential:
    """How an app's provider wants its credential: ``Authorization: Bearer <token>`` (the
    default), another header with an optional prefix, or a query parameter (API keys)."""

    __slots__ = ("header", "prefix", "query")

    def __init__(self, header: str = "authorization", prefix: str = "Bearer ", query: str = ""):
        self.header = header.lower().encode("ascii")
        self.prefix = prefix
        self.query = query

    @classmethod
    def from_template(cls, facts: Mapping[str, str]) -> Credential:
        """From a template's ``api_key_header`` / ``api_key_prefix`` / ``api_key_query``."""
        if facts.get("api_key_query"):
            return cls(query=facts["api_key_query"])
        if facts.get("api_key_header"):
            return cls(facts["api_key_header"], facts.get("api_key_prefix", ""))
        return cls()


def inject(headers: Headers, credential: Credential, token: str) -> Headers:
    """``headers`` with the credential set (a header of the same name the caller sent is
    dropped); a query credential goes into the URL instead (:func:`inject_query`)."""
    if credential.query:
        return headers
    value = (credential.prefix + token).encode("latin-1")
    return [(n, v) for n, v in headers if n != credential.header] + [(credential.header, value)]


def inject_query(raw_query: bytes, credential: Credential, token: str) -> bytes:
    """``raw_query`` with the credential's parameter set (one of the same name the caller sent
    is dropped)."""
    if not credential.query:
        return raw_query
    name = quote(credential.query, safe="").encode("ascii")
    kept = [
        part
        for part in raw_query.split(b"&")
        if part and unquote_to_bytes(part.split(b"=", 1)[0]) != credential.query.encode()
    ]
    return b"&".join([*kept, name + b"=" + quote(token, safe="").encode("ascii")])
