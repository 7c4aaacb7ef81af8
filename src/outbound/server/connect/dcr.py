"""Apps that register their own OAuth client (``useDcr``): at the first connect link, once.

With ``useDcr`` an app names no client id: the vault finds the authorization server (from the
app's ``resource``, an MCP server URL, or its ``discoveryUrl``) and, when that server reads
Client ID Metadata Documents and ``--public-url`` is https, uses the URL of the app's
document (served here) as its client id; otherwise it registers a client (RFC 7591) at the
app's ``dcrUrl`` or the server's ``registration_endpoint`` and keeps the client id, the sealed
secret and the RFC 7592 management token. Exactly one server registers however many race
(``storage/registrations.py``); the others wait for its client. When the authorization server
no longer knows the client (``invalid_client``), the next use registers a new one, once.
"""

from __future__ import annotations

import asyncio
import logging
import math
import secrets
import time
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ...oauth import OAuthError, ProviderConfig, TransientOAuthError
from ...oauth.registration import (
    RegisteredClient,
    best_auth_method,
    client_metadata,
    supports_metadata_document,
)
from ...storage import AppRecord
from ...storage.registrations import Registration, Registrations
from ..http.errors import ApiError, app_not_found
from ..tokens.providers import config_error, oauth_error_text, provider_config
from ..vault import Vault

__all__ = [
    "CLIENT_DOCUMENT_PATH",
    "client_document_url",
    "ensure_client",
    "forget_client",
    "forget_moved_client",
    "replace_client",
    "require_own_client_document",
]

logger = logging.getLogger("outbound.server.connect.dcr")

CLIENT_DOCUMENT_PATH = "/v1/outbound/oauth/client"
# Process-unique claim owner (as the refresh lease has).
_OWNER = secrets.token_hex(8)
_POLL = 0.05


def client_document_url(vault: Vault, project_id: str, app_id: str) -> str:
    """The stable URL of an app's Client ID Metadata Document: its client id where used."""
    return f"{vault.settings.effective_public_url}{CLIENT_DOCUMENT_PATH}/{project_id}/{app_id}"


def require_own_client_document(
    vault: Vault, project_id: str, app_id: str, client_id: str, *, field: str = "clientId"
) -> None:
    """E011004 for a client id that is the URL of a Client ID Metadata Document this server
    serves for another app: that document names the other app's callback, and borrowing its
    client would let this app's connects pass as the other's."""
    if not client_id:
        return
    parts, public = urlsplit(client_id), urlsplit(vault.settings.effective_public_url)
    ours = (parts.hostname or "").lower() == (public.hostname or "").lower()
    document = ours and CLIENT_DOCUMENT_PATH + "/" in parts.path
    if document and client_id != client_document_url(vault, project_id, app_id):
        raise ApiError(
            "E011004",
            f"{field} is the client metadata document of another outbound app on this"
            " server; an app may only use its own (set useDcr to have one)",
        )


def _document(vault: Vault, app: AppRecord, client_id: str) -> dict[str, object]:
    document = client_metadata(
        name=app.name,
        redirect_uri=vault.app_callback_url(app),
        auth_method="none",
        logo_uri=app.config.get("logo") or "",
    )
    return {"client_id": client_id, **document}


async def ensure_client(
    vault: Vault, app: AppRecord, *, stale_client_id: str | None = None
) -> Registration:
    """The app's registered client, registering it first when it has none (or only
    ``stale_client_id``, which the authorization server forgot). ``ApiError`` when the
    authorization server cannot be found or refuses."""
    providers = vault.providers
    registrations = Registrations(vault.store)
    base = provider_config(app)
    try:
        resolved = await providers.client.resolve(base)
        metadata = (
            await providers.client.metadata(resolved.discovery_url, issuer=resolved.issuer)
            if resolved.discovery_url
            else {}
        )
    except TransientOAuthError as exc:
        raise _unavailable(exc) from None
    except OAuthError as exc:
        raise config_error(exc) from None
    issuer = resolved.issuer or resolved.authorization_url
    redirect_uri = vault.app_callback_url(app)
    lease = math.ceil(3 * vault.settings.provider_timeout) + 5
    deadline = time.monotonic() + lease + 2
    while True:
        current = await registrations.get(app.project_id, app.id)
        if (
            current is not None
            and current.usable_for(issuer, redirect_uri)
            and current.client_id != stale_client_id
        ):
            return current
        now = int(time.time())
        if await registrations.claim(
            app.project_id,
            app.id,
            owner=_OWNER,
            until=now + lease,
            issuer=issuer,
            redirect_uri=redirect_uri,
            stale_client_id=stale_client_id,
        ):
            return await _register_as_owner(vault, app, registrations, resolved, metadata, issuer)
        if time.monotonic() > deadline:
            raise ApiError(
                "E131011",
                "another server is still registering this app's client; retry shortly",
                retry_after=1,
            )
        await asyncio.sleep(_POLL)


