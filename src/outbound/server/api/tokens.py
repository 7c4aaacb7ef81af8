"""The token routes: fetching (the work is ``fetch.fetch_token``; POSTs are answered by the hot
path before these routes see them) and deleting."""

from __future__ import annotations

import dataclasses
import time

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ...audit import caller, set_caller
from ..http.errors import ApiError, not_found_token
from ..http.helpers import authed, json_response, read_body
from ..http.wire import Id, Input, checked_id, decode, require
from ..tokens.delegation import fetch_credentials
from ..tokens.fetch import FETCH_MAX_BODY, FETCH_PATHS, fetch_token
from ..tokens.revoke import revoke_deleted
from ..vault import Vault


async def _fetch(request: Request) -> Response:
    # POSTs to these paths are answered by server/tokens/hotpath.py before Starlette sees them; the
    # routes keep the Starlette app complete on its own (and answer 405 to other methods).
    tenant_level, by_scopes = FETCH_PATHS[request.url.path]
    vault: Vault = request.app.state.vault
    # As on the hot path: the key (full or fetch-only) is checked along with the token; a
    # user's token is verified first.
    project_id, key, delegate = await fetch_credentials(
        vault.store, vault.session_jwks, request.headers.get("authorization", "")
    )
    if delegate is not None:
        set_caller(dataclasses.replace(caller(), actor=delegate.actor, project_id=project_id))
    raw = await read_body(request, FETCH_MAX_BODY)
    return json_response(
        await fetch_token(
            vault,
            project_id,
            raw,
            tenant_level=tenant_level,
            by_scopes=by_scopes,
            key=key,
            delegate=delegate,
        )
    )


def _query_id(request: Request, name: str) -> str | None:
    return checked_id(request.query_params.get(name), name)


# A DELETE's body names at most three ids.
_DELETE_MAX_BODY = 4096


class _DeleteBody(Input, rename="camel"):
    """What the official Java SDK puts in the JSON body of its DELETEs (its HTTP client sends
    a DELETE's body): the same fields the query carries for the other SDKs."""

    id: Id | None = None
    app_id: Id | None = None
    user_id: Id | None = None


async def _delete_body(request: Request) -> _DeleteBody:
    raw = await read_body(request, _DELETE_MAX_BODY)
    return decode(raw, _DeleteBody) if raw.strip() else _DeleteBody()


async def delete_token(request: Request) -> Response:
    vault, project_id = await authed(request)
    # ?id= (Python, Node, Go) or {"id"} in the body (Java); neither: 400 naming 'id'.
    token_id = require(_query_id(request, "id") or (await _delete_body(request)).id, "id")
    deleted = await vault.store.tokens.delete(project_id, token_id)
    if deleted is None:
        raise not_found_token()
    await revoke_deleted(vault.providers, [deleted])
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
        given = await _delete_body(request)  # the Java SDK sends them in the body
        app_id, user_id = given.app_id, given.user_id
    if app_id is None and user_id is None:
        raise ApiError("E011002", "missing argument: give 'appId', 'userId' or both")
    deleted = await vault.store.tokens.delete_user_tokens(project_id, app_id, user_id)
    await revoke_deleted(vault.providers, deleted)
    return json_response({})


async def apps_with_user_token(request: Request) -> Response:
    vault, project_id = await authed(request)
    user_id = require(_query_id(request, "userId"), "userId")
    tenant_id = _query_id(request, "tenantId")
    app_ids = await vault.store.tokens.apps_with_user_token(
        project_id, user_id, tenant_id, int(time.time())
    )
    return json_response({"appIds": app_ids})


routes = [
    *(Route(path, _fetch, methods=["POST"]) for path in FETCH_PATHS),
    Route("/v1/mgmt/outbound/token", delete_token, methods=["DELETE"]),
    Route("/v1/mgmt/outbound/user/tokens", delete_user_tokens, methods=["DELETE"]),
    # the official Java SDK's path for the same request
    Route("/v1/mgmt/outbound/tokens", delete_user_tokens, methods=["DELETE"]),
    Route("/v1/mgmt/outbound/apps-with-user-token", apps_with_user_token, methods=["GET"]),
]
