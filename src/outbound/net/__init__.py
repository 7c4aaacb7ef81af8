"""Outbound network: where the vault may send a request, and the client it sends it with.

Every request the server makes to a URL someone configured — a provider's token, discovery
or revocation endpoint, a DCR registration endpoint, an issuer's JWKS, a webhook receiver,
the provider APIs the proxy calls — goes through here:

* :mod:`.guard` — the SSRF guard: :class:`NetworkPolicy`, :func:`check_url` and :func:`vet`
  (pure checks, then one resolution whose every address is checked), and the
  :class:`GuardedTransport` that connects only to the addresses it vetted;
* :mod:`.http` — :func:`provider_http`, the one kind of httpx client those calls use;
* :mod:`.logs` — :func:`loggable` and :func:`quiet_http_logs`: no forged log lines, no query
  strings or headers in httpx's and httpcore's logs.

Nothing here knows OAuth: :mod:`outbound.oauth` builds on it, never the other way round.
"""

from .guard import (
    AddressRefused,
    EncodingRefused,
    GuardedTransport,
    NetworkPolicy,
    UnsafeURL,
    check_url,
    vet,
)
from .http import provider_http
from .logs import loggable, quiet_http_logs

__all__ = [
    "AddressRefused",
    "EncodingRefused",
    "GuardedTransport",
    "NetworkPolicy",
    "UnsafeURL",
    "check_url",
    "loggable",
    "provider_http",
    "quiet_http_logs",
    "vet",
]
