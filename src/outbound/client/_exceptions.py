"""Every failure the SDK raises, rooted at :class:`OutboundError`.

```
OutboundError                      status, error_code, description, message
├── ConfigurationError             a setting is missing or invalid; nothing was sent
├── TransportError                 the server could not be reached or did not answer in time
├── BadRequestError                400: the request was malformed or inconsistent (E0110xx)
├── UnauthorizedError              401: missing, unknown or revoked management key
├── NotFoundError                  404: no such app or token (E131001, E111504)
├── ConflictError                  409: an app with this id or name exists (E131002)
├── RateLimitedError               429: retry after ``retry_after`` seconds (E130429)
├── ReconnectRequiredError         the provider rejected the refresh: send the user through
│                                  connect again (E131010)
├── ProviderUnavailableError       the provider is down or slow; nothing stored was lost,
│                                  retry later (E131011)
└── TokenExchangeError             the token endpoint's RFC 6749 §5.2 answer: ``error``,
                                   ``error_uri`` (for interaction_required: a connect link)
```

Code written for the official ``descope`` SDK catches ``AuthException`` and reads
``status_code``, ``error_type`` and ``error_message``; every error here carries those
attributes with the same meaning: the HTTP status, ``"server error"`` (``"API rate limit
exceeded"`` for 429, ``"invalid argument"`` for errors raised before sending) and the raw
response body text. ``RateLimitedError`` also has ``rate_limit_parameters`` like descope's
``RateLimitException``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = [
    "ERROR_TYPE_API_RATE_LIMIT",
    "ERROR_TYPE_INVALID_ARGUMENT",
    "ERROR_TYPE_SERVER_ERROR",
    "BadRequestError",
    "ConfigurationError",
    "ConflictError",
    "NotFoundError",
    "OutboundError",
    "ProviderUnavailableError",
    "RateLimitedError",
    "ReconnectRequiredError",
    "TokenExchangeError",
    "TransportError",
    "UnauthorizedError",
    "error_from_response",
    "token_exchange_error",
]

# The official SDK's ``error_type`` values, so code comparing against them keeps working.
ERROR_TYPE_INVALID_ARGUMENT = "invalid argument"
ERROR_TYPE_SERVER_ERROR = "server error"
ERROR_TYPE_API_RATE_LIMIT = "API rate limit exceeded"


class OutboundError(Exception):
    """Root of every SDK error.

    ``status`` is the HTTP status (``None`` when no answer came), ``error_code`` the server's
    ``errorCode`` (e.g. ``"E111504"``), ``description`` what that code means and ``message``
    what went wrong with this request.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        error_code: str = "",
        description: str = "",
        error_type: str = ERROR_TYPE_SERVER_ERROR,
        body: str = "",
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.description = description
        self.message = message
        # The official SDK's AuthException attributes.
        self.status_code = status
        self.error_type = error_type
        self.error_message = body or message

    def __str__(self) -> str:
        parts = [f"HTTP {self.status}" if self.status else "", self.error_code]
        prefix = " ".join(p for p in parts if p)
        text = self.message or self.description
        return f"{prefix}: {text}" if prefix else text

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status!r}, error_code={self.error_code!r},"
            f" message={self.message!r})"
        )


class ConfigurationError(OutboundError):
    """A setting is missing or invalid; raised before anything is sent."""

    def __init__(self, message: str) -> None:
        super().__init__(message, status=400, error_type=ERROR_TYPE_INVALID_ARGUMENT)


class TransportError(OutboundError):
    """The server could not be reached, or did not answer within the timeout."""


class BadRequestError(OutboundError):
    """400: the server refused the request's fields (the message names the field)."""


class UnauthorizedError(OutboundError):
    """401: the management key is missing, unknown or revoked, or belongs to another project."""


class NotFoundError(OutboundError):
    """404: no such app, or no token for this app and user/tenant (and scopes)."""


class ConflictError(OutboundError):
    """409: an outbound app with this id or name already exists."""


