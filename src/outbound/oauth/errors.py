"""What can go wrong when talking to a provider, sorted by what the vault should do next.

    OAuthError                      root: ``error`` (a short code) and ``description``
    ├── PermanentOAuthError         the provider said no for good: invalid_grant,
    │                               invalid_client, unauthorized_client, invalid_scope,
    │                               unsupported_grant_type, access_denied, issuer_mismatch …
    │                               -> the connection needs reconnecting
    ├── TransientOAuthError         nothing was decided: timeout, connection error, 5xx, 429,
    │                               a response too large or not understood
    │                               -> keep what is stored, retry later
    └── OAuthConfigError            the provider configuration cannot work (no token URL,
                                    unknown hook, discovery names another issuer)
                                    -> fix the app; reconnecting will not help

Messages never carry a token, code, verifier or client secret: the engine scrubs every
secret it sent from whatever text the provider sends back before putting it in an error.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "OAuthConfigError",
    "OAuthError",
    "PermanentOAuthError",
    "TransientOAuthError",
    "scrub",
]

# Longest provider-supplied description kept in an error: enough to diagnose, too short to
# smuggle a page of HTML into logs.
MAX_DESCRIPTION = 300


class OAuthError(Exception):
    def __init__(self, error: str, description: str = "") -> None:
        self.error = error
        self.description = description[:MAX_DESCRIPTION]
        super().__init__(f"{error}: {self.description}" if self.description else error)


class PermanentOAuthError(OAuthError):
    """The provider rejected the grant or the client; retrying the same request is useless."""

    def __init__(self, error: str, description: str = "", *, status_code: int | None = None):
        super().__init__(error, description)
        self.status_code = status_code


class TransientOAuthError(OAuthError):
    """The request may succeed later; ``retry_after`` is the provider's hint in seconds."""

    def __init__(
        self,
        error: str,
        description: str = "",
        *,
        status_code: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(error, description)
        self.status_code = status_code
        self.retry_after = retry_after


class OAuthConfigError(OAuthError):
    """The provider configuration is unusable as it stands."""


def scrub(text: str, secrets: Iterable[str | None]) -> str:
    """Replace every occurrence of the given secrets in ``text`` by stars."""
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        if len(secret) >= 4:
            text = text.replace(secret, "**********")
    return text
