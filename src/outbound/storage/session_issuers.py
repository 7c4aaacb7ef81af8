"""Who signs a project's end users' tokens — issuer, JWKS URL, audience (required unless the
operator said the issuer cannot set one) — and what a token must carry to connect a whole
tenant, or to fetch a token on its subject's behalf (delegated fetch).

A project may trust several issuers (a sign-in service for browsers, an authorization server
for agents); a token is matched to one by its ``iss``. Nothing here is secret: the JWKS holds
public keys only. Read on every request that carries a user's token (one indexed lookup), so a
change made with the CLI applies at once everywhere.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from .codec import now
from .store import Store

__all__ = [
    "FETCH_SCOPE",
    "SessionIssuer",
    "find_session_issuer",
    "list_session_issuers",
    "projects_trusting",
    "remove_session_issuer",
    "set_session_issuer",
]

# What an access token must carry to fetch its subject's tokens, unless configured otherwise
# (the scope the official SDK's outbound_application_by_token documents).
FETCH_SCOPE = "outbound.token.fetch"

_COLUMNS = (
    "project_id, issuer, jwks_url, audience, audience_optional, tenant_role, tenant_permission,"
    " fetch_scope, scope_claim, subject_claim, tenant_claim"
)


@dataclass(frozen=True)
class SessionIssuer:
    project_id: str
    issuer: str
    jwks_url: str
    # values the token's aud must contain one of, space-separated; '' = none configured,
    # refused unless ``audience_optional``
    audience: str
    audience_optional: bool = False
    # a tenant-level connection (or fetch) needs one of these for that tenant
    tenant_role: str = ""
    tenant_permission: str = ""
    # delegated fetch: the scope a token needs ('' = this issuer's tokens may not fetch), the
    # claim that holds it ('' = ``scope``, space-separated, or ``scp``, a list), the claim
    # userId must equal, the claim that names the subject's tenants
    fetch_scope: str = FETCH_SCOPE
    scope_claim: str = ""
    subject_claim: str = "sub"
    tenant_claim: str = "tenants"

    @property
    def audiences(self) -> list[str]:
        return self.audience.split()


def _issuer(row: dict[str, object]) -> SessionIssuer:
    return SessionIssuer(**{**row, "audience_optional": bool(row["audience_optional"])})  # type: ignore[arg-type]


async def list_session_issuers(store: Store, project_id: str) -> list[SessionIssuer]:
    rows = await store.db.fetchall(
        f"SELECT {_COLUMNS} FROM session_issuers WHERE project_id = :project_id"  # noqa: S608 - constant SQL
        " ORDER BY issuer",
        {"project_id": project_id},
    )
    return [_issuer(dict(row)) for row in rows]


async def find_session_issuer(
    store: Store, project_id: str, issuer: str
) -> tuple[SessionIssuer | None, bool]:
    """(the project's issuer whose ``iss`` is ``issuer`` or None, whether the project trusts
    any issuer at all)."""
    rows = await store.db.fetchall(
        f"SELECT {_COLUMNS} FROM session_issuers WHERE project_id = :project_id"  # noqa: S608 - constant SQL
        " AND (issuer = :issuer OR issuer = (SELECT MIN(issuer) FROM session_issuers"
        " WHERE project_id = :project_id))",
        {"project_id": project_id, "issuer": issuer},
    )
    found = [_issuer(dict(row)) for row in rows]
    return next((i for i in found if i.issuer == issuer), None), bool(found)


async def set_session_issuer(store: Store, issuer: SessionIssuer, *, keep_others: bool) -> bool:
    """Store (or replace) this issuer of the project; without ``keep_others`` it becomes the
    project's only one. False when there is no such project."""
    params = {**asdict(issuer), "audience_optional": int(issuer.audience_optional), "now": now()}
    async with store.db.transaction() as tx:
        exists = await tx.fetchone("SELECT 1 AS one FROM projects WHERE id = :project_id", params)
        if exists is None:
            return False
        await tx.execute(
            "DELETE FROM session_issuers WHERE project_id = :project_id"  # noqa: S608 - constant SQL
            + (" AND issuer = :issuer" if keep_others else ""),
            params,
        )
        await tx.execute(
            f"INSERT INTO session_issuers ({_COLUMNS}, updated_at) VALUES (:project_id, :issuer,"  # noqa: S608 - constant SQL
            " :jwks_url, :audience, :audience_optional, :tenant_role, :tenant_permission,"
            " :fetch_scope, :scope_claim, :subject_claim, :tenant_claim, :now)",
            params,
        )
    return True


async def remove_session_issuer(store: Store, project_id: str, issuer: str) -> bool:
    """Stop trusting one issuer; False when the project had no such issuer."""
    async with store.db.transaction() as tx:
        found = await tx.fetchone(
            "SELECT 1 AS one FROM session_issuers WHERE project_id = :project_id"
            " AND issuer = :issuer",
            {"project_id": project_id, "issuer": issuer},
        )
        if found is None:
            return False
        await tx.execute(
            "DELETE FROM session_issuers WHERE project_id = :project_id AND issuer = :issuer",
            {"project_id": project_id, "issuer": issuer},
        )
    return True


async def projects_trusting(store: Store, issuer: str) -> list[str]:
    """The projects (at most two: enough to tell one from several) that trust ``issuer``."""
    rows = await store.db.fetchall(
        "SELECT project_id FROM session_issuers WHERE issuer = :issuer ORDER BY project_id LIMIT 2",
        {"issuer": issuer},
    )
    return [str(row["project_id"]) for row in rows]