async def _register_as_owner(
    vault: Vault,
    app: AppRecord,
    registrations: Registrations,
    resolved: ProviderConfig,
    metadata: dict[str, Any],
    issuer: str,
) -> Registration:
    providers = vault.providers
    try:
        document_url = client_document_url(vault, app.project_id, app.id)
        if supports_metadata_document(metadata, document_url):
            client = RegisteredClient(document_url, None, "none")
        else:
            method = best_auth_method(metadata)
            client = await providers.client.register(
                resolved.registration_url,
                client_metadata(
                    name=app.name,
                    redirect_uri=vault.app_callback_url(app),
                    auth_method=method,
                    scopes=resolved.default_scopes,
                    logo_uri=app.config.get("logo") or "",
                ),
                requested=method,
            )
    except BaseException as exc:
        await asyncio.shield(registrations.release(app.project_id, app.id, _OWNER))
        if isinstance(exc, TransientOAuthError):
            raise _unavailable(exc) from None
        if isinstance(exc, OAuthError):
            raise config_error(exc) from None
        raise
    stored = await asyncio.shield(
        registrations.store_client(
            app.project_id,
            app.id,
            owner=_OWNER,
            issuer=issuer,
            redirect_uri=vault.app_callback_url(app),
            client_id=client.client_id,
            client_secret=client.client_secret,
            token_endpoint_auth_method=client.token_endpoint_auth_method,
            registration_access_token=client.registration_access_token,
            registration_client_uri=client.registration_client_uri,
        )
    )
    if stored is None:
        raise ApiError(
            "E131011", "the app's client registration took too long; retry", retry_after=1
        )
    logger.info("app %s registered OAuth client %s at %s", app.id, client.client_id, issuer)
    vault.app_changed(app.project_id, app.id)
    return stored


async def replace_client(vault: Vault, project_id: str, app_id: str, client_id: str) -> None:
    """The authorization server answered ``invalid_client`` for ``client_id``: when that is
    the client the app registered, register a new one, once (a client already replaced by
    another server is left alone). Best effort: the next connect link retries."""
    app = await vault.store.apps.get(project_id, app_id)
    if app is None or not app.config.get("useDcr") or not client_id:
        return
    current = await Registrations(vault.store).get(project_id, app_id)
    if current is None or current.client_id != client_id:
        return
    try:
        await ensure_client(vault, app, stale_client_id=client_id)
    except ApiError as exc:
        logger.warning("registering a new client for app %s failed: %s", app_id, exc.message)


async def forget_moved_client(vault: Vault, old: AppRecord, new: AppRecord) -> None:
    """After an update of a ``useDcr`` app that changed where its endpoints are: forget the
    client it registered, unless its endpoints resolve to the same origins as before. That
    client's secret was issued by the old authorization server and must not follow the app
    to a new one (the next connect link registers a client there)."""
    from ..tokens.secret_origins import endpoint_origins, steering_changed

    if not old.config.get("useDcr") or not steering_changed(old, new):
        return
    registrations = Registrations(vault.store)
    if await registrations.get(old.project_id, old.id) is None:
        return
    timeout = vault.settings.provider_timeout
    try:
        same = bool(new.config.get("useDcr")) and await endpoint_origins(
            vault.providers.client, old, timeout
        ) == await endpoint_origins(vault.providers.client, new, timeout)
    except (OAuthError, TimeoutError):
        same = False
    if same:
        return
    forgotten = await registrations.delete(old.project_id, old.id)
    vault.app_changed(old.project_id, old.id)
    if forgotten is not None:
        logger.info("app %s moved: its registered client is forgotten", old.id)
        await forget_client(vault, forgotten)


async def forget_client(vault: Vault, registration: Registration) -> None:
    """Delete a deleted app's client at the authorization server (RFC 7592), best effort."""
    if not registration.client_id or registration.registration_access_token is None:
        return
    client = RegisteredClient(
        registration.client_id,
        None,
        "none",
        registration_access_token=registration.registration_access_token,
        registration_client_uri=registration.registration_client_uri,
    )
    try:
        async with asyncio.timeout(5):
            await vault.providers.client.delete_registration(client)
    except (OAuthError, TimeoutError) as exc:
        logger.warning(
            "deleting the client of app %s at its authorization server failed: %s",
            registration.app_id,
            oauth_error_text(exc),
        )


def _unavailable(exc: TransientOAuthError) -> ApiError:
    return ApiError(
        "E131011",
        f"the app's authorization server is unavailable ({oauth_error_text(exc)}); retry later",
        retry_after=int(exc.retry_after) if exc.retry_after else 5,
    )


async def client_document(request: Request) -> Response:
    """An app's Client ID Metadata Document: public, as authorization servers fetch it."""
    vault: Vault = request.app.state.vault
    project_id = request.path_params["project"]
    app_id = request.path_params["app"]
    app = await vault.store.apps.get(project_id, app_id)
    if app is None or not app.config.get("useDcr"):
        raise app_not_found(app_id)
    url = client_document_url(vault, project_id, app_id)
    return JSONResponse(
        _document(vault, app, url), headers={"Cache-Control": "public, max-age=300"}
    )


routes = [Route(CLIENT_DOCUMENT_PATH + "/{project}/{app:path}", client_document, methods=["GET"])]
