"""Device-flow connect (RFC 8628): for users on a terminal, a TV or an agent's console, with
no browser redirect back to the vault.

1. ``POST /v1/mgmt/outbound/app/connect`` with ``options.flow = "device"``: the vault asks the
   provider's device authorization endpoint (the app's ``deviceAuthorizationUrl``, else the
   discovery metadata's ``device_authorization_endpoint``) for a device code, stores it sealed
   (``device_connects``) and answers what the user needs, under RFC 8628 §3.2's own names:
   ``user_code``, ``verification_uri``, ``verification_uri_complete``, ``expires_in``,
   ``interval`` — with ``id`` (to ask for the status) and ``url`` (the page to open, for
   clients that only read ``url``).
2. The user enters the code on the provider's page and consents, on any device.
3. Meanwhile every server runs a :class:`DevicePoller`: each round it takes the poll lease of
   the device codes that are due (``DeviceConnects.claim_due``: one statement, so across
   servers one poller per device code) and polls the token endpoint once for each. §3.5:
   ``authorization_pending`` → again after the interval; ``slow_down`` → the interval grows
   by 5 s, for good; ``expired_token``, ``access_denied`` (or any other refusal, or the code's
   own expiry) → ``failed`` with that reason; tokens → stored as the connection (with the
   connect's metadata), ``connected``. A transient failure (timeout, 5xx) is retried after
   the interval.
4. ``GET /v1/mgmt/outbound/connect/{id}`` answers ``{"connect": {status: pending |
   connected | failed, error, connectionId, …}}``.
"""

from __future__ import annotations

import asyncio
import logging
import math
import secrets
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ...audit import Caller, set_caller
from ...background import stop_task
from ...oauth import OAuthConfigError, OAuthError, TransientOAuthError
from ...oauth.device import SLOW_DOWN_STEP, poll_outcome
from ...storage import TokenWrite
from ...storage.device_connects import DeviceConnect, DeviceConnects
from ..http.errors import ApiError
from ..http.helpers import authed, json_response
from ..http.wire import Connect, checked_id
from ..tokens.providers import oauth_error_text
from ..vault import Vault

__all__ = ["DevicePoller", "routes", "start_device_connect"]

logger = logging.getLogger("outbound.server.connect.device")

# how long one poll may hold its lease: the provider request's deadline and then some
LEASE_SECONDS = 60
BATCH = 50


def _store(vault: Vault) -> DeviceConnects:
    return DeviceConnects(vault.store)


async def start_device_connect(
    vault: Vault,
    project_id: str,
    req: Connect,
    *,
    user_id: str,
    tenant_id: str,
    granted_by: str,
) -> dict[str, Any]:
    """Step 1: the device authorization at the provider, stored; the answer for the app."""
    app_id: str = req.app_id or ""
    options = req.options
    try:
        config = await vault.providers.resolved(project_id, app_id)
        scopes = list(dict.fromkeys((options.scopes if options else None) or []))
        scopes = scopes or list(config.default_scopes)
        started = await vault.providers.client.device_authorize(config, scopes)
    except TransientOAuthError as exc:
        raise ApiError(
            "E131011",
            f"the provider's device authorization failed for now ({oauth_error_text(exc)});"
            " try again later",
        ) from None
    except OAuthConfigError as exc:
        raise ApiError(
            "E131014",
            f"the app cannot start a device flow ({oauth_error_text(exc)}); fix the app",
        ) from None
    except OAuthError as exc:
        raise ApiError(
            "E131014",
            f"the provider refused the device authorization ({oauth_error_text(exc)})",
        ) from None
    connect = await _store(vault).create(
        project_id=project_id,
        app_id=app_id,
        user_id=user_id,
        tenant_id=tenant_id,
        external_identifier=(options.external_identifier if options else None) or "",
        scopes=scopes,
        metadata=options.metadata if options else None,
        granted_by=granted_by,
        device_code=started.device_code,
        interval=started.interval,
        expires_in=started.expires_in,
    )
    return {
        "id": connect.id,
        "url": started.verification_uri_complete or started.verification_uri,
        "user_code": started.user_code,
        "verification_uri": started.verification_uri,
        "verification_uri_complete": started.verification_uri_complete,
        "expires_in": started.expires_in,
        "interval": started.interval,
    }


