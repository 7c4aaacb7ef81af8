"""Checks on the authorization response the browser brings back (RFC 6749 §4.1.2, RFC 9207)."""

from __future__ import annotations

from collections.abc import Mapping

from .config import ProviderConfig
from .errors import PermanentOAuthError, clean_text, is_error_code, scrub

__all__ = ["check_callback", "check_callback_issuer"]


def check_callback_issuer(config: ProviderConfig, params: Mapping[str, str]) -> None:
    """Refuse a callback whose ``iss`` names another authorization server (mix-up attack,
    RFC 9207 §2.4), or that lacks ``iss`` when the provider promised to send it."""
    iss = params.get("iss")
    if iss is None:
        if config.require_callback_issuer:
            raise PermanentOAuthError(
                "issuer_mismatch", "the provider promised an iss parameter and sent none"
            )
        return
    if config.issuer and iss != config.issuer:
        raise PermanentOAuthError(
            "issuer_mismatch",
            f"the callback came from another issuer than the expected {config.issuer!r}",
        )


def check_callback(config: ProviderConfig, params: Mapping[str, str]) -> str:
    """The authorization code of a successful callback; raises :class:`PermanentOAuthError`
    for an error response (``access_denied`` when the user declined) or a missing code."""
    check_callback_issuer(config, params)
    error = params.get("error")
    if error:
        description = params.get("error_description", "")
        code = params.get("code")
        error = scrub(error, [code])
        raise PermanentOAuthError(
            error if is_error_code(error) else "invalid_request",
            clean_text(scrub(description, [code])),
        )
    code = params.get("code")
    if not code:
        raise PermanentOAuthError("invalid_request", "the callback carries no code")
    return code
