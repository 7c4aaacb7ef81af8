"""The outbound application API as pure request builders, one per SDK method.

Bodies are built exactly as the official ``descope`` SDK builds them (same fields, same
``null`` for absent optionals), so the server sees the same requests from either SDK.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from enum import Enum
from typing import Any
from urllib.parse import quote

from ..app_fields import SDK_FIELDS
from ..secret import Secret
from ._core import ApiRequest
from ._exceptions import ConfigurationError

__all__ = [
    "URLParamLike",
    "batch_upload_tenant_tokens",
    "batch_upload_user_tokens",
    "by_token",
    "connect",
    "connect_device",
    "create_application",
    "delete_application",
    "delete_token",
    "delete_user_tokens",
    "device_connect_status",
    "fetch_tenant_token",
    "fetch_tenant_token_by_scopes",
    "fetch_token",
    "fetch_token_by_scopes",
    "list_apps_with_user_token",
    "list_connections",
    "load_all_applications",
    "load_application",
    "set_connection_metadata",
    "token_exchange",
    "update_application",
    "upload_tenant_api_key",
    "upload_tenant_token",
    "upload_user_api_key",
    "upload_user_token",
]

PREFIX = "/v1/mgmt/outbound"

# An authorization/token URL parameter: descope's ``URLParam`` (``.name``/``.value``), or a
# mapping with ``name`` (or ``key``) and ``value``.
URLParamLike = Any


def _plain(value: str | Secret | None) -> str | None:
    return value.reveal() if isinstance(value, Secret) else value


def _enum_value(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


def _url_params(params: Iterable[URLParamLike]) -> list[dict[str, str]]:
    wire = []
    for param in params:
        if isinstance(param, Mapping):
            name = param.get("name", param.get("key"))
            value = param["value"]
        else:
            name, value = param.name, param.value
        wire.append({"name": str(name), "value": str(value)})
    return wire


def _app_body(
    name: str,
    description: str | None,
    logo: str | None,
    id: str | None,
    client_secret: str | Secret | None,
    client_id: str | None,
    discovery_url: str | None,
    authorization_url: str | None,
    authorization_url_params: Sequence[URLParamLike] | None,
    token_url: str | None,
    token_url_params: Sequence[URLParamLike] | None,
    revocation_url: str | None,
    default_scopes: Sequence[str] | None,
    default_redirect_url: str | None,
    callback_domain: str | None,
    pkce: bool | None,
    access_type: Any,
    prompt: Sequence[Any] | None,
    *,
    use_dcr: bool | None = None,
    dcr_url: str | None = None,
    resource: str | None = None,
    api_base_url: str | None = None,
    grant_type: str | None = None,
    github_app_id: str | None = None,
    private_key: str | Secret | None = None,
) -> dict[str, Any]:
    given = dict(locals())  # every argument, by its Python name (the table's ``name``)
    # Same shape as descope's _compose_create_update_body: these four always, even null.
    body: dict[str, Any] = {"name": name, "id": id, "description": description, "logo": logo}
    for field in SDK_FIELDS:
        if field.wire in body:
            continue
        value = _enum_value(_plain(given[field.name]))
        if field.kind in ("string", "url", "secret", "choice"):
            # empty strings are left out, as descope leaves them out
            if value:
                body[field.wire] = value
        elif value is None:
            continue
        elif field.kind == "params":
            body[field.wire] = _url_params(value)
        elif field.kind == "list":
            body[field.wire] = [_enum_value(item) for item in value]
        else:
            body[field.wire] = value
    return body


def create_application(*fields: Any, **extras: Any) -> ApiRequest:
    # Not idempotent: a repeat creates a second app (or fails on the name).
    body = _app_body(*fields, **extras)
    return ApiRequest("POST", f"{PREFIX}/app/create", body, idempotent=False)


def update_application(
    id: str, name: str, description: str | None, logo: str | None, *rest: Any, **extras: Any
) -> ApiRequest:
    # descope's parameter order differs from create's (id first); the body is the same.
    body = _app_body(name, description, logo, id, *rest, **extras)
    return ApiRequest("POST", f"{PREFIX}/app/update", {"app": body})


def delete_application(id: str) -> ApiRequest:
    return ApiRequest("POST", f"{PREFIX}/app/delete", {"id": id})


def load_application(id: str) -> ApiRequest:
    return ApiRequest("GET", f"{PREFIX}/app/{quote(id, safe='')}")


def load_all_applications() -> ApiRequest:
    return ApiRequest("GET", f"{PREFIX}/apps")


def fetch_token_by_scopes(
    app_id: str,
    user_id: str,
    scopes: Sequence[str],
    options: Mapping[str, Any] | None,
    tenant_id: str | None,
) -> ApiRequest:
    body = {
        "appId": app_id,
        "userId": user_id,
        "scopes": list(scopes),
        "options": _options(options),
        "tenantId": tenant_id,
    }
    return ApiRequest("POST", f"{PREFIX}/app/user/token", body)


def fetch_token(
    app_id: str, user_id: str, tenant_id: str | None, options: Mapping[str, Any] | None
) -> ApiRequest:
    body = {"appId": app_id, "userId": user_id, "tenantId": tenant_id, "options": _options(options)}
    return ApiRequest("POST", f"{PREFIX}/app/user/token/latest", body)


def fetch_tenant_token_by_scopes(
    app_id: str, tenant_id: str, scopes: Sequence[str], options: Mapping[str, Any] | None
) -> ApiRequest:
    body = {
        "appId": app_id,
        "tenantId": tenant_id,
        "scopes": list(scopes),
        "options": _options(options),
    }
    return ApiRequest("POST", f"{PREFIX}/app/tenant/token", body)


def fetch_tenant_token(
    app_id: str, tenant_id: str, options: Mapping[str, Any] | None
) -> ApiRequest:
    body = {"appId": app_id, "tenantId": tenant_id, "options": _options(options)}
    return ApiRequest("POST", f"{PREFIX}/app/tenant/token/latest", body)


def _options(options: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return None if options is None else dict(options)


def delete_user_tokens(app_id: str | None, user_id: str | None) -> ApiRequest:
    params = {}
    if app_id:
        params["appId"] = app_id
    if user_id:
        params["userId"] = user_id
    return ApiRequest("DELETE", f"{PREFIX}/user/tokens", params=params)


def delete_token(token_id: str) -> ApiRequest:
    return ApiRequest("DELETE", f"{PREFIX}/token", params={"id": token_id})


def list_apps_with_user_token(user_id: str, tenant_id: str | None) -> ApiRequest:
    params = {"userId": user_id}
    if tenant_id:
        params["tenantId"] = tenant_id
    return ApiRequest("GET", f"{PREFIX}/apps-with-user-token", params=params)


def list_connections(
    app_id: str | None,
    user_id: str | None,
    tenant_id: str | None,
    status: str | None,
    limit: int | None,
    cursor: str | None,
    metadata: tuple[str, str] | None = None,
) -> ApiRequest:
    given = {
        "appId": app_id,
        "userId": user_id,
        "tenantId": tenant_id,
        "status": status,
        "limit": None if limit is None else str(limit),
        "cursor": cursor,
    }
    params = {name: value for name, value in given.items() if value}
    if metadata is not None:
        key, value = metadata
        params[f"metadata.{key}"] = value
    return ApiRequest("GET", f"{PREFIX}/connections", params=params)


def set_connection_metadata(connection_id: str, metadata: Mapping[str, Any]) -> ApiRequest:
    body = {"metadata": dict(metadata)}
    path = f"{PREFIX}/connections/{quote(connection_id, safe='')}/metadata"
    return ApiRequest("POST", path, body)


def upload_user_api_key(
    app_id: str,
    user_id: str,
    api_key: str | Secret,
    tenant_id: str | None,
    metadata: Mapping[str, Any] | None = None,
) -> ApiRequest:
    body: dict[str, Any] = {"appId": app_id, "userId": user_id, "apiKey": _plain(api_key)}
    if tenant_id is not None:
        body["tenantId"] = tenant_id
    if metadata is not None:
        body["metadata"] = dict(metadata)
    return ApiRequest("POST", f"{PREFIX}/app/user/apikey/upload", body)


def upload_tenant_api_key(
    app_id: str, tenant_id: str, api_key: str | Secret, metadata: Mapping[str, Any] | None = None
) -> ApiRequest:
    body: dict[str, Any] = {"appId": app_id, "tenantId": tenant_id, "apiKey": _plain(api_key)}
    if metadata is not None:
        body["metadata"] = dict(metadata)
    return ApiRequest("POST", f"{PREFIX}/app/tenant/apikey/upload", body)


def _oauth_upload_body(
    base: dict[str, Any],
    refresh_token: str | Secret | None,
    access_token: str | Secret | None,
    access_token_expiry: int | None,
    access_token_type: str | None,
    scopes: Sequence[str] | None,
    external_identifier: str | None,
    id_token: str | Secret | None,
    verify_refresh: bool | None,
    granted_by: str | None,
    metadata: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    optional = {
        "refreshToken": _plain(refresh_token),
        "accessToken": _plain(access_token),
        "accessTokenExpiry": access_token_expiry,
        "accessTokenType": access_token_type,
        "scopes": None if scopes is None else list(scopes),
        "externalIdentifier": external_identifier,
        "idToken": _plain(id_token),
        "grantedBy": granted_by,
        "verifyRefresh": verify_refresh,
        "metadata": None if metadata is None else dict(metadata),
    }
    return {**base, **{field: value for field, value in optional.items() if value is not None}}


def upload_user_token(
    app_id: str, user_id: str, tenant_id: str | None, *token_fields: Any
) -> ApiRequest:
    base: dict[str, Any] = {"appId": app_id, "userId": user_id}
    if tenant_id is not None:
        base["tenantId"] = tenant_id
    body = _oauth_upload_body(base, *token_fields)
    return ApiRequest("POST", f"{PREFIX}/app/user/oauthtoken/upload", body)


def upload_tenant_token(app_id: str, tenant_id: str, *token_fields: Any) -> ApiRequest:
    body = _oauth_upload_body({"appId": app_id, "tenantId": tenant_id}, *token_fields)
    return ApiRequest("POST", f"{PREFIX}/app/tenant/oauthtoken/upload", body)


def batch_upload_user_tokens(tokens: Sequence[Mapping[str, Any]]) -> ApiRequest:
    body = {"tokens": [_revealed(token) for token in tokens]}
    return ApiRequest("POST", f"{PREFIX}/app/user/oauthtoken/batch/upload", body)


def batch_upload_tenant_tokens(tokens: Sequence[Mapping[str, Any]]) -> ApiRequest:
    body = {"tokens": [_revealed(token) for token in tokens]}
    return ApiRequest("POST", f"{PREFIX}/app/tenant/oauthtoken/batch/upload", body)


def _revealed(token: Mapping[str, Any]) -> dict[str, Any]:
    return {
        key: _plain(value) if isinstance(value, Secret) else value for key, value in token.items()
    }


def connect(
    app_id: str,
    user_id: str | None,
    tenant_id: str | None,
    redirect_url: str | None,
    scopes: Sequence[str] | None,
    external_identifier: str | None,
    metadata: Mapping[str, Any] | None = None,
) -> ApiRequest:
    options = {
        "redirectUrl": redirect_url,
        "scopes": None if scopes is None else list(scopes),
        "externalIdentifier": external_identifier,
        "metadata": None if metadata is None else dict(metadata),
    }
    body: dict[str, Any] = {
        "appId": app_id,
        "userId": user_id,
        "tenantId": tenant_id,
        # A connection for the tenant as a whole, not for one of its users.
        "tenantLevel": bool(tenant_id) and not user_id,
        "options": {key: value for key, value in options.items() if value is not None},
    }
    # Each call mints a new single-use link: not repeated after an ambiguous failure.
    return ApiRequest("POST", f"{PREFIX}/app/connect", body, idempotent=False)


def connect_device(
    app_id: str,
    user_id: str | None,
    tenant_id: str | None,
    scopes: Sequence[str] | None,
    external_identifier: str | None,
    metadata: Mapping[str, Any] | None,
) -> ApiRequest:
    request = connect(app_id, user_id, tenant_id, None, scopes, external_identifier, metadata)
    assert request.body is not None
    body = dict(request.body)
    body["options"] = {**body["options"], "flow": "device"}
    # Each call starts a new device authorization at the provider: not repeated either.
    return dataclasses.replace(request, body=body)


def device_connect_status(connect_id: str) -> ApiRequest:
    return ApiRequest("GET", f"{PREFIX}/connect/{quote(connect_id, safe='')}")


def by_token(request: ApiRequest, token: str | Secret) -> ApiRequest:
    """``request`` authenticated with a user's access token instead of the management key
    (``Bearer <projectId>:<token>``: the official SDK's outbound_application_by_token)."""
    if not _plain(token):
        raise ConfigurationError("token is required: the user's access token")
    return dataclasses.replace(
        request, credential=token if isinstance(token, Secret) else Secret(token)
    )


# RFC 8693 names.
TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"  # noqa: S105 - a URN
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"  # noqa: S105 - a URN


def token_exchange(
    token: str | Secret, app_id: str, scopes: Sequence[str] | None, project_id: str
) -> ApiRequest:
    """RFC 8693 token exchange: the user's access token for their provider token of
    ``app_id`` (holding at least ``scopes``)."""
    subject = _plain(token)
    if not subject:
        raise ConfigurationError("token is required: the user's access token")
    form = {
        "grant_type": TOKEN_EXCHANGE_GRANT,
        "subject_token": subject,
        "subject_token_type": ACCESS_TOKEN_TYPE,
        "audience": app_id,
        "client_id": project_id,
    }
    if scopes:
        form["scope"] = " ".join(scopes)
    return ApiRequest("POST", "/v1/outbound/oauth/token", form=form)
