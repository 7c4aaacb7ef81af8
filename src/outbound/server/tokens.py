"""The token service: find the owner's token, make sure it is usable, hand it out.

Refreshing at the provider is delegated to a :class:`Refresher` (the OAuth engine's job): the
service decides *whether* a token must be refreshed, the refresher does it exactly once however
many callers race. Without a refresher, a token that can still be used is served and one that
cannot is an error — never a dead token.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from ..storage import Store, TokenRecord
from .auth import invalid_key
from .errors import ApiError, app_not_found, fetch_only_key, not_found_token

__all__ = ["Refresher", "TokenService"]

# A token whose lifetime the provider never told us is assumed to live this long after it was
# obtained: an unknown expiry is never read as "never expires".
ASSUMED_LIFETIME = 3600


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

    def effective_expiry(self, token: TokenRecord) -> int:
        if token.access_token_expiry:
            return token.access_token_expiry
        return token.last_refresh_time + ASSUMED_LIFETIME

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
    ) -> TokenRecord:
        """The owner's usable token. With ``key``, the caller's management key is checked here,
        in the same read as the token (see ``Store.find_tokens_for_key``); without it the
        caller has authenticated already."""
        if key is None:
            candidates = await self.store.find_tokens(
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
        if scopes:
            wanted = set(scopes)
            candidates = [t for t in candidates if wanted.issubset(t.scopes)]
        if not candidates:
            if await self.store.get_app_type(project_id, app_id) is None:
                raise app_not_found(app_id)
            raise not_found_token()
        token = candidates[0]
        if token.needs_reconnect:
            raise ApiError(
                "E131010",
                "the provider rejected this connection's refresh token"
                f" ({token.last_refresh_error or 'no reason given'}); connect the user again",
            )
        now = self.clock()
        if not force_refresh and await self.is_usable(token, now):
            return token
        if token.refresh_token is None:
            if token.access_token is not None and self.effective_expiry(token) > now:
                return token  # inside the margin but alive, and nothing to refresh with
            raise ApiError(
                "E131010",
                "the access token has expired and there is no refresh token; connect the user"
                " again or upload a new token",
            )
        try:
            return await self.refresher.refresh(token, force=force_refresh)
        except ApiError as exc:
            # A transient failure still serves a token that is alive.
            if (
                exc.code == "E131011"
                and token.access_token is not None
                and self.effective_expiry(token) > now
            ):
                return token
            raise
