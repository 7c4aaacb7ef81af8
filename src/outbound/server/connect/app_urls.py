"""The URLs of an app, checked when the app is created or updated.

* Endpoint URLs (discovery, token, revocation — which the server calls — and authorization,
  which browsers open) must pass the network guard (:mod:`outbound.net.guard`): http(s),
  no user-info or backslash, and a host that is not, and does not resolve to, a loopback,
  private or other internal address unless ``--provider-allow-networks`` allows it (plain
  http only there). A name that does not resolve yet is accepted: every call checks again.
* Redirect URLs (where browsers land at the end of connecting) follow the same spelling rules;
  https, or http only to loopback or an allowed network.

Where the client secret may go is :mod:`.secret_origins`' concern.

Every refusal is an :class:`ApiError` (E011003) naming the field; nothing is stored.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Mapping
from typing import Any

from ...app_fields import ENDPOINT_FIELDS
from ...net.guard import NetworkPolicy, UnsafeURL, check_url, system_resolve, vet
from ..http.errors import ApiError

__all__ = [
    "ENDPOINT_FIELDS",
    "check_app_urls",
    "check_redirect_url",
]

# Resolving a name while checking an app may take this long; a slower name counts as
# unresolvable (accepted, and checked again at each call).
RESOLVE_TIMEOUT = 3.0


async def check_app_urls(
    config: Mapping[str, Any], network: NetworkPolicy, *, prefix: str = ""
) -> None:
    """Refuse an app configuration whose endpoint or redirect URL the guard would refuse."""
    for field in ENDPOINT_FIELDS:
        url = config.get(field) or ""
        if url:
            try:
                await vet(
                    url,
                    network,
                    field=prefix + field,
                    unresolvable_ok=True,
                    timeout=RESOLVE_TIMEOUT,
                )
            except UnsafeURL as exc:
                raise ApiError("E011003", str(exc)) from None
    redirect = config.get("defaultRedirectUrl") or ""
    if redirect:
        await check_redirect_url(redirect, network, field=prefix + "defaultRedirectUrl")


async def check_redirect_url(url: str, network: NetworkPolicy, *, field: str) -> None:
    """https (anywhere: the browser goes there, not the server), or http to loopback or an
    allowed network; never user-info, backslashes or another scheme (``javascript:``)."""
    try:
        scheme, host, port = check_url(url, field=field)
    except UnsafeURL as exc:
        raise ApiError("E011003", str(exc)) from None
    if scheme == "https":
        return
    try:
        async with asyncio.timeout(RESOLVE_TIMEOUT):
            found = await system_resolve(host, port)
    except (OSError, TimeoutError):
        found = []
    addresses = [ipaddress.ip_address(a.split("%", 1)[0]) for a in found]
    if not addresses or not all(a.is_loopback or network.in_allowed_network(a) for a in addresses):
        raise ApiError(
            "E011003",
            f"{field}: plain http is allowed only to loopback or --provider-allow-networks;"
            " use an https URL",
        )
