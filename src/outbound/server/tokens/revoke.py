"""Revocation at the provider when tokens are deleted (RFC 7009), best effort.

The refresh token goes first — revoking it ends the whole grant at most providers — then the
access token. A provider that is slow, down or without a revocation endpoint does not keep the
tokens alive here: the local delete has already happened, and the whole round is bounded.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Mapping, Sequence

from ...oauth import OAuthError, ProviderConfig
from ...storage import AppRecord, TokenRecord
from ..http.errors import ApiError
from .providers import Providers, oauth_error_text, provider_config

__all__ = ["REVOKE_DEADLINE", "Revocation", "revoke_deleted", "revoke_tokens"]

logger = logging.getLogger("outbound.server.tokens.revoke")

# The longest a delete request waits for providers to confirm revocation.
REVOKE_DEADLINE = 5.0
_PARALLEL = 8


@dataclasses.dataclass
class Revocation:
    """What revoking deleted tokens at their providers came to, for whoever must tell the
    operator the truth about it (the console): how many tokens the provider confirmed
    revoking, how many it has no revocation endpoint for, why the others failed."""

    revoked: int = 0
    unsupported: int = 0
    # API-key tokens: nothing at any provider to revoke.
    not_oauth: int = 0
    failures: list[str] = dataclasses.field(default_factory=list)
    timed_out: bool = False

    @property
    def failed(self) -> bool:
        return bool(self.failures) or self.timed_out

    def failure(self) -> str:
        """Why revocation failed, one line ("" when it did not)."""
        reasons = list(dict.fromkeys(self.failures))
        if self.timed_out:
            reasons.append(f"the provider did not answer within {REVOKE_DEADLINE:g} s")
        return "; ".join(reasons)


async def _revoke_one(providers: Providers, config: ProviderConfig, token: TokenRecord) -> bool:
    """True once the provider confirmed revoking one of the token's values; False when it
    has no revocation endpoint for them. Raises ``OAuthError`` for a provider's refusal."""
    sent = False
    failure: OAuthError | None = None
    for value, hint in (
        (token.refresh_token, "refresh_token"),
        (token.access_token, "access_token"),
    ):
        if value is None:
            continue
        try:
            # False: the provider has no revocation endpoint for this kind of token.
            sent = await providers.client.revoke(config, value, hint=hint) or sent
        except OAuthError as exc:
            logger.warning(
                "revoking the %s of token %s failed: %s", hint, token.id, oauth_error_text(exc)
            )
            failure = failure or exc
    if failure is not None:
        raise failure
    return sent


async def revoke_deleted(
    providers: Providers,
    deleted: list[TokenRecord],
    apps: Sequence[AppRecord] = (),
    *,
    configs: Mapping[str, ProviderConfig] | None = None,
) -> Revocation:
    """Revoke deleted tokens at their provider (RFC 7009), best effort and bounded;
    ``apps`` describes apps deleted along with their tokens (``configs``, by app id, when
    their configuration is more than the stored app: a registered client). What came of
    it, for the console to report."""
    if not deleted:
        return Revocation()
    configs = {**{app.id: provider_config(app) for app in apps}, **(configs or {})}
    return await revoke_tokens(providers, deleted, configs=configs)


async def revoke_tokens(
    providers: Providers,
    tokens: list[TokenRecord],
    *,
    configs: Mapping[str, ProviderConfig] | None = None,
    deadline: float = REVOKE_DEADLINE,
) -> Revocation:
    """Revoke the OAuth tokens among ``tokens`` at their providers. ``configs`` (by app id)
    serves tokens whose app is already gone. Never raises: the delete has happened."""
    gate = asyncio.Semaphore(_PARALLEL)
    outcome = Revocation()

    async def revoke(token: TokenRecord) -> None:
        if token.access_token_type == "apikey":  # noqa: S105 - a type name, not a secret
            outcome.not_oauth += 1
            return
        async with gate:
            config = (configs or {}).get(token.app_id)
            if config is None:
                try:
                    config = await providers.config(token.project_id, token.app_id)
                except ApiError as exc:
                    outcome.failures.append(f"{exc.code} {exc.message}")
                    return
            try:
                sent = await _revoke_one(providers, config, token)
            except OAuthError as exc:
                outcome.failures.append(oauth_error_text(exc))
                return
            except Exception as exc:  # best effort: never fail the delete that already happened
                logger.warning("revoking token %s failed: %s", token.id, type(exc).__name__)
                outcome.failures.append(type(exc).__name__)
                return
            if sent:
                outcome.revoked += 1
            else:
                outcome.unsupported += 1

    try:
        async with asyncio.timeout(deadline):
            await asyncio.gather(*(revoke(token) for token in tokens))
    except TimeoutError:
        outcome.timed_out = True
        logger.warning(
            "revocation at the provider did not finish within %g s; deleted locally anyway",
            deadline,
        )
    return outcome
