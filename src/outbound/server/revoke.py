"""Revocation at the provider when tokens are deleted (RFC 7009), best effort.

The refresh token goes first — revoking it ends the whole grant at most providers — then the
access token. A provider that is slow, down or without a revocation endpoint does not keep the
tokens alive here: the local delete has already happened, and the whole round is bounded.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from ..oauth import OAuthError, ProviderConfig
from ..storage import TokenRecord
from .errors import ApiError
from .providers import Providers, oauth_error_text

__all__ = ["REVOKE_DEADLINE", "revoke_tokens"]

logger = logging.getLogger("outbound.server.revoke")

# The longest a delete request waits for providers to confirm revocation.
REVOKE_DEADLINE = 5.0
_PARALLEL = 8


async def _revoke_one(providers: Providers, config: ProviderConfig, token: TokenRecord) -> None:
    for value, hint in (
        (token.refresh_token, "refresh_token"),
        (token.access_token, "access_token"),
    ):
        if value is None:
            continue
        try:
            # False: the provider has no revocation endpoint for this kind of token.
            await providers.client.revoke(config, value, hint=hint)
        except OAuthError as exc:
            logger.warning(
                "revoking the %s of token %s failed: %s", hint, token.id, oauth_error_text(exc)
            )


async def revoke_tokens(
    providers: Providers,
    tokens: list[TokenRecord],
    *,
    configs: Mapping[str, ProviderConfig] | None = None,
    deadline: float = REVOKE_DEADLINE,
) -> None:
    """Revoke the OAuth tokens among ``tokens`` at their providers. ``configs`` (by app id)
    serves tokens whose app is already gone."""
    gate = asyncio.Semaphore(_PARALLEL)

    async def revoke(token: TokenRecord) -> None:
        if token.access_token_type == "apikey":  # noqa: S105 - a type name, not a secret
            return
        async with gate:
            config = (configs or {}).get(token.app_id)
            if config is None:
                try:
                    config = await providers.config(token.project_id, token.app_id)
                except ApiError:
                    return
            try:
                await _revoke_one(providers, config, token)
            except Exception as exc:  # best effort: never fail the delete that already happened
                logger.warning("revoking token %s failed: %s", token.id, type(exc).__name__)

    try:
        async with asyncio.timeout(deadline):
            await asyncio.gather(*(revoke(token) for token in tokens))
    except TimeoutError:
        logger.warning(
            "revocation at the provider did not finish within %g s; deleted locally anyway",
            deadline,
        )
