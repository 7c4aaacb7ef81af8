"""The fetch path — the request that matters (DESIGN.md) — in one place.

- ``FETCH_PATHS``: the four fetch endpoints and what each one asks for;
- ``fetch_token``: the work and the answer of every fetch, shared by the hot path
  (``hotpath.py``, which answers POSTs to these paths before Starlette sees them) and the
  Starlette routes (``api/tokens.py``, which keep the app complete on its own);
- ``TokenService``: find the owner's token, make sure it is usable, hand it out (whether a
  token is alive, due or needs reconnecting is ``token_state.py``'s to say).

Refreshing at the provider is delegated to a :class:`Refresher` (``refresh.py``, the OAuth
engine's job): the service decides *whether* a token must be refreshed, the refresher does it
exactly once however many callers race. A token that can still be used is served when the
refresh fails transiently; one that cannot is an error — never a dead token.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from ... import metrics
from ...audit import caller, event, set_caller
from ...storage import Store, TokenRecord
from ...storage.grant_tokens import obtained_by_grant
from ..http.auth import invalid_key
from ..http.errors import ApiError, app_not_found, fetch_only_key, not_found_token
from ..http.wire import FetchToken, decode, require, token_to_wire
from .token_state import alive, expired_without_refresh_token, reconnect_required

if TYPE_CHECKING:
    from ..vault import Vault
    from .delegation import Delegate

__all__ = [
    "FETCH_MAX_BODY",
    "FETCH_PATHS",
    "Refresher",
    "TokenService",
    "fetch_token",
]

# path -> (tenant_level, by_scopes)
FETCH_PATHS = {
    "/v1/mgmt/outbound/app/user/token": (False, True),
    "/v1/mgmt/outbound/app/user/token/latest": (False, False),
    "/v1/mgmt/outbound/app/tenant/token": (True, True),
    "/v1/mgmt/outbound/app/tenant/token/latest": (True, False),
}
# A fetch names an app, an owner and at most 256 scopes: far below the API's general cap, and
# the body is read before the key is checked.
FETCH_MAX_BODY = 256 * 1024

# A fetch-only key's ``forceRefresh`` of a token refreshed less than this many seconds ago is
# answered with that token: such a key (handed to many services) cannot drive refreshes at the
# provider without limit. Judged by the row's last refresh, so it holds across servers.
FORCE_REFRESH_INTERVAL = 30


def refresh_token_refused(who: str) -> ApiError:
    """E130403 for ``withRefreshToken`` from a caller that gets access tokens only: a
    fetch-only key, or a user's token (delegated fetch). Raised before any token is read."""
    return ApiError(
        "E130403",
        f"{who} gets access tokens only: options.withRefreshToken needs a full management key",
    )


def held_short(token: TokenRecord, scopes: list[str] | None) -> bool:
    """Whether ``token`` lacks some of the ``scopes`` a by-scopes fetch asked for."""
    return bool(scopes) and not set(scopes or ()).issubset(token.scopes)


class Refresher(Protocol):
    async def due(self, token: TokenRecord, now: float, default_margin: int) -> bool:
        """Whether the token (which has an expiry or a refresh token) must be refreshed before
        it is handed out: the app's own refresh margin may differ from the default."""
        ...

    async def refresh(self, token: TokenRecord, *, force: bool) -> TokenRecord:
        """Refresh at the provider (single-flight) and return the stored result, or raise
        ``ApiError`` E131010 (reconnect required) / E131011 (provider unavailable)."""
        ...


