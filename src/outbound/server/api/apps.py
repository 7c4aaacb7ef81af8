"""Outbound apps: create (plain or from a provider template), update, delete, load."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..http.errors import app_not_found
from ..http.helpers import authed, body, json_response, read_body
from ..http.wire import (
    AppDelete,
    AppFields,
    AppUpdate,
    CreateByTemplate,
    app_to_wire,
    checked_id,
    decode,
    require,
)
from ..services.apps import (
    create_app_record,
    delete_app_and_revoke,
    template_app_fields,
    update_app_record,
)
from ..vault import Vault


async def _create(vault: Vault, project_id: str, fields: AppFields) -> Response:
    app = await create_app_record(vault, project_id, fields)
    return json_response({"app": app_to_wire(app, vault.app_callback_url(app))})


async def create_app(request: Request) -> Response:
    vault, project_id = await authed(request)
    return await _create(vault, project_id, await body(request, AppFields))


async def create_app_by_template(request: Request) -> Response:
    vault, project_id = await authed(request)
    req = await body(request, CreateByTemplate)
    return await _create(vault, project_id, template_app_fields(req))


async def update_app(request: Request) -> Response:
    vault, project_id = await authed(request)
    raw = await read_body(request)
    fields = decode(raw, AppUpdate).app
    if fields is None:
        # The official Java SDK sends the App's fields flat, without the "app" wrapper: the
        # same update (tests/compat/sdk_requests.json).
        flat = decode(raw, AppFields)
        fields = flat if flat.id is not None else None
    app = await update_app_record(vault, project_id, require(fields, "app"))
    return json_response({"app": app_to_wire(app, vault.app_callback_url(app))})


async def delete_app(request: Request) -> Response:
    vault, project_id = await authed(request)
    req = await body(request, AppDelete)
    await delete_app_and_revoke(vault, project_id, require(req.id, "id"))
    return json_response({})


async def _load(request: Request, app_id: str | None) -> Response:
    vault, project_id = await authed(request)
    app_id = require(app_id, "id")
    app = await vault.store.apps.get(project_id, app_id)
    if app is None:
        raise app_not_found(app_id)
    return json_response({"app": app_to_wire(app, vault.app_callback_url(app))})


async def load_app(request: Request) -> Response:
    return await _load(request, checked_id(request.path_params["id"], "id", "path parameter"))


async def load_app_by_query(request: Request) -> Response:
    return await _load(request, checked_id(request.query_params.get("id"), "id"))


async def load_all_apps(request: Request) -> Response:
    vault, project_id = await authed(request)
    apps = await vault.store.apps.all(project_id)
    return json_response({"apps": [app_to_wire(app, vault.app_callback_url(app)) for app in apps]})


routes = [
    Route("/v1/mgmt/outbound/app/create", create_app, methods=["POST"]),
    Route("/v1/mgmt/outbound/app/create/bytemplate", create_app_by_template, methods=["POST"]),
    Route("/v1/mgmt/outbound/app/update", update_app, methods=["POST"]),
    Route("/v1/mgmt/outbound/app/delete", delete_app, methods=["POST"]),
    Route("/v1/mgmt/outbound/apps", load_all_apps, methods=["GET"]),
    Route("/v1/mgmt/outbound/app", load_app_by_query, methods=["GET"]),
    Route("/v1/mgmt/outbound/app/{id:path}", load_app, methods=["GET"]),
]
