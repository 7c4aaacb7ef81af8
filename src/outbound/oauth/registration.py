"""Client registration without a human: Dynamic Client Registration (RFC 7591, with the
RFC 7592 management credentials) and Client ID Metadata Documents (the MCP authorization
spec of 2025-11-25, draft-ietf-oauth-client-id-metadata-document).

Pure functions: the client metadata the vault registers, the registration request, the
parsed answer, and which of the two ways an authorization server wants. The client sends.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ..secret import Secret
from .config import ClientAuthMethod
from .discovery import is_secure_url
from .errors import OAuthConfigError, TransientOAuthError
from .messages import TokenRequest

__all__ = [
    "RegisteredClient",
    "best_auth_method",
    "client_metadata",
    "parse_registration_response",
    "registration_request",
    "supports_metadata_document",
]

# The methods the engine can authenticate with, best first: a server-side vault keeps a
# secret, so a confidential client; the header form is RFC 6749's default.
_METHODS: tuple[ClientAuthMethod, ...] = ("client_secret_basic", "client_secret_post", "none")


@dataclass(frozen=True)
class RegisteredClient:
    """What an authorization server issued (RFC 7591 §3.2.1)."""

    client_id: str
    client_secret: Secret | None
    token_endpoint_auth_method: ClientAuthMethod
    registration_access_token: Secret | None = None
    registration_client_uri: str = ""
    client_secret_expires_at: int = 0

    def __repr__(self) -> str:
        return (
            f"RegisteredClient(client_id={self.client_id!r},"
            f" token_endpoint_auth_method={self.token_endpoint_auth_method!r})"
        )


def best_auth_method(metadata: Mapping[str, Any]) -> ClientAuthMethod:
    """The best token-endpoint auth method the server offers among those the engine speaks
    (RFC 8414 §2: an absent list means ``client_secret_basic``)."""
    offered = metadata.get("token_endpoint_auth_methods_supported")
    if not isinstance(offered, list):
        return "client_secret_basic"
    for method in _METHODS:
        if method in offered:
            return method
    raise OAuthConfigError(
        "unsupported_auth_method",
        "the authorization server offers no token endpoint auth method outbound speaks"
        f" ({', '.join(m for m in _METHODS)})",
    )


def supports_metadata_document(metadata: Mapping[str, Any], client_id_url: str) -> bool:
    """Whether to use a Client ID Metadata Document: the server says so, and the document's
    URL is https with a path (the draft forbids anything else as a client id)."""
    if metadata.get("client_id_metadata_document_supported") is not True:
        return False
    parts = urlsplit(client_id_url)
    return parts.scheme == "https" and bool(parts.hostname) and parts.path not in ("", "/")


def client_metadata(
    *,
    name: str,
    redirect_uri: str,
    auth_method: ClientAuthMethod,
    scopes: Sequence[str] = (),
    client_uri: str = "",
    logo_uri: str = "",
) -> dict[str, Any]:
    """RFC 7591 §2 client metadata of an app: the vault's callback as the one redirect URI,
    the authorization-code and refresh grants (PKCE is always used on top)."""
    document: dict[str, Any] = {
        "client_name": name,
        "redirect_uris": [redirect_uri],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": auth_method,
    }
    if scopes:
        document["scope"] = " ".join(scopes)
    if client_uri:
        document["client_uri"] = client_uri
    if logo_uri:
        document["logo_uri"] = logo_uri
    return document


def registration_request(url: str, metadata: Mapping[str, Any]) -> tuple[dict[str, str], bytes]:
    """Headers and JSON body of a registration request (RFC 7591 §3.1), open registration."""
    if not url:
        raise OAuthConfigError(
            "missing_registration_url",
            "the authorization server has no registration endpoint; set the app's dcrUrl"
            " or register a client by hand (clientId, clientSecret)",
        )
    if not is_secure_url(url):
        raise OAuthConfigError("insecure_url", "the registration endpoint is not an https URL")
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    return headers, json.dumps(dict(metadata)).encode()


def _auth_method(value: Any, requested: ClientAuthMethod) -> ClientAuthMethod:
    for method in _METHODS:
        if value == method:
            return method
    if value is None:
        return requested
    raise OAuthConfigError(
        "unsupported_auth_method",
        f"the authorization server registered the client for {value!r}, which outbound does"
        " not speak",
    )


def parse_registration_response(
    status: int, payload: Mapping[str, Any] | None, *, requested: ClientAuthMethod
) -> RegisteredClient:
    """The client an authorization server registered (RFC 7591 §3.2.1), or the error it gave
    (§3.2.2: ``invalid_redirect_uri``, ``invalid_client_metadata`` … fix the app)."""
    if status == 429 or status >= 500 or status == 408:
        raise TransientOAuthError(
            "server_error", f"the registration endpoint answered HTTP {status}", status_code=status
        )
    if payload is None:
        raise TransientOAuthError(
            "malformed_response", "the registration response is not a JSON object"
        )
    if not 200 <= status < 300:
        error = payload.get("error")
        description = payload.get("error_description")
        raise OAuthConfigError(
            str(error) if isinstance(error, str) and error else "registration_failed",
            str(description or f"the registration endpoint answered HTTP {status}"),
        )
    client_id = payload.get("client_id")
    if not isinstance(client_id, str) or not client_id:
        raise TransientOAuthError(
            "malformed_response", "the registration response has no client_id"
        )
    method = _auth_method(payload.get("token_endpoint_auth_method"), requested)
    secret = payload.get("client_secret")
    token = payload.get("registration_access_token")
    uri = payload.get("registration_client_uri")
    expires = payload.get("client_secret_expires_at")
    if method != "none" and not (isinstance(secret, str) and secret):
        raise OAuthConfigError(
            "registration_failed",
            f"the authorization server registered a {method} client but issued no secret",
        )
    return RegisteredClient(
        client_id=client_id,
        client_secret=Secret(secret) if isinstance(secret, str) and secret else None,
        token_endpoint_auth_method=method,
        registration_access_token=Secret(token) if isinstance(token, str) and token else None,
        registration_client_uri=uri if isinstance(uri, str) and is_secure_url(uri) else "",
        client_secret_expires_at=expires if isinstance(expires, int) else 0,
    )


def deletion_request(client: RegisteredClient) -> TokenRequest | None:
    """RFC 7592 §2.3: delete a registration with its access token; None when the server gave
    no management credentials."""
    if not client.registration_client_uri or client.registration_access_token is None:
        return None
    bearer = Secret("Bearer " + client.registration_access_token.reveal())
    return TokenRequest(client.registration_client_uri, (), (("Authorization", bearer),))
