"""outbound: a self-hosted vault for outbound OAuth tokens.

The top-level package is the SDK (it needs only httpx); the server lives in
``outbound.server`` and needs the ``server`` extra.
"""

from ._version import __version__
from .client import (
    AsyncClient,
    AsyncDescopeClient,
    BadRequestError,
    Client,
    ConfigurationError,
    ConflictError,
    DescopeClient,
    NotFoundError,
    OutboundError,
    ProviderUnavailableError,
    RateLimitedError,
    ReconnectRequiredError,
    TransportError,
    UnauthorizedError,
)

__all__ = [
    "AsyncClient",
    "AsyncDescopeClient",
    "BadRequestError",
    "Client",
    "ConfigurationError",
    "ConflictError",
    "DescopeClient",
    "NotFoundError",
    "OutboundError",
    "ProviderUnavailableError",
    "RateLimitedError",
    "ReconnectRequiredError",
    "TransportError",
    "UnauthorizedError",
    "__version__",
]
