"""Authorization server metadata (RFC 8414) and OpenID Connect discovery.

Pure functions: which issuer a discovery URL promises, whether a metadata document keeps
that promise, and the :class:`ProviderConfig` it fills in. The client caches documents.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from .config import ClientAuthMethod, ProviderConfig
from .errors import OAuthConfigError

__all__ = ["apply_metadata", "expected_issuer", "validate_metadata"]

OIDC_SUFFIX = "/.well-known/openid-configuration"
RFC8414_PREFIX = "/.well-known/oauth-authorization-server"
_LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


def is_secure_url(url: str) -> bool:
    """https, or plain http to this machine only (tests, local development)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return True
    return parts.scheme == "http" and (parts.hostname or "") in _LOOPBACK


def expected_issuer(discovery_url: str) -> str | None:
    """The issuer a discovery URL is built from, or None for a URL of neither standard form.

    OIDC Discovery appends ``/.well-known/openid-configuration`` to the issuer; RFC 8414
    §3.1 inserts ``/.well-known/oauth-authorization-server`` between host and path."""
    parts = urlsplit(discovery_url)
    origin = f"{parts.scheme}://{parts.netloc}"
    path = parts.path
    if path.endswith(OIDC_SUFFIX):
        return origin + path[: -len(OIDC_SUFFIX)]
    if path == RFC8414_PREFIX or path.startswith(RFC8414_PREFIX + "/"):
        return origin + path[len(RFC8414_PREFIX) :]
    return None


def validate_metadata(metadata: Mapping[str, Any], *, discovery_url: str, issuer: str = "") -> None:
    """Raise :class:`OAuthConfigError` unless the document names the expected issuer and
    usable endpoints (RFC 8414 §3.3: the issuer must be identical)."""
    found = metadata.get("issuer")
    if not isinstance(found, str) or not found:
        raise OAuthConfigError("invalid_metadata", "the discovery document names no issuer")
    expected = issuer or expected_issuer(discovery_url)
    if expected is not None and found != expected:
        # The foreign issuer is not quoted: the document is the provider's text, and echoing
        # it would let a discovery URL read back whatever a host serves.
        raise OAuthConfigError(
            "issuer_mismatch",
            f"the discovery document names another issuer than the expected {expected!r}",
        )
    for name in (
        "authorization_endpoint",
        "token_endpoint",
        "revocation_endpoint",
        "registration_endpoint",
        "device_authorization_endpoint",
    ):
        value = metadata.get(name)
        if value is None:
            continue
        if not isinstance(value, str) or not (
            is_secure_url(value) or _same_http_origin(value, discovery_url)
        ):
            raise OAuthConfigError(
                "invalid_metadata", f"the discovery document's {name} is not an https URL"
            )


def _same_http_origin(url: str, discovery_url: str) -> bool:
    """An http endpoint on the host that served the document over http: only possible for a
    provider inside the operator's allowed networks (the network guard refuses plain http
    elsewhere)."""
    a, b = urlsplit(url), urlsplit(discovery_url)
    return a.scheme == b.scheme == "http" and bool(a.netloc) and a.netloc == b.netloc


def _auth_method(config: ProviderConfig, metadata: Mapping[str, Any]) -> ClientAuthMethod:
    if config.token_endpoint_auth_method:
        return config.token_endpoint_auth_method
    if not config.client_secret:
        return "none"
    supported = metadata.get("token_endpoint_auth_methods_supported")
    if isinstance(supported, list):
        for method in ("client_secret_basic", "client_secret_post"):
            if method in supported:
                return method
    return "client_secret_basic"


def apply_metadata(config: ProviderConfig, metadata: Mapping[str, Any]) -> ProviderConfig:
    """The configuration with its empty endpoints and client-auth method filled in from
    a validated metadata document; explicit settings win."""

    def pick(current: str, name: str) -> str:
        value = metadata.get(name)
        return current or (value if isinstance(value, str) else "")

    return dataclasses.replace(
        config,
        issuer=pick(config.issuer, "issuer"),
        authorization_url=pick(config.authorization_url, "authorization_endpoint"),
        token_url=pick(config.token_url, "token_endpoint"),
        revocation_url=pick(config.revocation_url, "revocation_endpoint"),
        registration_url=pick(config.registration_url, "registration_endpoint"),
        device_authorization_url=pick(
            config.device_authorization_url, "device_authorization_endpoint"
        ),
        token_endpoint_auth_method=_auth_method(config, metadata),
        require_callback_issuer=config.require_callback_issuer
        or metadata.get("authorization_response_iss_parameter_supported") is True,
    )