class TokenService:
    """The owner's usable token, refreshed through the :class:`Refresher` when due."""

    def __init__(
        self,
        store: Store,
        refresher: Refresher,
        refresh_margin: int = 300,
        clock: Callable[[], float] = time.time,
        admit: Callable[[str], None] | None = None,
    ) -> None:
        # ``admit(key id)`` counts a request of a verified key (the per-key rate limit).
        self.admit = admit
        self.store = store
        self.refresher = refresher
        self.refresh_margin = refresh_margin
        self.clock = clock

    async def is_usable(self, token: TokenRecord, now: float) -> bool:
        """Usable as is: not expired and not inside the refresh margin."""
        if token.access_token is None:
            return False
        if token.access_token_type == "apikey":  # noqa: S105 - a token type, not a secret
            return True
        if not token.access_token_expiry and token.refresh_token is None:
            # Unknown expiry and nothing to refresh with: all we can do is hand it out.
            return True
        return not await self.refresher.due(token, now, self.refresh_margin)

    async def fetch(
        self,
        project_id: str,
        app_id: str,
        user_id: str,
        tenant_id: str,
        *,
        scopes: list[str] | None = None,
        external_identifier: str | None = None,
        force_refresh: bool = False,
        key: str | None = None,
        with_refresh_token: bool = False,
    ) -> TokenRecord:
        """The owner's usable token. With ``key``, the caller's management key is checked here,
        in the same read as the token (see ``Store.find_tokens_for_key``); without it the
        caller has authenticated already. A fetch-only key gets no refresh token
        (``with_refresh_token``: E130403) and a forced refresh at most once per token every
        ``FORCE_REFRESH_INTERVAL`` seconds."""
        fetch_only = False
        if key is None:
            candidates = await self.store.tokens.find(
                project_id, app_id, user_id, tenant_id, external_identifier
            )
        else:
            found = await self.store.find_tokens_for_key(
                project_id, key, app_id, user_id, tenant_id, external_identifier
            )
            if found is None:
                raise invalid_key()
            grant, candidates = found
            if self.admit is not None:
                self.admit(grant.key_id)
            if not grant.may_fetch(app_id):
                raise fetch_only_key(app_id)
            fetch_only = grant.fetch_only
            if fetch_only and with_refresh_token:
                raise refresh_token_refused("a fetch-only management key")
        held = candidates
        if scopes:
            wanted = set(scopes)
            candidates = [t for t in candidates if wanted.issubset(t.scopes)]
        if not candidates:
            # A client-credentials app's token is made by its first fetch, and asked for again
            # with more scopes when a fetch wants scopes it lacks (tokens/grants.py).
            token = await self._grant_token(
                project_id, app_id, user_id, tenant_id, external_identifier, scopes, held
            )
            if token is None:
                if await self.store.apps.app_type(project_id, app_id) is None:
                    raise app_not_found(app_id)
                raise not_found_token()
            if held:
                force_refresh = True  # the held token lacks scopes: a new one, with them
        else:
            token = candidates[0]
        if token.needs_reconnect:
            raise reconnect_required(token)
        now = self.clock()
        if force_refresh and fetch_only and now - token.last_refresh_time < FORCE_REFRESH_INTERVAL:
            force_refresh = False  # refreshed moments ago: that token is the answer
        if not force_refresh and await self.is_usable(token, now):
            return token
        if token.refresh_token is None and not obtained_by_grant(token):
            if alive(token, now):
                return token  # inside the margin but alive, and nothing to refresh with
            raise expired_without_refresh_token()
        try:
            fresh = await self.refresher.refresh(token, force=force_refresh)
        except ApiError as exc:
            # A transient failure still serves a token that is alive.
            if exc.code == "E131011" and alive(token, now) and not held_short(token, scopes):
                return token
            raise
        if held_short(fresh, scopes):
            raise not_found_token()  # the provider granted fewer scopes than asked for
        return fresh

    async def _grant_token(
        self,
        project_id: str,
        app_id: str,
        user_id: str,
        tenant_id: str,
        external_identifier: str | None,
        scopes: list[str] | None,
        held: list[TokenRecord],
    ) -> TokenRecord | None:
        if external_identifier:
            return None
        from .grants import first_grant_token, widen_grant_token  # rare: no token matched

        if held:
            return await widen_grant_token(self.store, held[0], list(scopes or []))
        return await first_grant_token(
            self.store, project_id, app_id, user_id, tenant_id, list(scopes or [])
        )

    async def refresh_now(self, token: TokenRecord) -> TokenRecord:
        """Refresh ``token`` at the provider now (the console's "Refresh now"): the stored
        result — the same row when the provider does not allow refreshing it yet (its refresh
        window) — or ``ApiError``. Unlike a fetch, a failure is never covered by handing out
        the token that is still alive: the operator asked whether the provider refreshes it."""
        if token.needs_reconnect:
            raise reconnect_required(token)
        if token.refresh_token is None and not obtained_by_grant(token):
            raise ApiError(
                "E131010",
                "this connection has no refresh token, so it cannot be refreshed; connect the"
                " user again or upload a new token",
            )
        return await self.refresher.refresh(token, force=True)