async def device_status(request: Request) -> Response:
    vault, project_id = await authed(request)
    connect_id = checked_id(request.path_params["id"], "id", "path parameter") or ""
    connect = await _store(vault).get(project_id, connect_id)
    if connect is None:
        raise ApiError("E131040", f"no device connect {connect_id!r} in this project")
    return json_response({"connect": connect.to_wire()})


class DevicePoller:
    """Polls the providers' token endpoints for every pending device code that is due; one
    per server, coordinated through the database only."""

    def __init__(self, vault: Vault, *, tick: float = 1.0) -> None:
        self.vault = vault
        self.store = _store(vault)
        self.tick = tick
        self.owner = "device-" + secrets.token_hex(8)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbound-device-poller")

    async def stop(self) -> None:
        await stop_task(self._task)
        self._task = None

    async def _run(self) -> None:
        set_caller(Caller(trigger="background"))
        while True:
            try:
                await self.run_once()
            except Exception as exc:
                logger.error("device poll round failed: %s", type(exc).__name__)
            await asyncio.sleep(self.tick)

    async def run_once(self) -> int:
        """One round: poll every due device code this server could lease; how many."""
        due = await self.store.claim_due(self.owner, LEASE_SECONDS, BATCH)
        await asyncio.gather(*(self._poll(connect) for connect in due))
        return len(due)

    async def _poll(self, connect: DeviceConnect) -> None:
        now = int(time.time())
        if now >= connect.expires_at:
            await self._end(connect, "failed", "expired_token")
            return
        assert connect.device_code is not None
        try:
            config = await self.vault.providers.resolved(connect.project_id, connect.app_id)
            tokens = await self.vault.providers.client.poll_device(config, connect.device_code)
        except ApiError:  # the app is gone
            await self._end(connect, "failed", "app_deleted")
            return
        except OAuthError as exc:
            outcome = poll_outcome(exc)
            interval = connect.interval + (SLOW_DOWN_STEP if outcome == "slow_down" else 0)
            if outcome == "failed":
                error = exc.error if isinstance(exc.error, str) else "server_error"
                logger.info("device connect %s ended: %s", connect.id, error)
                await self._end(connect, "failed", error[:64])
                return
            if outcome == "retry":
                logger.warning(
                    "device connect %s: provider unavailable: %s",
                    connect.id,
                    oauth_error_text(exc),
                )
            # rounded up: the next poll is never sooner than the interval after this one
            await self.store.finish_poll(
                connect,
                self.owner,
                interval=interval,
                next_poll_at=math.ceil(time.time() + interval),
            )
            return
        if tokens.access_token is None:
            await self._end(connect, "failed", "malformed_response")
            return
        (token_id,) = await self.vault.store.tokens.put(
            [
                TokenWrite(
                    project_id=connect.project_id,
                    app_id=connect.app_id,
                    user_id=connect.user_id,
                    tenant_id=connect.tenant_id,
                    external_identifier=connect.external_identifier,
                    scopes=list(tokens.scopes) if tokens.scopes is not None else connect.scopes,
                    access_token=tokens.access_token,
                    refresh_token=tokens.refresh_token,
                    id_token=tokens.id_token,
                    access_token_type=tokens.token_type or "Bearer",
                    access_token_expiry=tokens.expires_at,
                    token_sub=tokens.subject,
                    granted_by=connect.granted_by or connect.user_id,
                    extra=dict(tokens.extra),
                    metadata=connect.metadata,
                )
            ],
            action="connect.completed",
        )
        logger.info("device connect %s succeeded", connect.id)
        await self.store.finish_poll(connect, self.owner, status="connected", token_id=token_id)

    async def _end(self, connect: DeviceConnect, status: str, error: str) -> None:
        await self.store.finish_poll(connect, self.owner, status=status, error=error)


routes = [Route("/v1/mgmt/outbound/connect/{id}", device_status, methods=["GET"])]
