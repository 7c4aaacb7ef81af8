"""Who is calling the proxy, and whose connection the call uses.

The same credentials as the fetch paths (``Authorization: Bearer <projectId>:<credential>``):

- a full management key: any connection of the project;
- a fetch-only key: connections of the apps it names (all, when it names none) — another
  app is 403 whether or not it exists;
- a user's access token from an issuer the project trusts (``delegation.py``, the JWT's fetch
  scope required): only its subject's own connections; ``Outbound-User-Id`` may be left out
  (it defaults to the subject) and, when sent, must be the subject; a tenant connection needs
  the tenant claim and the configured role, as a delegated tenant fetch does.

The connection is named by exactly one of ``Outbound-User-Id`` (a user's) and
``Outbound-Tenant-Id`` (a tenant's). Fetch-only keys and users' tokens are *limited*: the
forced refresh a provider's 401 causes reaches the provider at most once per token every
``FORCE_REFRESH_INTERVAL`` seconds for them, as their ``forceRefresh`` does.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ...audit import caller, set_caller
from ..http.auth import invalid_key, key_actor
from ..http.errors import ApiError, fetch_only_key
from ..http.wire import PRINTABLE_ID
from ..tokens.delegation import Delegate, fetch_credentials
from ..vault import Vault

__all__ = ["Owner", "identify"]

_MAX_ID = 256


@dataclass(frozen=True, slots=True)
class Owner:
    """The connection a proxied call uses, and how far its caller is trusted."""

    project_id: str
    app_id: str
    user_id: str
    tenant_id: str
    # a fetch-only key or a user's token: forced refreshes are rate limited
    limited: bool


def _id(value: bytes | None, header: str) -> str:
    if value is None:
        return ""
    text = value.decode("latin-1")
    if not text or len(text) > _MAX_ID or not PRINTABLE_ID.match(text):
        raise ApiError("E011003", f"header {header}: not a valid id")
    return text


def owner_headers(
    user: bytes | None, tenant: bytes | None, delegate: Delegate | None
) -> tuple[str, str]:
    """(user id, tenant id) named by the headers: exactly one of them."""
    user_id = _id(user, "Outbound-User-Id")
    tenant_id = _id(tenant, "Outbound-Tenant-Id")
    if not user_id and not tenant_id and delegate is not None:
        user_id = delegate.subject
    if bool(user_id) == bool(tenant_id):
        raise ApiError(
            "E011002",
            "name the connection with exactly one header: Outbound-User-Id (a user's) or"
            " Outbound-Tenant-Id (a tenant's)",
        )
    return user_id, tenant_id


async def identify(
    vault: Vault,
    authorization: str,
    app_id: str,
    user: bytes | None,
    tenant: bytes | None,
) -> Owner:
    """The owner of the connection the call may use; 401/403 otherwise (before any token is
    read, so a refusal says nothing about what is stored)."""
    project_id, key, delegate = await fetch_credentials(
        vault.store, vault.session_jwks, authorization
    )
    if delegate is not None:
        set_caller(dataclasses.replace(caller(), actor=delegate.actor, project_id=project_id))
        user_id, tenant_id = owner_headers(user, tenant, delegate)
        delegate.authorize(user_id, tenant_id, tenant_level=bool(tenant_id))
        return Owner(project_id, app_id, user_id, tenant_id, limited=True)
    assert key is not None
    grant = await vault.store.keys.authenticate(project_id, key)
    if grant is None:
        raise invalid_key()
    vault.limits.admit(grant.key_id)
    set_caller(dataclasses.replace(caller(), actor=key_actor(key), project_id=project_id))
    if not grant.may_fetch(app_id):
        raise fetch_only_key(app_id)
    user_id, tenant_id = owner_headers(user, tenant, None)
    return Owner(project_id, app_id, user_id, tenant_id, limited=grant.fetch_only)
