"""Where a proxied request goes: the app's API base URL plus the caller's path — never
anywhere else.

``/v1/outbound/proxy/{appId}/{path}`` names a path *under* the app's ``apiBaseUrl``. The path
is read as the caller sent it (the raw, still percent-encoded bytes: a decoded path has
already turned ``%2F`` into ``/``) and refused with 400 unless it is plainly a relative path
that stays under the base:

- printable ASCII only (no white space, control characters or raw non-ASCII bytes);
- no empty segment (``//host``, ``a//b``) except a final one (``a/b/``), and no ``.`` or
  ``..`` segment;
- no backslash, ``#`` or ``?`` (a query comes in the query string), and none of these
  percent-encoded: ``%2F`` (``/``), ``%5C`` (``\\``), ``%2E`` (``.``), ``%25`` (``%``: a
  double encoding), ``%00`` to ``%1F``, ``%7F`` — an upstream that decodes once more would
  otherwise walk up the tree;
- no ``:`` or ``@`` in the first segment (``https:``, ``//user@host``: what a naive
  string join would read as a scheme or user-info). ``@`` further on is allowed: Discord's
  ``/users/@me``.

The target URL is then built from its parts — the base's scheme, host and port, and the path
joined under the base's own path — never by parsing a joined string, and checked once more
to name the base's origin. So no path, however spelt, reaches another host; the network
guard (``net``) then checks the host's addresses on every connection.

The query string is passed on as sent, refused only when it holds white space, control
characters, raw non-ASCII bytes or ``#``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

__all__ = ["PathRefused", "Target", "proxied_url", "split_base"]

# What a path and a query may hold, as sent: printable ASCII without space.
_PRINTABLE = re.compile(rb"^[\x21-\x7e]*$")
# Percent-encodings that could turn into a separator, a dot segment or a second decoding.
_ENCODED = re.compile(rb"%(?:2[fFeE5]|5[cC]|[01][0-9a-fA-F]|7[fF])")
_BAD_ENCODING = re.compile(rb"%(?![0-9a-fA-F]{2})")


class PathRefused(ValueError):
    """A proxied path or query the vault will not send; the message says why (400)."""


@dataclass(frozen=True)
class Target:
    """An app's API base URL, split once: what every proxied URL of the app starts with."""

    scheme: str
    host: str
    port: int | None
    # the base's path without its trailing slash ("" for an origin)
    path: bytes

    @property
    def origin(self) -> str:
        port = f":{self.port}" if self.port is not None else ""
        return f"{self.scheme}://{self.host}{port}"


def split_base(base_url: str) -> Target:
    """The :class:`Target` of an app's base URL (http or https, a host, no user-info, query or
    fragment); ``ValueError`` otherwise. The network guard checks it again at every call."""
    parts = urlsplit(base_url)
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http") or not parts.hostname:
        raise ValueError("the API base URL must be an http(s) URL with a host")
    if "@" in parts.netloc or parts.query or parts.fragment or "\\" in base_url:
        raise ValueError("the API base URL must have no user-info, query or fragment")
    path = parts.path.rstrip("/").encode("ascii", "strict")
    return Target(scheme, parts.hostname, parts.port, path)


def _check_path(raw: bytes) -> None:
    if not _PRINTABLE.match(raw):
        raise PathRefused("the path holds white space, control or non-ASCII characters")
    if b"\\" in raw or b"#" in raw or b"?" in raw:
        raise PathRefused("the path holds a backslash, '#' or '?'")
    if _BAD_ENCODING.search(raw):
        raise PathRefused("the path holds a '%' that is not a percent-encoding")
    if _ENCODED.search(raw):
        raise PathRefused(
            "the path holds an encoded '/', '\\', '.', '%' or control character (%2F, %5C,"
            " %2E, %25, %00-%1F, %7F); send the characters themselves"
        )
    segments = raw.split(b"/")
    if any(segment in (b"", b".", b"..") for segment in segments[:-1]) or segments[-1] in (
        b".",
        b"..",
    ):
        raise PathRefused("the path has an empty, '.' or '..' segment")
    if b":" in segments[0] or b"@" in segments[0] or b"%40" in segments[0].lower():
        raise PathRefused("the path's first segment holds ':' or '@' (not a relative path)")


def proxied_url(target: Target, raw_path: bytes, raw_query: bytes) -> httpx.URL:
    """The URL a proxied request goes to: ``raw_path`` (as sent, after ``{appId}/``) under the
    base's path, with ``raw_query``; :class:`PathRefused` for anything that is not plainly a
    path under the base."""
    if raw_path:
        _check_path(raw_path)
    if not _PRINTABLE.match(raw_query) or b"#" in raw_query:
        raise PathRefused("the query holds white space, control or non-ASCII characters, or '#'")
    # The empty path is the base URL itself (an MCP server's endpoint).
    path = target.path + b"/" + raw_path if raw_path else target.path or b"/"
    if raw_query:
        path += b"?" + raw_query
    url = httpx.URL(scheme=target.scheme, host=target.host, port=target.port, raw_path=path)
    # Built from parts, so this holds by construction; checked all the same.
    if (url.scheme, url.host, url.port) != (target.scheme, target.host, target.port):
        raise PathRefused("the path would leave the API's origin")
    return url
