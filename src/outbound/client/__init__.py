"""The outbound SDK: a client of the management API, sync and async.

``DescopeClient`` and ``AsyncDescopeClient`` are aliases of ``Client`` and ``AsyncClient``, so
code written for the official ``descope`` SDK runs with only its import line changed.
"""

from ._by_token import AsyncOutboundApplicationByToken, OutboundApplicationByToken
from ._client import AsyncClient, Client
from ._config import ClientConfig
from ._core import RetryPolicy
from ._exceptions import (
    BadRequestError,
    ConfigurationError,
    ConflictError,
    NotFoundError,
    OutboundError,
    ProviderUnavailableError,
    RateLimitedError,
    ReconnectRequiredError,
    TokenExchangeError,
    TransportError,
    UnauthorizedError,
)
from ._management import AsyncManagement, Management
from ._masking import MaskedDict
from ._outbound_application import AsyncOutboundApplication, OutboundApplication

DescopeClient = Client
AsyncDescopeClient = AsyncClient

__all__ = [
    "AsyncClient",
    "AsyncDescopeClient",
    "AsyncManagement",
    "AsyncOutboundApplication",
    "AsyncOutboundApplicationByToken",
    "BadRequestError",
    "Client",
    "ClientConfig",
    "ConfigurationError",
    "ConflictError",
    "DescopeClient",
    "Management",
    "MaskedDict",
    "NotFoundError",
    "OutboundApplication",
    "OutboundApplicationByToken",
    "OutboundError",
    "ProviderUnavailableError",
    "RateLimitedError",
    "ReconnectRequiredError",
    "RetryPolicy",
    "TokenExchangeError",
    "TransportError",
    "UnauthorizedError",
]
