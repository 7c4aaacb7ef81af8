"""Fetching and deleting tokens — fetch is the request that matters, so it stays lean."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ... import metrics
from ...audit import caller, event, set_caller
from ..auth import invalid_key, parse_authorization
from ..errors import ApiError, not_found_token
from ..http import authed, json_response, read_body
from ..vault import Vault
from ..wire import FetchToken, Id, decode, require, token_to_wire


async def fetch_token(
    vault: Vault,
    project_id: str,
    raw: bytes,
    *,
    tenant_level: bool,
    by_scopes: bool,
    key: str | None = None,
) -> dict[str, Any]:
    """The body of every fetch-token answer; shared by the routes and the hot path.

    With ``key`` the management key is checked along with reading the token (the hot path);
    without it the caller has checked it.
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
    except ApiError:
        # Bad credentials are answered before a bad body, as on every other endpoint.
        if key is not None and await vault.store.authenticate(project_id, key) is None:
            raise invalid_key() from None
        raise
    options = req.options
    force_refresh = bool(options and options.force_refresh)
    if force_refresh:
        set_caller(dataclasses.replace(caller(), trigger="forceRefresh"))
    owner = (project_id, app_id, user_id, tenant_id)
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
        )
    except ApiError as exc:
        await _fetched(vault, owner, error_code=exc.code)
        raise
    await _fetched(vault, owner, token_id=token.id)
    with_refresh = bool(options and options.with_refresh_token)
    return {"token": token_to_wire(token, with_refresh)}


async def _fetched(
    vault: Vault, owner: tuple[str, str, str, str], *, token_id: str = "", error_code: str = ""
) -> None:
    """Count a fetch's outcome and audit it (unless auditing fetches is off, or the caller
    never authenticated: then there is no project to record it in)."""
    metrics.fetch(error_code or None)
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


# path -> (tenant_level, by_scopes)
FETCH_PATHS = {
    "/v1/mgmt/outbound/app/user/token": (False, True),
    "/v1/mgmt/outbound/app/user/token/latest": (False, False),
    "/v1/mgmt/outbound/app/tenant/token": (True, True),
    "/v1/mgmt/outbound/app/tenant/token/latest": (True, False),
}


async def _fetch(request: Request) -> Response:
    # POSTs to these paths are answered by server/hotpath.py before Starlette sees them; the
    # routes keep the Starlette app complete on its own (and answer 405 to other methods).
    tenant_level, by_scopes = FETCH_PATHS[request.url.path]
    vault: Vault = request.app.state.vault
    # As on the hot path: the key (full or fetch-only) is checked along with the token.
    project_id, key = parse_authorization(request.headers.get("authorization", ""))
    raw = await read_body(request)
    return json_response(
        await fetch_token(
            vault, project_id, raw, tenant_level=tenant_level, by_scopes=by_scopes, key=key
        )
    )


def _query_id(request: Request, name: str) -> str | None:
    value = request.query_params.get(name)
    if value is None or value == "":
        return None
    try:
        return msgspec.convert(value, Id)
    except msgspec.ValidationError:
        raise ApiError(
            "E011003", f"invalid query parameter {name!r}: at most 256 printable characters"
        ) from None


async def delete_token(request: Request) -> Response:
    vault, project_id = await authed(request)
    token_id = require(_query_id(request, "id"), "id")
    deleted = await vault.store.delete_token(project_id, token_id)
    if deleted is None:
        raise not_found_token()
    await vault.revoke([deleted])
    return json_response({})


async def delete_user_tokens(request: Request) -> Response:
    vault, project_id = await authed(request)
    # The official Node SDK sends both parameters whether given or not, an omitted one as the
    # text "undefined" (deleteUserTokens(appId) -> ?appId=…&userId=undefined).
    app_id, user_id = (
        None if value == "undefined" else value
        for value in (_query_id(request, "appId"), _query_id(request, "userId"))
    )
    if app_id is None and user_id is None:
        raise ApiError("E011002", "missing argument: give 'appId', 'userId' or both")
    deleted = await vault.store.delete_user_tokens(project_id, app_id, user_id)
    await vault.revoke(deleted)
    return json_response({})


async def apps_with_user_token(request: Request) -> Response:
    vault, project_id = await authed(request)
    user_id = require(_query_id(request, "userId"), "userId")
    tenant_id = _query_id(request, "tenantId")
    app_ids = await vault.store.apps_with_user_token(
        project_id, user_id, tenant_id, int(time.time())
    )
    return json_response({"appIds": app_ids})


routes = [
    *(Route(path, _fetch, methods=["POST"]) for path in FETCH_PATHS),
    Route("/v1/mgmt/outbound/token", delete_token, methods=["DELETE"]),
    Route("/v1/mgmt/outbound/user/tokens", delete_user_tokens, methods=["DELETE"]),
    Route("/v1/mgmt/outbound/apps-with-user-token", apps_with_user_token, methods=["GET"]),
]
