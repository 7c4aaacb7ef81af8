"""Protected-resource metadata (RFC 9728): from an MCP server's URL to its authorization server.

Pure functions: where the metadata of a resource lives (RFC 9728 §3.1, and the
``resource_metadata`` hint of a 401's ``WWW-Authenticate``, §5.1), whether a document keeps
its promises (§3.3), and where the authorization server's own metadata may live (RFC 8414
§3.1, then OpenID Connect Discovery). The client fetches and caches.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from .discovery import OIDC_SUFFIX, RFC8414_PREFIX, is_secure_url
from .errors import OAuthConfigError

__all__ = [
    "RFC9728_PREFIX",
    "ResourceMetadata",
    "authorization_server_metadata_urls",
    "parse_resource_metadata",
    "resource_metadata_hint",
    "resource_metadata_urls",
]

RFC9728_PREFIX = "/.well-known/oauth-protected-resource"


@dataclass(frozen=True)
class ResourceMetadata:
    """What the vault takes from a protected resource's metadata document."""

    resource: str
    authorization_servers: tuple[str, ...]
    scopes_supported: tuple[str, ...] = ()


def _well_known(url: str, prefix: str) -> str:
    """RFC 9728 §3.1 / RFC 8414 §3.1: the well-known suffix goes between the host and the
    path (and query); a path of ``/`` counts as none."""
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    return urlunsplit((parts.scheme, parts.netloc, prefix + path, parts.query, ""))


def resource_metadata_urls(resource: str) -> list[str]:
    """Where to look for ``resource``'s metadata, in order: the RFC's path-aware URL, then the
    root one (servers that publish one document for the whole host)."""
    urls = [_well_known(resource, RFC9728_PREFIX)]
    parts = urlsplit(resource)
    root = urlunsplit((parts.scheme, parts.netloc, RFC9728_PREFIX, "", ""))
    if root not in urls:
        urls.append(root)
    return urls


# auth-param of a challenge: name = token / quoted-string (RFC 9110 §11.2); a new challenge
# starts where a comma is followed by "scheme name=".
_NEXT_CHALLENGE = re.compile(r",\s*(?=[A-Za-z][A-Za-z0-9_.-]*\s+[A-Za-z0-9_.-]+\s*=)")
_PARAM = re.compile(r'([A-Za-z0-9_.-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]+))')


def resource_metadata_hint(www_authenticate: str) -> str | None:
    """The ``resource_metadata`` URL of a ``Bearer`` challenge (RFC 9728 §5.1), if any."""
    for challenge in _NEXT_CHALLENGE.split(www_authenticate):
        scheme, _, params = challenge.strip().partition(" ")
        if scheme.lower() != "bearer":
            continue
        for name, quoted, token in _PARAM.findall(params):
            if name.lower() == "resource_metadata":
                value = quoted.replace('\\"', '"') if quoted else token
                return value or None
    return None


def _same_resource(a: str, b: str) -> bool:
    return a.rstrip("/") == b.rstrip("/")


def parse_resource_metadata(document: Mapping[str, Any], *, resource: str) -> ResourceMetadata:
    """Validate a metadata document fetched for ``resource``.

    RFC 9728 §3.3: its ``resource`` must be the identifier the metadata URL was built from,
    or an attacker could point one server's clients at another's authorization server. A
    host-wide document (the root URL) may name the resource's origin instead."""
    found = document.get("resource")
    if not isinstance(found, str) or not found:
        raise OAuthConfigError("invalid_metadata", "the resource metadata names no resource")
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(resource))
    if not (_same_resource(found, resource) or _same_resource(found, origin)):
        raise OAuthConfigError(
            "resource_mismatch",
            f"the resource metadata is for {found!r}, not {resource!r}",
        )
    servers = document.get("authorization_servers")
    if not isinstance(servers, list) or not servers:
        raise OAuthConfigError(
            "invalid_metadata", "the resource metadata names no authorization server"
        )
    for server in servers:
        if not isinstance(server, str) or not is_secure_url(server):
            raise OAuthConfigError(
                "invalid_metadata", "an authorization server of the resource is not an https URL"
            )
    scopes = document.get("scopes_supported")
    scope_list = [s for s in scopes if isinstance(s, str)] if isinstance(scopes, list) else []
    return ResourceMetadata(found, tuple(servers), tuple(scope_list))


def authorization_server_metadata_urls(issuer: str) -> list[str]:
    """Where an authorization server's metadata may be, in the order the MCP authorization
    spec tries them: RFC 8414 (suffix inserted), then OpenID Connect Discovery (inserted for
    an issuer with a path, then appended)."""
    urls = [_well_known(issuer, RFC8414_PREFIX)]
    if urlsplit(issuer).path.strip("/"):
        urls.append(_well_known(issuer, OIDC_SUFFIX))
    urls.append(issuer.rstrip("/") + OIDC_SUFFIX)
    return list(dict.fromkeys(urls))