class RateLimitedError(OutboundError):
    """429: too many requests; ``retry_after`` says how many seconds to wait."""

    def __init__(self, message: str, *, retry_after: int = 0, **kwargs: Any) -> None:
        super().__init__(message, error_type=ERROR_TYPE_API_RATE_LIMIT, **kwargs)
        self.retry_after = retry_after
        # The official SDK's RateLimitException attributes.
        self.error_description = self.description
        self.rate_limit_parameters = {"Retry-After": retry_after}


class ReconnectRequiredError(OutboundError):
    """The provider rejected the refresh (revoked consent, ``invalid_grant``).

    The stored connection is unusable: send the user through ``connect`` again.
    """


class ProviderUnavailableError(OutboundError):
    """Refreshing at the provider failed transiently; nothing stored was lost. Retry after
    ``retry_after`` seconds."""

    def __init__(self, message: str, *, retry_after: int = 0, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


_BY_CODE: dict[str, type[OutboundError]] = {
    "E131010": ReconnectRequiredError,
    "E131011": ProviderUnavailableError,
    "E130429": RateLimitedError,
}
_BY_STATUS: dict[int, type[OutboundError]] = {
    400: BadRequestError,
    401: UnauthorizedError,
    404: NotFoundError,
    409: ConflictError,
    429: RateLimitedError,
}


def parse_retry_after(headers: Mapping[str, str]) -> int:
    """``Retry-After`` in whole seconds (0 when absent or given as an HTTP date)."""
    value = headers.get("retry-after", "")
    try:
        return max(0, int(float(value)))
    except ValueError:
        return 0


def error_from_response(status: int, headers: Mapping[str, str], body: bytes) -> OutboundError:
    """Turn a non-2xx answer into the matching :class:`OutboundError` subclass."""
    text = body.decode("utf-8", errors="replace")
    fields: dict[str, Any] = {}
    try:
        decoded = json.loads(text)
        if isinstance(decoded, dict):
            fields = decoded
    except ValueError:
        pass
    error_code = str(fields.get("errorCode") or "")
    description = str(fields.get("errorDescription") or "")
    # A body that is not our JSON error shape (a proxy's HTML page, say) is not echoed in
    # full: keep the message short and free of whatever the proxy put there.
    message = str(fields.get("errorMessage") or description or f"the server answered {status}")
    cls = _BY_CODE.get(error_code) or _BY_STATUS.get(status) or OutboundError
    if cls is RateLimitedError:
        return RateLimitedError(
            message,
            retry_after=parse_retry_after(headers),
            status=status,
            error_code=error_code or "E130429",
            description=description,
            body=text,
        )
    if cls is ProviderUnavailableError:
        return ProviderUnavailableError(
            message,
            retry_after=parse_retry_after(headers),
            status=status,
            error_code=error_code,
            description=description,
            body=text,
        )
    return cls(message, status=status, error_code=error_code, description=description, body=text)


class TokenExchangeError(OutboundError):
    """An RFC 8693 token exchange was refused: ``error`` is the OAuth error code
    (``invalid_grant``, ``invalid_target``, ``invalid_scope``, ``interaction_required`` …),
    ``error_uri`` for ``interaction_required`` the connect link to send the user to."""

    def __init__(self, message: str, *, error: str, error_uri: str | None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.error = error
        self.error_uri = error_uri


def token_exchange_error(status: int, headers: Mapping[str, str], body: bytes) -> OutboundError:
    """The token endpoint's error answer (RFC 6749 §5.2) as a :class:`TokenExchangeError`."""
    text = body.decode("utf-8", errors="replace")
    try:
        fields = json.loads(text)
    except ValueError:
        fields = None
    if not isinstance(fields, dict) or not isinstance(fields.get("error"), str):
        return error_from_response(status, headers, body)
    uri = fields.get("error_uri")
    return TokenExchangeError(
        str(fields.get("error_description") or fields["error"]),
        error=fields["error"],
        error_uri=uri if isinstance(uri, str) else None,
        status=status,
        error_code=fields["error"],
        body=text,
    )
