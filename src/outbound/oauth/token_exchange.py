"""OAuth 2.0 Token Exchange (RFC 8693) as the vault serves it: a user's access token in, that
user's provider token out.

Pure functions over the form a client posts and the answer it gets: :func:`parse_request`
checks the parameters (§2.1) and names the first problem as an :class:`ExchangeError` carrying
an RFC 6749 §5.2 / RFC 8693 §2.2.2 error code; :func:`answer` builds the §2.2.1 success body.
The server (``server/tokens/token_exchange.py``) verifies the subject token and fetches the token.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ACCESS_TOKEN_TYPE",
    "ANSWER_FIELDS",
    "GRANT_TYPE",
    "JWT_TOKEN_TYPE",
    "ExchangeError",
    "ExchangeRequest",
    "answer",
    "metadata",
    "parse_request",
]

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"  # noqa: S105 - a URN
JWT_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:jwt"  # noqa: S105 - a URN
SUBJECT_TOKEN_TYPES = (ACCESS_TOKEN_TYPE, JWT_TOKEN_TYPE)
# RFC 8693 §2.2.1: the members of a successful answer (the last two are optional there).
ANSWER_FIELDS = ("access_token", "issued_token_type", "token_type", "expires_in", "scope")
_MAX_SCOPES = 64
_MAX_VALUE = 16 * 1024


class ExchangeError(Exception):
    """An RFC 6749 §5.2 error answer: ``error`` code, a description, an optional URI."""

    def __init__(
        self, error: str, description: str, *, uri: str | None = None, status: int = 400
    ) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.uri = uri
        self.status = status

    def to_wire(self) -> dict[str, str]:
        body = {"error": self.error, "error_description": self.description}
        if self.uri:
            body["error_uri"] = self.uri
        return body


@dataclass(frozen=True)
class ExchangeRequest:
    subject_token: str
    audience: str  # the outbound app's id
    scopes: tuple[str, ...]  # () = the latest token, whatever its scopes
    client_id: str  # '' = not given: the project follows from the token's issuer


def _one(form: Mapping[str, list[str]], name: str) -> str:
    values = form.get(name, [])
    if len(values) > 1:
        # RFC 6749 §3.2: request parameters must not be included more than once
        raise ExchangeError("invalid_request", f"{name} is given more than once")
    value = values[0] if values else ""
    if len(value) > _MAX_VALUE:
        raise ExchangeError("invalid_request", f"{name} is too long")
    return value


def parse_request(form: Mapping[str, list[str]]) -> ExchangeRequest:
    """The exchange a token request asks for, or :class:`ExchangeError`."""
    grant_type = _one(form, "grant_type")
    if grant_type != GRANT_TYPE:
        raise ExchangeError(
            "unsupported_grant_type" if grant_type else "invalid_request",
            f"grant_type must be {GRANT_TYPE}",
        )
    subject_token = _one(form, "subject_token")
    if not subject_token:
        raise ExchangeError("invalid_request", "subject_token is missing")
    subject_type = _one(form, "subject_token_type")
    if subject_type not in SUBJECT_TOKEN_TYPES:
        raise ExchangeError(
            "invalid_request",
            f"subject_token_type must be {ACCESS_TOKEN_TYPE} or {JWT_TOKEN_TYPE}",
        )
    requested = _one(form, "requested_token_type")
    if requested and requested != ACCESS_TOKEN_TYPE:
        raise ExchangeError(
            "invalid_request", f"requested_token_type can only be {ACCESS_TOKEN_TYPE}"
        )
    if _one(form, "actor_token"):
        raise ExchangeError("invalid_request", "actor_token is not supported")
    audiences = form.get("audience", [])
    if len(audiences) != 1 or not audiences[0]:
        raise ExchangeError(
            "invalid_request", "give exactly one audience: the id of the outbound app"
        )
    scopes = tuple(_one(form, "scope").split())
    if len(scopes) > _MAX_SCOPES:
        raise ExchangeError("invalid_scope", f"at most {_MAX_SCOPES} scopes")
    return ExchangeRequest(subject_token, audiences[0], scopes, _one(form, "client_id"))


def answer(
    access_token: str, token_type: str, expires_at: int | None, scopes: list[str], now: float
) -> dict[str, Any]:
    """RFC 8693 §2.2.1: the provider's access token as the issued token."""
    body: dict[str, Any] = {
        "access_token": access_token,
        "issued_token_type": ACCESS_TOKEN_TYPE,
        # RFC 6749 §7.1 token type; an API key or other non-bearer credential is "N_A"
        "token_type": "Bearer" if token_type.lower() == "bearer" else "N_A",
    }
    if expires_at:
        body["expires_in"] = max(0, int(expires_at - now))
    if scopes:
        body["scope"] = " ".join(scopes)
    return body


def metadata(issuer: str, token_endpoint: str) -> dict[str, Any]:
    """RFC 8414 authorization-server metadata for the exchange endpoint."""
    return {
        "issuer": issuer,
        "token_endpoint": token_endpoint,
        "grant_types_supported": [GRANT_TYPE],
        "token_endpoint_auth_methods_supported": ["none"],
        "response_types_supported": [],
    }
