"""Delegated fetch: an agent fetches a user's token with that user's own access token.

The official SDK's ``outbound_application_by_token`` sends
``Authorization: Bearer <projectId>:<JWT>`` to the four fetch paths, with no management key.
The JWT is an access token that an *inbound* app (an agent, an MCP server, a partner backend)
received for the signed-in user from one of the project's trusted issuers
(``outbound projects set-session-issuer``). It is accepted when:

- it is signed by the issuer its ``iss`` names, one the project trusts, and passes every check
  of :func:`session_jwt.verify_session_token` (algorithm, JWKS key, ``exp``/``nbf``/``iat``
  with a small leeway, ``aud``) — else 401;
- it carries the issuer's fetch scope (``outbound.token.fetch`` unless configured) in its
  scope claim — else 403;
- the fetch is for its own subject: ``userId`` equals the subject claim (``sub`` unless
  configured); a ``tenantId`` is named in its tenant claim; a tenant-level fetch needs the
  role or permission the operator configured for that tenant — else 403.

Every check runs before any token is read, so a refusal says nothing about whether a token
exists. A delegated fetch never hands out the refresh token: ``withRefreshToken`` is refused
(E130403) as a fetch-only key's is (fetch.py); its audit actor is ``jwt:<sub>@<issuer>``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt

from ... import metrics
from ...storage import Store
from ...storage.session_issuers import SessionIssuer, find_session_issuer
from ..http.auth import parse_authorization
from ..http.errors import ApiError
from ..http.session_jwt import JwksCache, SessionTokenError, verify_session_token
from ..http.wire import PRINTABLE_ID

__all__ = [
    "Delegate",
    "fetch_credentials",
    "looks_like_jwt",
    "require_tenant_admin",
    "tenant_ids",
    "trusted_issuer",
    "verify_delegate",
]

logger = logging.getLogger("outbound.server.tokens.delegation")


def looks_like_jwt(credential: str) -> bool:
    """A compact JWS (``header.payload.signature``); management keys have no dots."""
    return credential.count(".") == 2 and credential.startswith("eyJ")


def _strings(value: Any) -> set[str]:
    return {item for item in value if isinstance(item, str)} if isinstance(value, list) else set()


def tenant_ids(issuer: SessionIssuer, claims: Mapping[str, Any]) -> set[str]:
    """The tenants the token names (Descope's form: an object keyed by tenant id; or a list)."""
    tenants = claims.get(issuer.tenant_claim)
    if isinstance(tenants, Mapping):
        return {str(tenant) for tenant in tenants}
    return _strings(tenants)


def _tenant_grants(
    issuer: SessionIssuer, claims: Mapping[str, Any], tenant_id: str
) -> tuple[set[str], set[str]]:
    """(roles, permissions) the token gives its subject in ``tenant_id``."""
    tenants = claims.get(issuer.tenant_claim)
    if isinstance(tenants, Mapping):
        entry = tenants.get(tenant_id)
        if not isinstance(entry, Mapping):
            return set(), set()
        return _strings(entry.get("roles")), _strings(entry.get("permissions"))
    return _strings(claims.get("roles")), _strings(claims.get("permissions"))


def require_tenant_admin(
    issuer: SessionIssuer, claims: Mapping[str, Any], tenant_id: str, acting: str
) -> None:
    """403 unless the token gives its subject the configured role or permission in the tenant:
    ``acting`` says what for ("connect", "fetch the tokens of")."""
    if not issuer.tenant_role and not issuer.tenant_permission:
        raise ApiError(
            "E130403",
            f"tenant-level requests with a user's token are off for this issuer: configure the"
            f" role or permission they need (outbound projects set-session-issuer --tenant-role"
            f" or --tenant-permission) to let users {acting} a whole tenant",
        )
    roles, permissions = _tenant_grants(issuer, claims, tenant_id)
    if (issuer.tenant_role and issuer.tenant_role in roles) or (
        issuer.tenant_permission and issuer.tenant_permission in permissions
    ):
        return
    raise ApiError(
        "E130403",
        f"the token does not give its subject the role or permission needed to {acting}"
        f" tenant {tenant_id!r} as a whole",
    )


async def trusted_issuer(store: Store, project_id: str, token: str) -> SessionIssuer:
    """The project's issuer that the token's (still unverified) ``iss`` names; else 401."""
    try:
        iss = jwt.decode(token, options={"verify_signature": False}).get("iss")
    except jwt.PyJWTError:
        raise ApiError("E130401", "the token is not a well-formed JWT") from None
    issuer, any_issuer = await find_session_issuer(
        store, project_id, iss if isinstance(iss, str) else ""
    )
    if issuer is not None:
        return issuer
    if not any_issuer:
        # The same answer for an unknown project.
        raise ApiError(
            "E130401",
            "the project has no session issuer configured (outbound projects"
            " set-session-issuer), or does not exist",
        )
    raise ApiError(
        "E130401",
        "the token's issuer (iss) is not one the project trusts (outbound projects"
        " set-session-issuer)",
    )


def _scopes(issuer: SessionIssuer, claims: Mapping[str, Any]) -> set[str]:
    names = (issuer.scope_claim,) if issuer.scope_claim else ("scope", "scp")
    found: set[str] = set()
    for name in names:
        value = claims.get(name)
        if isinstance(value, str):
            found.update(value.split())
        else:
            found |= _strings(value)
    return found


@dataclass(frozen=True)
class Delegate:
    """A verified user's token on a fetch path: whose tokens it may fetch."""

    issuer: SessionIssuer
    claims: Mapping[str, Any]
    subject: str

    @property
    def actor(self) -> str:
        return f"jwt:{self.claims['sub']}@{self.issuer.issuer}"

    def authorize(self, user_id: str, tenant_id: str, *, tenant_level: bool) -> None:
        """403 unless the token may fetch this owner's token."""
        if tenant_level:
            if tenant_id not in tenant_ids(self.issuer, self.claims):
                raise _not_yours()
            require_tenant_admin(self.issuer, self.claims, tenant_id, "fetch the tokens of")
            return
        if user_id != self.subject:
            raise _not_yours()
        if tenant_id and tenant_id not in tenant_ids(self.issuer, self.claims):
            raise _not_yours()


def _not_yours() -> ApiError:
    # One answer for every owner the token does not cover: nothing about what is stored.
    return ApiError(
        "E130403",
        "a user's token fetches only that user's own tokens (userId must be its subject, a"
        " tenantId one its tenant claim names)",
    )


async def verify_delegate(store: Store, jwks: JwksCache, project_id: str, token: str) -> Delegate:
    """The verified delegate, or 401 (a token that fails verification) / 403 (a valid token
    without the fetch scope)."""
    try:
        issuer = await trusted_issuer(store, project_id, token)
        try:
            claims = await verify_session_token(token, issuer, jwks)
        except SessionTokenError as exc:
            logger.info("delegated fetch refused for project %s: %s", project_id, exc)
            raise ApiError("E130401", str(exc).replace("session token", "token")) from None
        if not issuer.fetch_scope:
            raise ApiError(
                "E130403",
                "this issuer's tokens may not fetch tokens (no --fetch-scope is configured)",
            )
        if issuer.fetch_scope not in _scopes(issuer, claims):
            raise ApiError(
                "E130403",
                f"the token does not carry the scope {issuer.fetch_scope!r} that fetching a"
                " user's tokens needs",
            )
        subject = claims.get(issuer.subject_claim)
        if not isinstance(subject, str) or not subject or not PRINTABLE_ID.match(subject):
            raise ApiError(
                "E130401",
                f"the token's subject claim {issuer.subject_claim!r} is missing or not a user id",
            )
        return Delegate(issuer, claims, subject)
    except ApiError as exc:
        metrics.delegated_fetch(exc.code)
        raise


async def fetch_credentials(
    store: Store, jwks: JwksCache | None, header: str
) -> tuple[str, str | None, Delegate | None]:
    """(project id, management key, delegate) of a fetch's Authorization header: exactly one of
    the last two is set. The key is not checked yet (the fetch checks it along with reading the
    token); a user's token is verified here."""
    project_id, credential = parse_authorization(header)
    if not looks_like_jwt(credential):
        return project_id, credential, None
    if jwks is None:
        raise ApiError("E130401", "this server does not accept users' tokens")
    return project_id, None, await verify_delegate(store, jwks, project_id, credential)
