"""Tokens and API keys that arrive by upload (migrations from elsewhere, keys users paste)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ...secret import Secret
from ...storage import TokenWrite
from ..http.errors import ApiError, app_not_found
from ..http.helpers import authed, body, json_response
from ..http.wire import ApiKeyUpload, BatchUpload, TokenUpload, require, require_new_id
from ..tokens.refresh import verify_refresh
from ..vault import Vault


def _token_write(
    project_id: str, upload: TokenUpload, *, tenant_level: bool, prefix: str = ""
) -> TokenWrite:
    app_id = require(upload.app_id, prefix + "appId")
    if tenant_level:
        user_id, tenant_id = "", require(upload.tenant_id, prefix + "tenantId")
    else:
        user_id, tenant_id = require(upload.user_id, prefix + "userId"), upload.tenant_id or ""
    if tenant_id:
        require_new_id(tenant_id, prefix + "tenantId")
    if not upload.access_token and not upload.refresh_token:
        raise ApiError(
            "E011002", f"missing argument: give {prefix}accessToken, {prefix}refreshToken or both"
        )
    return TokenWrite(
        project_id=project_id,
        app_id=app_id,
        user_id=user_id,
        tenant_id=tenant_id,
        external_identifier=upload.external_identifier or "",
        scopes=list(dict.fromkeys(upload.scopes or [])),
        access_token=Secret(upload.access_token) if upload.access_token else None,
        refresh_token=Secret(upload.refresh_token) if upload.refresh_token else None,
        id_token=Secret(upload.id_token) if upload.id_token else None,
        access_token_type=upload.access_token_type or "Bearer",
        access_token_expiry=upload.expiry,
        granted_by=upload.granted_by or "",
        metadata=upload.metadata,
    )


async def _require_app(vault: Vault, project_id: str, app_id: str) -> str:
    app_type = await vault.store.apps.app_type(project_id, app_id)
    if app_type is None:
        raise app_not_found(app_id)
    return app_type


async def _upload_token(request: Request, *, tenant_level: bool) -> Response:
    vault, project_id = await authed(request)
    upload = await body(request, TokenUpload)
    write = _token_write(project_id, upload, tenant_level=tenant_level)
    await _require_app(vault, project_id, write.app_id)
    if upload.verify_refresh:
        write = await verify_refresh(vault.providers, write)
    await vault.store.tokens.put([write])
    return json_response({})


async def upload_user_token(request: Request) -> Response:
    return await _upload_token(request, tenant_level=False)


async def upload_tenant_token(request: Request) -> Response:
    return await _upload_token(request, tenant_level=True)


async def _batch_upload(request: Request, *, tenant_level: bool) -> Response:
    vault, project_id = await authed(request)
    batch = await body(request, BatchUpload)
    uploads = require(batch.tokens, "tokens")
    writes, failures = [], []
    known_apps: dict[str, bool] = {}
    for index, upload in enumerate(uploads):
        try:
            if upload.verify_refresh:
                raise ApiError("E011004", "verifyRefresh is accepted on single uploads only")
            write = _token_write(
                project_id, upload, tenant_level=tenant_level, prefix=f"tokens[{index}]."
            )
            if write.app_id not in known_apps:
                known_apps[write.app_id] = (
                    await vault.store.apps.app_type(project_id, write.app_id) is not None
                )
            if not known_apps[write.app_id]:
                raise app_not_found(write.app_id)
            writes.append(write)
        except ApiError as exc:
            failure = {"appId": upload.app_id or "", "errorCode": exc.code, "reason": exc.message}
            if tenant_level:
                failure["tenantId"] = upload.tenant_id or ""
            else:
                failure["userId"] = upload.user_id or ""
            failures.append(failure)
    if not failures:
        await vault.store.tokens.put(writes)
    return json_response({"failures": failures})


async def batch_upload_user_tokens(request: Request) -> Response:
    return await _batch_upload(request, tenant_level=False)


async def batch_upload_tenant_tokens(request: Request) -> Response:
    return await _batch_upload(request, tenant_level=True)


async def _upload_api_key(request: Request, *, tenant_level: bool) -> Response:
    vault, project_id = await authed(request)
    upload = await body(request, ApiKeyUpload)
    app_id = require(upload.app_id, "appId")
    if tenant_level:
        user_id, tenant_id = "", require(upload.tenant_id, "tenantId")
    else:
        user_id, tenant_id = require(upload.user_id, "userId"), upload.tenant_id or ""
    if tenant_id:
        require_new_id(tenant_id, "tenantId")
    api_key = require(upload.api_key, "apiKey")
    await _require_app(vault, project_id, app_id)
    await vault.store.tokens.put(
        [
            TokenWrite(
                project_id=project_id,
                app_id=app_id,
                user_id=user_id,
                tenant_id=tenant_id,
                access_token=Secret(api_key),
                access_token_type="apikey",  # noqa: S106 - a token type, not a secret
                metadata=upload.metadata,
            )
        ]
    )
    return json_response({})


async def upload_user_api_key(request: Request) -> Response:
    return await _upload_api_key(request, tenant_level=False)


async def upload_tenant_api_key(request: Request) -> Response:
    return await _upload_api_key(request, tenant_level=True)


routes = [
    Route("/v1/mgmt/outbound/app/user/apikey/upload", upload_user_api_key, methods=["POST"]),
    Route("/v1/mgmt/outbound/app/tenant/apikey/upload", upload_tenant_api_key, methods=["POST"]),
    Route("/v1/mgmt/outbound/app/user/oauthtoken/upload", upload_user_token, methods=["POST"]),
    Route("/v1/mgmt/outbound/app/tenant/oauthtoken/upload", upload_tenant_token, methods=["POST"]),
    Route(
        "/v1/mgmt/outbound/app/user/oauthtoken/batch/upload",
        batch_upload_user_tokens,
        methods=["POST"],
    ),
    Route(
        "/v1/mgmt/outbound/app/tenant/oauthtoken/batch/upload",
        batch_upload_tenant_tokens,
        methods=["POST"],
    ),
]
