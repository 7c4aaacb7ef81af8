"""The OAuth client a ``useDcr`` app registered for itself, and the claim that lets exactly one
server register it.

Registration is a call to the authorization server that must happen once per app however many
servers race on its first connect link: a server first *claims* the app's row with one
conditional write (an ``INSERT`` that only the first succeeds at, or an ``UPDATE`` of a row
with no live claim), registers, and stores the result while clearing the claim. The others
wait and read the winner's client. A claim outliving its deadline (a crashed server) is free
for the taking, as with the refresh lease (``leases.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..secret import Secret
from .codec import now as _now
from .database import Row
from .records import from_row
from .sealed import sealed_column
from .store import Store

__all__ = ["Registration", "Registrations"]


@dataclass(frozen=True)
class Registration:
    project_id: str
    app_id: str
    issuer: str
    redirect_uri: str
    client_id: str | None
    client_secret: Secret | None
    token_endpoint_auth_method: str
    registration_access_token: Secret | None
    registration_client_uri: str
    claim_owner: str | None
    claim_until: int

    def usable_for(self, issuer: str, redirect_uri: str) -> bool:
        """Registered, at this authorization server, for this callback."""
        return bool(self.client_id) and (self.issuer, self.redirect_uri) == (issuer, redirect_uri)

    def __repr__(self) -> str:
        return f"Registration(app_id={self.app_id!r}, client_id={self.client_id!r})"


class Registrations:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.db = store.db
        self.codec = store.codec

    def _aad(self, project_id: str, app_id: str, column: str) -> bytes:
        return sealed_column("client_registrations", column).aad(project_id, app_id)

    def _open(self, row: Row, column: str) -> Secret | None:
        sealed = row[column]
        if sealed is None:
            return None
        context = self._aad(row["project_id"], row["app_id"], column).decode()
        return self.codec.open_lazily(bytes(sealed), context)

    def _seal(
        self, project_id: str, app_id: str, column: str, value: Secret | None
    ) -> bytes | None:
        return self.codec.seal(value, self._aad(project_id, app_id, column))

    def _record(self, row: Row) -> Registration:
        return from_row(
            Registration,
            row,
            client_secret=self._open(row, "client_secret"),
            registration_access_token=self._open(row, "registration_access_token"),
            claim_until=int(row["claim_until"]),
        )

    async def get(self, project_id: str, app_id: str) -> Registration | None:
        row = await self.db.fetchone(
            "SELECT * FROM client_registrations"
            " WHERE project_id = :project_id AND app_id = :app_id",
            {"project_id": project_id, "app_id": app_id},
        )
        return self._record(row) if row is not None else None

    async def claim(
        self,
        project_id: str,
        app_id: str,
        *,
        owner: str,
        until: int,
        issuer: str,
        redirect_uri: str,
        stale_client_id: str | None = None,
    ) -> bool:
        """Claim the right to register the app's client. True for exactly one of any number
        of concurrent claimers, and only while the app needs a client: none yet, one for
        another server or callback, or ``stale_client_id`` (the server forgot it)."""
        now = _now()
        params = {
            "project_id": project_id,
            "app_id": app_id,
            "owner": owner,
            "until": until,
            "now": now,
            "issuer": issuer,
            "redirect_uri": redirect_uri,
            "stale": stale_client_id or "",
        }
        async with self.db.transaction() as tx:
            inserted: int = await tx.execute(
                "INSERT INTO client_registrations (project_id, app_id, issuer, redirect_uri,"
                " claim_owner, claim_until, created_at, updated_at) VALUES (:project_id,"
                " :app_id, :issuer, :redirect_uri, :owner, :until, :now, :now)"
                " ON CONFLICT DO NOTHING",
                params,
            )
            if inserted == 1:
                return True
            updated: int = await tx.execute(
                "UPDATE client_registrations SET claim_owner = :owner, claim_until = :until"
                " WHERE project_id = :project_id AND app_id = :app_id"
                " AND (claim_owner IS NULL OR claim_until < :now)"
                " AND (client_id IS NULL OR client_id = :stale OR issuer <> :issuer"
                " OR redirect_uri <> :redirect_uri)",
                params,
            )
        return updated == 1

    async def store_client(
        self,
        project_id: str,
        app_id: str,
        *,
        owner: str,
        issuer: str,
        redirect_uri: str,
        client_id: str,
        client_secret: Secret | None,
        token_endpoint_auth_method: str,
        registration_access_token: Secret | None,
        registration_client_uri: str,
    ) -> Registration | None:
        """Store what the server registered and clear the claim; None when the claim was lost
        meanwhile (it expired and another server took it)."""
        async with self.db.transaction() as tx:
            row = await tx.fetchone(
                "UPDATE client_registrations SET issuer = :issuer, redirect_uri = :redirect_uri,"
                " client_id = :client_id, client_secret = :client_secret,"
                " token_endpoint_auth_method = :method,"
                " registration_access_token = :rat, registration_client_uri = :uri,"
                " claim_owner = NULL, claim_until = 0, updated_at = :now"
                " WHERE project_id = :project_id AND app_id = :app_id AND claim_owner = :owner"
                " RETURNING *",
                {
                    "project_id": project_id,
                    "app_id": app_id,
                    "owner": owner,
                    "issuer": issuer,
                    "redirect_uri": redirect_uri,
                    "client_id": client_id,
                    "client_secret": self._seal(project_id, app_id, "client_secret", client_secret),
                    "method": token_endpoint_auth_method,
                    "rat": self._seal(
                        project_id, app_id, "registration_access_token", registration_access_token
                    ),
                    "uri": registration_client_uri,
                    "now": _now(),
                },
            )
        return self._record(row) if row is not None else None

    async def release(self, project_id: str, app_id: str, owner: str) -> None:
        """Give a claim back (the registration failed); the next connect tries again."""
        async with self.db.transaction() as tx:
            await tx.execute(
                "UPDATE client_registrations SET claim_owner = NULL, claim_until = 0"
                " WHERE project_id = :project_id AND app_id = :app_id AND claim_owner = :owner",
                {"project_id": project_id, "app_id": app_id, "owner": owner},
            )

    async def delete(self, project_id: str, app_id: str) -> Registration | None:
        """Forget the app's client (the app is being deleted); what was stored, if anything."""
        async with self.db.transaction() as tx:
            row = await tx.fetchone(
                "DELETE FROM client_registrations"
                " WHERE project_id = :project_id AND app_id = :app_id RETURNING *",
                {"project_id": project_id, "app_id": app_id},
            )
        return self._record(row) if row is not None else None
