"""The OAuth 2.0 client engine: authorization code with PKCE, refresh, revocation and
discovery, for providers described by :class:`ProviderConfig`.

The specs are the architecture: :mod:`.messages` builds requests (RFC 6749, 7636, 7009),
:mod:`.tokens` reads responses, :mod:`.discovery` handles metadata (RFC 8414 / OIDC),
:mod:`.callback` checks authorization responses (RFC 9207); all of these are pure.
:class:`OAuthClient` is the thin layer that does the HTTP, through :mod:`outbound.net` (which
addresses a request may reach) with the bounded caches of :mod:`.lru`.
"""

from .callback import check_callback, check_callback_issuer
from .client import OAuthClient
from .config import ProviderConfig
from .errors import OAuthConfigError, OAuthError, PermanentOAuthError, TransientOAuthError
from .origins import SecretOriginError
from .tokens import TokenSet, needs_refresh, refresh_allowed

__all__ = [
    "OAuthClient",
    "OAuthConfigError",
    "OAuthError",
    "PermanentOAuthError",
    "ProviderConfig",
    "SecretOriginError",
    "TokenSet",
    "TransientOAuthError",
    "check_callback",
    "check_callback_issuer",
    "needs_refresh",
    "refresh_allowed",
]
