"""Who signs a project's end-user session tokens: issuer, JWKS URL and audience (required
unless the operator said the issuer cannot set one); and what a token must carry to connect a
whole tenant.

Nothing here is secret: the JWKS holds public keys only. Read on every end-user connect
request (one primary-key lookup), so a change made with the CLI applies at once everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

from .codec import now
from .store import Store

__all__ = ["SessionIssuer", "get_session_issuer", "set_session_issuer"]


@dataclass(frozen=True)
class SessionIssuer:
    project_id: str
    issuer: str
    jwks_url: str
    audience: str  # '' = none configured: refused unless ``audience_optional``
    audience_optional: bool = False
    # a tenant-level connection from the browser needs one of these for that tenant
    tenant_role: str = ""
    tenant_permission: str = ""


async def get_session_issuer(store: Store, project_id: str) -> SessionIssuer | None:
    row = await store.db.fetchone(
        "SELECT project_id, issuer, jwks_url, audience, audience_optional, tenant_role,"
        " tenant_permission FROM project_session_issuers WHERE project_id = :project_id",
        {"project_id": project_id},
    )
    if row is None:
        return None
    return SessionIssuer(**{**row, "audience_optional": bool(row["audience_optional"])})


async def set_session_issuer(store: Store, issuer: SessionIssuer) -> bool:
    """Store (or replace) the project's issuer; False when there is no such project."""
    params = {
        "project_id": issuer.project_id,
        "issuer": issuer.issuer,
        "jwks_url": issuer.jwks_url,
        "audience": issuer.audience,
        "audience_optional": int(issuer.audience_optional),
        "tenant_role": issuer.tenant_role,
        "tenant_permission": issuer.tenant_permission,
        "now": now(),
    }
    async with store.db.transaction() as tx:
        exists = await tx.fetchone("SELECT 1 AS one FROM projects WHERE id = :project_id", params)
        if exists is None:
            return False
        await tx.execute(
            "DELETE FROM project_session_issuers WHERE project_id = :project_id", params
        )
        await tx.execute(
            "INSERT INTO project_session_issuers (project_id, issuer, jwks_url, audience,"
            " updated_at, audience_optional, tenant_role, tenant_permission) VALUES (:project_id,"
            " :issuer, :jwks_url, :audience, :now, :audience_optional, :tenant_role,"
            " :tenant_permission)",
            params,
        )
    return True
