"""What can go wrong when talking to a provider, sorted by what the vault should do next.

    OAuthError                      root: ``error`` (a short code) and ``description``
    ├── PermanentOAuthError         the provider said no for good: invalid_grant,
    │                               invalid_client, unauthorized_client, invalid_scope,
    │                               unsupported_grant_type, access_denied, issuer_mismatch …
    │                               -> the connection needs reconnecting
    ├── TransientOAuthError         nothing was decided: timeout, connection error, 5xx, 429,
    │                               a response too large or not understood, an answer
    │                               lost on the way back (ANSWER_LOST)
    │                               -> keep what is stored, retry later
    └── OAuthConfigError            the provider configuration cannot work (no token URL,
        │                           unknown hook, discovery names another issuer)
        │                           -> fix the app; reconnecting will not help
        └── SecretOriginError       (``origins``) the request would carry the client secret
                                    to an origin it was not entered for; nothing was sent

Messages never carry a token, code, verifier or client secret: the engine scrubs every
secret it sent from whatever text the provider sends back before putting it in an error.
Nor do they carry a provider's body: only the ``error`` code and a cleaned, capped
``error_description`` of a well-formed OAuth error (:func:`clean_text`); anything else is
reported as "HTTP 404, not an OAuth error".
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = [
    "ANSWER_LOST",
    "OAuthConfigError",
    "OAuthError",
    "PermanentOAuthError",
    "TransientOAuthError",
    "clean_text",
    "is_error_code",
    "scrub",
]

# Longest provider-supplied description kept in an error: enough to diagnose, too short to
# smuggle a page of HTML into logs.
MAX_DESCRIPTION = 300
# A provider's error_description is kept to this many characters of RFC 6749's NQSCHAR set.
MAX_PROVIDER_DESCRIPTION = 200

# RFC 6749 §5.2 / Appendix A.7: error and error_description are NQSCHARs (%x20-21 / %x23-5B /
# %x5D-7E: printable ASCII but the quote and the backslash).
_NOT_NQSCHAR = re.compile(r"[^\x20\x21\x23-\x5b\x5d-\x7e]+")
# Error codes in practice are identifiers (invalid_grant, invalid_refresh_token, ratelimited):
# a word with spaces ("Not Found") is a web server's error page, not an OAuth error.
_ERROR_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")

# The ``error`` of a TransientOAuthError whose request may have reached the provider but
# whose answer never came back (connection reset or closed, read timeout after sending).
ANSWER_LOST = "answer_lost"


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
        # Set when this refusal answered a retry after the first answer was lost: the
        # provider most likely saw a rotated refresh token reused, not a revoked consent.
        self.after_lost_answer = False


class TransientOAuthError(OAuthError):
    """The request may succeed later; ``retry_after`` is the provider's hint in seconds."""

    def __init__(
        self,
        error: str,
        description: str = "",
        *,
        status_code: int | None = None,
        retry_after: float | None = None,
        answer_may_be_lost: bool = False,
    ) -> None:
        super().__init__(error, description)
        self.status_code = status_code
        self.retry_after = retry_after
        # The request may have reached the provider though no answer came back: a provider
        # that rotates refresh tokens may have rotated this one.
        self.answer_may_be_lost = answer_may_be_lost


class OAuthConfigError(OAuthError):
    """The provider configuration is unusable as it stands."""


def scrub(text: str, secrets: Iterable[str | None]) -> str:
    """Replace every occurrence of the given secrets in ``text`` by stars."""
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        if len(secret) >= 4:
            text = text.replace(secret, "**********")
    return text


def is_error_code(value: object) -> bool:
    """Whether ``value`` is a well-formed OAuth ``error`` code (an identifier, at most 64
    characters)."""
    return isinstance(value, str) and bool(_ERROR_CODE.match(value))


def clean_text(text: str, limit: int = MAX_PROVIDER_DESCRIPTION) -> str:
    """Provider text made safe to show and store: only RFC 6749 NQSCHARs (every other run of
    characters becomes one space), trimmed, at most ``limit`` characters."""
    return _NOT_NQSCHAR.sub(" ", text).strip()[:limit].rstrip()
