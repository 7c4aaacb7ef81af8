"""Requests to the provider as pure data: the authorize URL, token and revocation requests.

Nothing here does I/O. Secret values stay :class:`~outbound.secret.Secret` inside a
:class:`TokenRequest` and are revealed only by :meth:`TokenRequest.encode`, right before the
bytes go on the wire.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from ..secret import Secret
from . import hooks
from .config import ClientAuthMethod, ProviderConfig, RequestFormat
from .errors import OAuthConfigError

__all__ = [
    "TokenRequest",
    "authorization_url",
    "client_auth_method",
    "client_credentials_request",
    "code_request",
    "device_authorization_request",
    "device_token_request",
    "refresh_request",
    "revocation_request",
]

Value = str | Secret

# Parameters the engine sets itself; template parameters never override them.
_AUTHORIZE_RESERVED = frozenset(
    {
        "response_type",
        "client_id",
        "redirect_uri",
        "scope",
        "state",
        "code_challenge",
        "code_challenge_method",
        "resource",
    }
)


@dataclass(frozen=True)
class TokenRequest:
    """A POST to a token or revocation endpoint, not yet encoded."""

    url: str
    fields: tuple[tuple[str, Value], ...]
    headers: tuple[tuple[str, Value], ...] = ()
    format: RequestFormat = "form"

    def encode(self) -> tuple[dict[str, str], bytes]:
        """Headers and body, secrets revealed: for the HTTP layer only."""
        fields = {key: _reveal(value) for key, value in self.fields}
        headers = {key: _reveal(value) for key, value in self.headers}
        headers.setdefault("Accept", "application/json")
        if self.format == "json":
            headers["Content-Type"] = "application/json"
            return headers, json.dumps(fields).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        return headers, urlencode(fields).encode()

    def secrets(self) -> list[str]:
        """Every secret this request carries, to scrub from whatever comes back."""
        values = [v for _, v in (*self.fields, *self.headers) if isinstance(v, Secret)]
        found = [v.reveal() for v in values]
        # The Authorization header holds the secret base64-encoded; scrub the parts too.
        for key, value in self.headers:
            if key.lower() == "authorization" and isinstance(value, Secret):
                found += _basic_parts(value.reveal())
        return found

    def field(self, name: str) -> Value | None:
        return next((value for key, value in self.fields if key == name), None)

    def __repr__(self) -> str:
        names = ", ".join(key for key, _ in self.fields)
        return f"TokenRequest(url={self.url!r}, fields=[{names}], format={self.format!r})"


def _reveal(value: Value) -> str:
    return value.reveal() if isinstance(value, Secret) else value


def _basic_parts(header: str) -> list[str]:
    try:
        decoded = base64.b64decode(header.split(" ", 1)[1]).decode()
    except (IndexError, ValueError):
        return []
    return [decoded, *decoded.split(":", 1)]


def client_auth_method(config: ProviderConfig) -> ClientAuthMethod:
    """The configured method, else ``client_secret_basic`` (RFC 6749 §2.3.1's default);
    ``none`` for a public client, which has no secret to send."""
    if not config.client_secret:
        return "none"
    return config.token_endpoint_auth_method or "client_secret_basic"


def _with_client_auth(
    config: ProviderConfig, fields: list[tuple[str, Value]]
) -> tuple[list[tuple[str, Value]], list[tuple[str, Value]]]:
    method = client_auth_method(config)
    headers: list[tuple[str, Value]] = []
    if method == "client_secret_basic":
        assert config.client_secret is not None
        # RFC 6749 §2.3.1: both parts form-urlencoded before base64.
        pair = f"{quote(config.client_id, safe='')}:{quote(config.client_secret.reveal(), safe='')}"
        basic = base64.b64encode(pair.encode()).decode()
        headers.append(("Authorization", Secret(f"Basic {basic}")))
    elif method == "client_secret_post":
        assert config.client_secret is not None
        fields += [("client_id", config.client_id), ("client_secret", config.client_secret)]
    else:
        fields.append(("client_id", config.client_id))
    return fields, headers


# Headers the engine sets itself; a configuration's request_headers never override them.
_RESERVED_HEADERS = frozenset({"authorization", "content-type", "content-length", "host"})


def _provider_headers(
    config: ProviderConfig, headers: list[tuple[str, Value]]
) -> tuple[tuple[str, Value], ...]:
    extra = [(k, v) for k, v in config.request_headers if k.lower() not in _RESERVED_HEADERS]
    return (*extra, *headers)


def _token_request(
    config: ProviderConfig, url: str, fields: list[tuple[str, Value]]
) -> TokenRequest:
    if not url:
        raise OAuthConfigError("missing_token_url", "the provider has no token URL")
    taken = {key for key, _ in fields} | {"client_id", "client_secret"}
    fields += [(key, value) for key, value in config.token_params if key not in taken]
    fields, headers = _with_client_auth(config, fields)
    request = TokenRequest(
        url, tuple(fields), _provider_headers(config, headers), config.token_request_format
    )
    for hook in hooks.for_config(config):
        if hook.token_request is not None:
            request = hook.token_request(config, request)
    return request


def join_scopes(config: ProviderConfig, scopes: Sequence[str]) -> str:
    return config.scope_separator.join(scopes)


def authorization_url(
    config: ProviderConfig,
    *,
    redirect_uri: str,
    state: str,
    scopes: Sequence[str],
    code_challenge: str | None,
) -> str:
    """The URL that sends the browser to the provider's consent page (RFC 6749 §4.1.1).

    ``scopes`` empty means the configuration's default scopes."""
    if not config.authorization_url:
        raise OAuthConfigError("missing_authorization_url", "the provider has no authorize URL")
    params: list[tuple[str, str]] = [
        ("response_type", "code"),
        ("client_id", config.client_id),
        ("redirect_uri", redirect_uri),
    ]
    scope = join_scopes(config, scopes or config.default_scopes)
    if scope:
        params.append(("scope", scope))
    params.append(("state", state))
    if code_challenge is not None:
        params += [("code_challenge", code_challenge), ("code_challenge_method", "S256")]
    if config.resource:
        params.append(("resource", config.resource))  # RFC 8707 §2.1
    params += [(k, v) for k, v in config.authorize_params if k not in _AUTHORIZE_RESERVED]
    for hook in hooks.for_config(config):
        if hook.authorize_params is not None:
            params = hook.authorize_params(config, params)
    # Keep any query the configured URL already has (some providers put a tenant there).
    parts = urlsplit(config.authorization_url)
    query = parse_qsl(parts.query, keep_blank_values=True) + params
    return urlunsplit(parts._replace(query=urlencode(query, quote_via=quote)))


def code_request(
    config: ProviderConfig, *, code: str, redirect_uri: str, code_verifier: str | None
) -> TokenRequest:
    """Exchange an authorization code (RFC 6749 §4.1.3, RFC 7636 §4.5)."""
    fields: list[tuple[str, Value]] = [
        ("grant_type", "authorization_code"),
        ("code", Secret(code)),
        ("redirect_uri", redirect_uri),
    ]
    if code_verifier is not None:
        fields.append(("code_verifier", Secret(code_verifier)))
    if config.resource:
        fields.append(("resource", config.resource))  # RFC 8707 §2.2
    return _token_request(config, config.token_url, fields)


# RFC 8628 §3.4: the grant type of a device access token request.
DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


def device_authorization_request(config: ProviderConfig, scopes: Sequence[str]) -> TokenRequest:
    """Start a device authorization (RFC 8628 §3.1): the client authenticates as at the token
    endpoint (§3.1 allows it; public clients send their ``client_id``)."""
    if not config.device_authorization_url:
        raise OAuthConfigError(
            "missing_device_authorization_url",
            "the provider has no device authorization endpoint: set the app's"
            " deviceAuthorizationUrl (or a discovery URL whose metadata names one)",
        )
    fields: list[tuple[str, Value]] = []
    scope = join_scopes(config, scopes or config.default_scopes)
    if scope:
        fields.append(("scope", scope))
    if config.resource:
        fields.append(("resource", config.resource))
    fields, headers = _with_client_auth(config, fields)
    return TokenRequest(
        config.device_authorization_url,
        tuple(fields),
        _provider_headers(config, headers),
        config.token_request_format,
    )


def device_token_request(config: ProviderConfig, device_code: Secret) -> TokenRequest:
    """Poll for the device's tokens (RFC 8628 §3.4)."""
    fields: list[tuple[str, Value]] = [
        ("grant_type", DEVICE_CODE_GRANT),
        ("device_code", device_code),
    ]
    if config.resource:
        fields.append(("resource", config.resource))
    return _token_request(config, config.token_url, fields)


def refresh_request(
    config: ProviderConfig, refresh_token: Secret, *, scopes: Sequence[str] = ()
) -> TokenRequest:
    """Refresh an access token (RFC 6749 §6).

    ``scope`` is sent only to providers that want it again (``scope_on_refresh``): the RFC
    makes it optional, and several providers reject an unexpected one."""
    fields: list[tuple[str, Value]] = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
    ]
    if config.scope_on_refresh:
        scope = join_scopes(config, scopes or config.default_scopes)
        if scope:
            fields.append(("scope", scope))
    if config.resource:
        fields.append(("resource", config.resource))  # RFC 8707 §2.2
    return _token_request(config, config.refresh_url or config.token_url, fields)


