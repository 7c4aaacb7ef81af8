"""Token-endpoint responses, read into a :class:`TokenSet`; and when a token needs refreshing.

Pure functions: :func:`parse_token_response` takes the status, content type and body bytes
and either returns tokens or raises the right :mod:`~outbound.oauth.errors` class.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from ..secret import Secret
from . import hooks
from .config import ProviderConfig
from .errors import PermanentOAuthError, TransientOAuthError, clean_text, is_error_code, scrub

__all__ = [
    "TokenSet",
    "decode_body",
    "error_from_payload",
    "needs_refresh",
    "parse_token_response",
    "refresh_allowed",
]

# Provider error codes that mean "try again later", whatever the HTTP status says.
# RFC 6749 §4.1.2.1 names the first two; the rest are what Slack-style APIs put in "error".
TRANSIENT_ERRORS = frozenset(
    {
        "temporarily_unavailable",
        "server_error",
        "slow_down",
        "ratelimited",
        "rate_limited",
        "internal_error",
        "service_unavailable",
        "request_timeout",
        "fatal_error",
    }
)
OAUTH_ERROR_STATUSES = frozenset({400, 401, 403})
_SECRET_FIELDS = frozenset({"access_token", "refresh_token", "id_token"})


@dataclass(frozen=True)
class TokenSet:
    """What one token response granted. ``expires_at`` is epoch seconds, 0 when unknown;
    ``scopes`` is None when the provider did not say which scopes it granted."""

    access_token: Secret | None
    refresh_token: Secret | None = None
    id_token: Secret | None = None
    token_type: str = "Bearer"  # noqa: S105
    expires_at: int = 0
    scopes: tuple[str, ...] | None = None
    subject: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        present = [
            name
            for name in ("access_token", "refresh_token", "id_token")
            if getattr(self, name) is not None
        ]
        return (
            f"TokenSet(tokens=[{', '.join(present)}] (masked), token_type={self.token_type!r},"
            f" expires_at={self.expires_at}, scopes={self.scopes!r}, subject={self.subject!r},"
            f" extra_keys={sorted(self.extra)!r})"
        )


def dotted(payload: Any, path: str) -> Any:
    """``payload["a"]["b"]`` for ``"a.b"``; None when any step is missing."""
    node = payload
    for part in path.split(".") if path else ():
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def decode_body(content_type: str, body: bytes) -> dict[str, Any] | None:
    """A JSON object, or a form-encoded body (older providers); None when neither."""
    media = content_type.split(";", 1)[0].strip().lower()
    if media == "application/x-www-form-urlencoded" or (media == "text/plain" and b"=" in body):
        try:
            pairs = parse_qsl(body.decode(), keep_blank_values=True, strict_parsing=True)
        except (UnicodeDecodeError, ValueError):
            pairs = []
        if pairs:
            return dict(pairs)
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        return None
    return payload if isinstance(payload, dict) else None


def oauth_error(payload: Mapping[str, Any]) -> tuple[str, str] | None:
    """(code, description) when ``payload`` is a well-formed OAuth error, else None.

    Well-formed: RFC 6749 §5.2's ``{"error", "error_description"?}`` with an identifier as
    the code; Notion's documented error object ``{"object": "error", "code", "message"}``;
    or a nested ``{"error": {"code"}}`` (its code only). Nothing else of a body is kept."""
    error = payload.get("error")
    if isinstance(error, str):
        if not is_error_code(error):
            return None
        description = payload.get("error_description")
        return error, description if isinstance(description, str) else ""
    if isinstance(error, Mapping):
        code = error.get("code")
        return (str(code), "") if is_error_code(code) else None
    if payload.get("object") == "error" and is_error_code(payload.get("code")):
        message = payload.get("message")
        return str(payload["code"]), message if isinstance(message, str) else ""
    return None


def not_an_oauth_error(status: int) -> PermanentOAuthError:
    return PermanentOAuthError(
        "invalid_request", f"HTTP {status}, not an OAuth error", status_code=status
    )


def error_from_payload(
    payload: Mapping[str, Any], status: int, secrets: Iterable[str | None]
) -> PermanentOAuthError | TransientOAuthError:
    """The error a provider's error answer stands for: its code and a cleaned description
    when it is a well-formed OAuth error, else only the HTTP status (a provider's body is
    never echoed: it may be an internal service's page)."""
    found = oauth_error(payload)
    if found is None:
        return not_an_oauth_error(status)
    secrets = list(secrets)
    code = scrub(found[0], secrets)
    description = clean_text(scrub(found[1], secrets))
    if code in TRANSIENT_ERRORS:
        return TransientOAuthError(code, description, status_code=status)
    return PermanentOAuthError(code, description, status_code=status)


def retry_after_seconds(value: str | None) -> float | None:
    # ASCII digits only: str.isdigit also accepts "²", which float() refuses
    if value and value.strip().isascii() and value.strip().isdigit():
        return float(value.strip())
    return None


def raise_for_status(
    status: int,
    payload: Mapping[str, Any] | None,
    retry_after: str | None,
    secrets: Iterable[str | None],
) -> None:
    """Raise for any response that is not a success; classify it as permanent or transient."""
    if status == 429 or status >= 500 or status == 408:
        raise TransientOAuthError(
            "rate_limited" if status == 429 else "server_error" if status != 408 else "timeout",
            f"the provider answered HTTP {status}",
            status_code=status,
            retry_after=retry_after_seconds(retry_after),
        )
    if 400 <= status < 500:
        # RFC 6749 §5.2: errors come as 400, or 401 for client authentication (some providers
        # use 403). Any other status — a 404 — is a web server's page, whatever its body says.
        if status in OAUTH_ERROR_STATUSES and payload is not None and oauth_error(payload):
            raise error_from_payload(payload, status, secrets)
        if status == 401:
            raise PermanentOAuthError(
                "invalid_client",
                "the provider refused the client credentials (HTTP 401)",
                status_code=status,
            )
        raise not_an_oauth_error(status)
    if not 200 <= status < 300:
        raise TransientOAuthError(
            "unexpected_response", f"the provider answered HTTP {status}", status_code=status
        )


def _expires_in(value: Any) -> int:
    """Seconds from a number or a numeric string; 0 (unknown) for anything else."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return 0
    if isinstance(value, int | float) and value > 0:
        return int(value)
    return 0


def _scopes(config: ProviderConfig, value: Any) -> tuple[str, ...] | None:
    if isinstance(value, list | tuple):
        return tuple(str(s) for s in value if str(s))
    if isinstance(value, str):
        separator = config.scope_separator or " "
        return tuple(s for s in (p.strip() for p in value.split(separator)) if s)
    return None


def id_token_claims(id_token: str) -> dict[str, Any]:
    """The id token's payload, unverified: it came straight from the token endpoint over
    TLS, which OIDC Core §3.1.3.7 accepts in place of checking the signature."""
    try:
        payload = id_token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError, binascii.Error):
        return {}
    return claims if isinstance(claims, dict) else {}


def _subject(
    config: ProviderConfig, root: Mapping[str, Any], tokens: Mapping[str, Any], id_token: str | None
) -> str:
    if id_token:
        sub = id_token_claims(id_token).get("sub")
        if isinstance(sub, str | int) and str(sub):
            return str(sub)
    candidates = [dotted(root, config.subject_field)] if config.subject_field else []
    candidates += [tokens.get("sub"), tokens.get("user_id"), root.get("sub"), root.get("user_id")]
    for value in candidates:
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value):
            return str(value)
    return ""


def _optional_secret(value: Any) -> Secret | None:
    return Secret(value) if isinstance(value, str) and value else None


def parse_token_response(
    config: ProviderConfig,
    *,
    status: int,
    content_type: str,
    body: bytes,
    now: float,
    retry_after: str | None = None,
    callback_params: Mapping[str, str] = {},
    secrets: Iterable[str | None] = (),
) -> TokenSet:
    """Read a token-endpoint response (RFC 6749 §5.1/§5.2) with the provider's quirks."""
    secrets = list(secrets)
    payload = _token_payload(config, status, content_type, body, retry_after, secrets)
    tokens = _token_object(config, payload, status, secrets)
    access_token = tokens.get("access_token")
    if not isinstance(access_token, str) or not access_token:
        raise TransientOAuthError(
            "malformed_response",
            "the token endpoint's answer has no access_token",
            status_code=status,
        )
    expires_in = _expires_in(tokens.get("expires_in"))
    id_token = tokens.get("id_token") if isinstance(tokens.get("id_token"), str) else None
    token_type = str(tokens.get("token_type") or "Bearer")
    return TokenSet(
        access_token=Secret(access_token),
        refresh_token=_optional_secret(tokens.get("refresh_token")),
        id_token=_optional_secret(id_token),
        token_type="Bearer" if token_type.lower() == "bearer" else token_type,
        expires_at=int(now) + expires_in if expires_in else 0,
        scopes=_scopes(config, tokens.get("scope")),
        subject=_subject(config, payload, tokens, id_token),
        extra=_extras(config, payload, tokens, callback_params),
    )


def _token_payload(
    config: ProviderConfig,
    status: int,
    content_type: str,
    body: bytes,
    retry_after: str | None,
    secrets: list[str | None],
) -> dict[str, Any]:
    """The answer's JSON object, through the provider's hooks; an error answer raised."""
    payload = decode_body(content_type, body)
    if payload is not None:
        for hook in hooks.for_config(config):
            if hook.token_response is not None:
                payload = hook.token_response(config, payload)
    raise_for_status(status, payload, retry_after, secrets)
    if payload is None:
        raise TransientOAuthError(
            "malformed_response",
            "the token endpoint's answer is not a JSON object",
            status_code=status,
        )
    if config.success_field and payload.get(config.success_field) is not True:
        raise error_from_payload(
            {
                "error": payload.get("error") or "request_failed",
                **{k: v for k, v in payload.items() if k in ("error_description", "message")},
            },
            status,
            secrets,
        )
    return payload


def _token_object(
    config: ProviderConfig, payload: dict[str, Any], status: int, secrets: list[str | None]
) -> Mapping[str, Any]:
    """The object holding the tokens (``token_response_path``, or the answer itself)."""
    tokens = dotted(payload, config.token_response_path)
    if not isinstance(tokens, Mapping) and "access_token" in payload:
        # Slack nests the user token under authed_user on code exchange, but answers a
        # refresh of that token at the top level.
        tokens = payload
    if not isinstance(tokens, Mapping):
        raise TransientOAuthError(
            "malformed_response",
            f"the token endpoint's answer has no {config.token_response_path!r} object",
            status_code=status,
        )
    if "error" in tokens and "access_token" not in tokens:
        # GitHub and others answer HTTP 200 with an error body.
        raise error_from_payload(tokens, status, secrets)
    return tokens


def _extras(
    config: ProviderConfig,
    payload: Mapping[str, Any],
    tokens: Mapping[str, Any],
    callback_params: Mapping[str, str],
) -> dict[str, Any]:
    """The answer's and the callback's fields the configuration keeps; never a token."""
    extra: dict[str, Any] = {}
    for path in config.extra_token_fields:
        if path.rsplit(".", 1)[-1] in _SECRET_FIELDS:
            continue  # tokens are never copied into the plain-text extras
        value = dotted(payload, path)
        if value is None and config.token_response_path:
            value = dotted(tokens, path)
        if value is not None:
            extra[path] = value
    for name in config.extra_callback_params:
        if name not in ("code", "state") and name in callback_params:
            extra[name] = callback_params[name]
    return extra


# Assumed lifetime of an access token whose expiry the provider did not give: an unknown
# expiry is never read as "never expires".
UNKNOWN_EXPIRY_LIFETIME = 3600


def needs_refresh(
    config: ProviderConfig,
    expires_at: int,
    now: float,
    default_margin: int,
    *,
    obtained_at: int | None = None,
    unknown_lifetime: int = UNKNOWN_EXPIRY_LIFETIME,
) -> bool:
    """Whether a token expiring at ``expires_at`` should be refreshed before use at ``now``.

    The margin is the configuration's ``refresh_margin`` (else ``default_margin``), narrowed
    to ``refresh_window`` for providers that refuse early refreshes. An unknown expiry (0)
    counts from ``obtained_at`` with ``unknown_lifetime``; without ``obtained_at`` it is
    due now. (A caller without a refresh token has no choice but to serve the token.)"""
    if not expires_at:
        if obtained_at is None:
            return True
        expires_at = obtained_at + unknown_lifetime
    margin = config.refresh_margin if config.refresh_margin is not None else default_margin
    if config.refresh_window is not None:
        margin = min(margin, config.refresh_window)
    return now >= expires_at - margin


def refresh_allowed(config: ProviderConfig, expires_at: int, now: float) -> bool:
    """False while a provider with a ``refresh_window`` would refuse a refresh (forced
    refreshes included); True otherwise."""
    if config.refresh_window is None or not expires_at:
        return True
    return now >= expires_at - config.refresh_window
