"""The rows of tokens obtained without a user (client credentials, GitHub App installations).

Such a token has no refresh token: it is obtained again when due, under the same refresh lease
as a refresh (``leases.py``), so that servers racing on it make one request to the provider.
The lease needs a row to claim, so the first fetch of a client-credentials token makes an empty
one first (no access token yet) — concurrent first fetches on several servers make one row
between them (``INSERT … ON CONFLICT DO NOTHING`` on the owner's unique key) and one of them
wins its lease. A GitHub App installation's row is made when its installation id is uploaded
(or comes back from GitHub's install page).

The row says how it is obtained in ``extra["grantType"]`` (and ``extra["installationId"]``):
what the fetch path reads to obtain instead of failing for want of a refresh token.
"""

from __future__ import annotations

import json
from typing import Any

from ..audit import event
from . import connection_events
from .codec import new_id, now
from .connection_events import stored_connection
from .records import TokenRecord
from .store import Store

__all__ = [
    "GRANT_TYPE_KEY",
    "INSTALLATION_KEY",
    "ensure_grant_token",
    "obtained_by_grant",
    "widen_scopes",
]

GRANT_TYPE_KEY = "grantType"
INSTALLATION_KEY = "installationId"


def obtained_by_grant(token: TokenRecord) -> bool:
    """Whether ``token`` is obtained again (not refreshed) when due."""
    return bool(token.extra.get(GRANT_TYPE_KEY))


async def ensure_grant_token(
    store: Store,
    project_id: str,
    app_id: str,
    tenant_id: str,
    *,
    grant_type: str,
    scopes: list[str],
    extra: dict[str, Any] | None = None,
    replace: bool = False,
    user_id: str = "",
) -> TokenRecord:
    """The owner's row, made empty (no access token: due at once) when there is none.
    ``replace``: an existing row is emptied and takes ``extra`` (an installation uploaded
    again, perhaps another one); otherwise an existing row is left as it is."""
    at = now()
    values = {
        "id": new_id("tok_"),
        "project_id": project_id,
        "app_id": app_id,
        "user_id": user_id,
        "tenant_id": tenant_id,
        "external_identifier": "",
        "scopes": json.dumps(scopes),
        "extra": json.dumps({**(extra or {}), GRANT_TYPE_KEY: grant_type}),
        "access_token_expiry": 0,
        "now": at,
    }
    key = (
        " WHERE project_id = :project_id AND app_id = :app_id AND user_id = :user_id"
        " AND tenant_id = :tenant_id AND external_identifier = :external_identifier"
    )
    async with store.db.transaction() as tx:
        row = await tx.fetchone(
            "INSERT INTO tokens (id, project_id, app_id, user_id, tenant_id, external_identifier,"
            " scopes, access_token, refresh_token, id_token, access_token_type,"
            " access_token_expiry, last_refresh_time, extra, created_at, updated_at) VALUES"
            " (:id, :project_id, :app_id, :user_id, :tenant_id, :external_identifier, :scopes,"
            " NULL, NULL, NULL, 'Bearer', 0, 0, :extra, :now, :now)"
            " ON CONFLICT (project_id, app_id, user_id, tenant_id, external_identifier)"
            " DO NOTHING RETURNING *",
            values,
        )
        if row is not None:
            await connection_events.connections_stored(
                tx, [stored_connection(values, row["id"], at)], []
            )
        elif replace:
            row = await tx.fetchone(
                "UPDATE tokens SET scopes = :scopes, extra = :extra, access_token = NULL,"  # noqa: S608 - constant SQL
                " refresh_token = NULL, id_token = NULL, access_token_expiry = 0,"
                " last_refresh_time = 0, last_refresh_error = '', needs_reconnect = 0,"
                " refresh_claim_owner = NULL, refresh_claim_until = 0, failing_since = 0,"
                " failure_count = 0, failing_notified = 0, next_refresh_at = 0,"
                " updated_at = :now, version = version + 1" + key + " RETURNING *",
                values,
            )
            assert row is not None
            await connection_events.connections_stored(
                tx, [], [stored_connection(values, row["id"], at)]
            )
        else:
            row = await tx.fetchone("SELECT * FROM tokens" + key, values)  # noqa: S608
            assert row is not None
        if replace:
            await store.audit.record_in(
                tx,
                event(
                    project_id,
                    "token.upload",
                    app_id=app_id,
                    user_id=user_id,
                    tenant_id=tenant_id,
                    token_id=row["id"],
                ),
            )
    return store.codec.token(row)


async def widen_scopes(store: Store, token: TokenRecord, scopes: list[str]) -> TokenRecord | None:
    """Make the row ask for ``scopes`` from its next request on (its token is still served
    meanwhile). The version is left alone: it is bound into the sealed token's associated data,
    and the access token is not rewritten here. The row as it is now, or None when it was
    deleted."""
    async with store.db.transaction() as tx:
        row = await tx.fetchone(
            "UPDATE tokens SET scopes = :scopes, updated_at = :now WHERE id = :id RETURNING *",
            {"scopes": json.dumps(scopes), "now": now(), "id": token.id},
        )
    return store.codec.token(row) if row is not None else None