def client_credentials_request(
    config: ProviderConfig, *, scopes: Sequence[str] = ()
) -> TokenRequest:
    """Ask for an access token for the client itself (RFC 6749 §4.4.2): no user, no refresh
    token in the answer (§4.4.3). ``scopes`` empty means the default scopes; ``resource``
    (RFC 8707 §2.2) when configured; Auth0's ``audience`` and the like come from
    ``token_params``."""
    if not config.client_secret:
        # §4.4: "The client credentials grant type MUST only be used by confidential clients"
        raise OAuthConfigError(
            "missing_client_secret", "a client-credentials app needs its client secret"
        )
    fields: list[tuple[str, Value]] = [("grant_type", "client_credentials")]
    scope = join_scopes(config, scopes or config.default_scopes)
    if scope:
        fields.append(("scope", scope))
    if config.resource:
        fields.append(("resource", config.resource))  # RFC 8707 §2.2
    return _token_request(config, config.token_url, fields)


def revocation_request(config: ProviderConfig, token: Secret, *, hint: str) -> TokenRequest:
    """Revoke a token (RFC 7009 §2.1), authenticated like a token request, in the body format
    the provider documents (``revocation_request_format``), with ``token_type_hint`` unless
    the provider's body has no place for it."""
    if not config.revocation_url:
        raise OAuthConfigError("missing_revocation_url", "the provider has no revocation URL")
    fields: list[tuple[str, Value]] = [("token", token)]
    if hint and config.revocation_token_type_hint:
        fields.append(("token_type_hint", hint))
    fields, headers = _with_client_auth(config, fields)
    request = TokenRequest(
        config.revocation_url,
        tuple(fields),
        _provider_headers(config, headers),
        config.revocation_request_format,
    )
    for hook in hooks.for_config(config):
        if hook.revocation_request is not None:
            request = hook.revocation_request(config, request)
    return request
