"""What state a stored token is in: alive, expired, due for a refresh, or in need of a new
connection — the one place these rules are written, read by the fetch path (``fetch.py``), the
refresher (``refresh.py``) and refresh-ahead.

- *alive*: the access token can still be handed out (its expiry, or when the provider never
  said, obtained + ``ASSUMED_LIFETIME``: an unknown expiry is never read as "never expires");
- *due*: it must be refreshed before it is handed out — inside the app's (or template's, or
  the server's) refresh margin, at most half the token's lifetime;
- *reconnect required*: the provider refused its refresh token, or it expired with nothing to
  refresh it with — both answered E131010, with what the user must do.

Pure functions over the stored row and the app's provider configuration: no I/O.
"""

from __future__ import annotations

import dataclasses

from ...oauth import ProviderConfig, needs_refresh
from ...storage import TokenRecord
from ..http.errors import ApiError

__all__ = [
    "ASSUMED_LIFETIME",
    "alive",
    "due",
    "expired_without_refresh_token",
    "expires_at",
    "reconnect_required",
]

# A token whose lifetime the provider never told us is assumed to live this long after it was
# obtained: an unknown expiry is never read as "never expires".
ASSUMED_LIFETIME = 3600


def expires_at(token: TokenRecord) -> int:
    """When the access token expires: as the provider said, else obtained + ASSUMED_LIFETIME."""
    if token.access_token_expiry:
        return token.access_token_expiry
    return token.last_refresh_time + ASSUMED_LIFETIME


def alive(token: TokenRecord, now: float) -> bool:
    """Whether the access token can still be used at ``now`` (refresh margin aside)."""
    return token.access_token is not None and expires_at(token) > now


def due(config: ProviderConfig, token: TokenRecord, now: float, default_margin: int) -> bool:
    """Whether ``token`` must be refreshed before it is handed out: inside the app's or
    template's refresh margin (else ``default_margin``), a margin capped at half the token's
    lifetime — a longer one would refresh on every fetch."""
    margin = config.refresh_margin if config.refresh_margin is not None else default_margin
    lifetime = token.access_token_expiry - token.last_refresh_time
    if token.access_token_expiry and lifetime > 0 and margin > lifetime // 2:
        config = dataclasses.replace(config, refresh_margin=lifetime // 2)
    return needs_refresh(
        config,
        token.access_token_expiry,
        now,
        default_margin,
        obtained_at=token.last_refresh_time,
    )


def reconnect_required(token: TokenRecord) -> ApiError:
    """E131010 for a connection whose refresh token the provider rejected."""
    return ApiError(
        "E131010",
        "the provider rejected this connection's refresh token"
        f" ({token.last_refresh_error or 'no reason given'}); connect the user again",
    )


def expired_without_refresh_token() -> ApiError:
    """E131010 for an expired access token with nothing to refresh it with."""
    return ApiError(
        "E131010",
        "the access token has expired and there is no refresh token; connect the user again"
        " or upload a new token",
    )
