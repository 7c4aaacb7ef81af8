"""What every request handler reaches through ``request.app.state.vault``."""

from __future__ import annotations

from dataclasses import dataclass

from ..storage import Store, TokenRecord, TokenWrite
from .config import Settings
from .errors import ApiError
from .tokens import TokenService

__all__ = ["Vault"]


@dataclass
class Vault:
    settings: Settings
    store: Store
    tokens: TokenService

    @property
    def callback_url(self) -> str:
        return f"{self.settings.effective_public_url}/v1/outbound/oauth/callback"

    async def revoke(self, deleted: list[TokenRecord]) -> None:
        """Revoke deleted tokens at their provider (RFC 7009), best effort.

        The OAuth engine (issue 4) plugs in here; until then deletion is local only.
        """

    async def verify_refresh(self, write: TokenWrite) -> TokenWrite:
        """Refresh an uploaded token once at the provider before storing it."""
        raise ApiError(
            "E131012",
            "verifyRefresh needs the OAuth engine, which this server does not have yet;"
            " upload without verifyRefresh",
        )
