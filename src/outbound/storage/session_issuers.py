"""Who signs a project's end-user session tokens: issuer, JWKS URL and (optional) audience.

Nothing here is secret: the JWKS holds public keys only. Read on every end-user connect
request (one primary-key lookup), so a change made with the CLI applies at once everywhere.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from .store import Store

__all__ = ["SessionIssuer", "get_session_issuer", "set_session_issuer"]


@dataclass(frozen=True)
class SessionIssuer:
    project_id: str
    issuer: str
    jwks_url: str
    audience: str  # '' = not checked


async def get_session_issuer(store: Store, project_id: str) -> SessionIssuer | None:
    row = await store.db.fetchone(
        "SELECT project_id, issuer, jwks_url, audience FROM project_session_issuers"
        " WHERE project_id = :project_id",
        {"project_id": project_id},
    )
    return SessionIssuer(**row) if row else None


async def set_session_issuer(store: Store, issuer: SessionIssuer) -> bool:
    """Store (or replace) the project's issuer; False when there is no such project."""
    params = {
        "project_id": issuer.project_id,
        "issuer": issuer.issuer,
        "jwks_url": issuer.jwks_url,
        "audience": issuer.audience,
        "now": int(time.time()),
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
            " updated_at) VALUES (:project_id, :issuer, :jwks_url, :audience, :now)",
            params,
        )
    return True