async def fetch_token(
    vault: Vault,
    project_id: str,
    raw: bytes,
    *,
    tenant_level: bool,
    by_scopes: bool,
    key: str | None = None,
    delegate: Delegate | None = None,
) -> dict[str, Any]:
    """The body of every fetch-token answer; shared by the routes and the hot path.

    With ``key`` the management key is checked along with reading the token; without it the
    caller has checked it — or the caller is a ``delegate``, a verified user's token that may
    fetch only its own subject's tokens, and whose ``withRefreshToken`` is refused (E130403)
    as a fetch-only key's is (delegation.py).
    """
    try:
        req = decode(raw, FetchToken)
        app_id = require(req.app_id, "appId")
        if tenant_level:
            user_id = ""
            tenant_id = require(req.tenant_id, "tenantId")
        else:
            user_id = require(req.user_id, "userId")
            tenant_id = req.tenant_id or ""
        scopes = require(req.scopes, "scopes") if by_scopes else None
    except ApiError as exc:
        if delegate is not None:
            metrics.delegated_fetch(exc.code)
        # Bad credentials are answered before a bad body, as on every other endpoint.
        if key is not None and await vault.store.keys.authenticate(project_id, key) is None:
            raise invalid_key() from None
        raise
    options = req.options
    force_refresh = bool(options and options.force_refresh)
    with_refresh = bool(options and options.with_refresh_token)
    if force_refresh:
        set_caller(dataclasses.replace(caller(), trigger="forceRefresh"))
    owner = (project_id, app_id, user_id, tenant_id)
    if delegate is not None:
        try:
            delegate.authorize(user_id, tenant_id, tenant_level=tenant_level)
            if with_refresh:
                # Refused like a fetch-only key's, not ignored: the caller learns at once
                # that it will never get one this way.
                raise refresh_token_refused("a user's token")
        except ApiError as exc:
            # A user's token reaching for another owner: recorded against that owner.
            await _fetched(vault, owner, error_code=exc.code, delegated=True)
            raise
    try:
        token = await vault.tokens.fetch(
            project_id,
            app_id,
            user_id,
            tenant_id,
            scopes=scopes,
            external_identifier=req.external_identifier or None,  # "" is "not set"
            force_refresh=force_refresh,
            key=key,
            with_refresh_token=with_refresh,
        )
    except ApiError as exc:
        await _fetched(vault, owner, error_code=exc.code, delegated=delegate is not None)
        raise
    await _fetched(vault, owner, token_id=token.id, delegated=delegate is not None)
    return {"token": token_to_wire(token, with_refresh)}


async def _fetched(
    vault: Vault,
    owner: tuple[str, str, str, str],
    *,
    token_id: str = "",
    error_code: str = "",
    delegated: bool = False,
) -> None:
    """Count a fetch's outcome and audit it (unless auditing fetches is off, or the caller
    never authenticated: then there is no project to record it in)."""
    metrics.fetch(error_code or None)
    if delegated:
        metrics.delegated_fetch(error_code or None)
    audit = vault.store.audit
    if audit.fetches and error_code != "E130401":
        project_id, app_id, user_id, tenant_id = owner
        await audit.fetched(
            event(
                project_id,
                "token.fetch",
                app_id=app_id,
                user_id=user_id,
                tenant_id=tenant_id,
                token_id=token_id,
                error_code=error_code,
            )
        )
