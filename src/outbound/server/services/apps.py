"""Apps: create (plain or from a provider template), update, delete — the one way the management
API and the console change them. Each checks what it is given (URLs against the network policy,
the client secret against the origins it may go to), writes the store, and tells the parts that
cache an app (providers, registered clients) that it changed."""

from __future__ import annotations

import dataclasses
from typing import Any

import msgspec

from ...secret import Secret
from ...storage import AppRecord, Conflict, new_id
from ...storage.registrations import Registrations
from ..connect.app_urls import check_app_urls
from ..connect.dcr import forget_client, forget_moved_client, require_own_client_document
from ..http.errors import ApiError, app_not_found
from ..http.wire import AppFields, CreateByTemplate, app_config_from_fields, require, require_new_id
from ..tokens.grants import check_grant_app
from ..tokens.providers import provider_config, with_registration
from ..tokens.revoke import Revocation, revoke_deleted
from ..tokens.secret_origins import bind_secret, keep_secret_in_place
from ..vault import Vault

__all__ = [
    "create_app_record",
    "delete_app_and_revoke",
    "keeps_shared_callback",
    "template_app_fields",
    "update_app_record",
]


def _secret(value: str | None) -> Secret | None:
    return Secret(value) if value else None


def _conflict(exc: Conflict, app_id: str, name: str) -> ApiError:
    text = str(exc)
    if "uq_apps_project_name" in text or "apps.name" in text:
        return ApiError("E131002", f"an outbound app named {name!r} already exists")
    return ApiError(
        "E131002", f"an outbound app with id {app_id!r} (or name {name!r}) already exists"
    )


async def create_app_record(vault: Vault, project_id: str, fields: AppFields) -> AppRecord:
    """Create an app (the API's and the console's way); ApiError when it cannot be."""
    name = require(fields.name, "name")
    app_id = require_new_id(fields.id, "id") if fields.id else new_id("app_", 16)
    if fields.tenant_id:
        require_new_id(fields.tenant_id, "tenantId")
    config = app_config_from_fields(fields)
    await check_app_urls(config, vault.network)
    require_own_client_document(vault, project_id, app_id, config.get("clientId") or "")
    secret = _secret(fields.client_secret)
    private_key = _secret(fields.private_key)
    check_grant_app(config, private_key)
    origins = await bind_secret(
        vault.providers.client,
        AppRecord(project_id, app_id, name, config, secret, 0, 0),
        vault.settings.provider_timeout,
    )
    try:
        app = await vault.store.apps.create(
            project_id, app_id, name, config, secret, origins, private_key=private_key
        )
    except Conflict as exc:
        raise _conflict(exc, app_id, name) from None
    return app


def template_app_fields(req: CreateByTemplate) -> AppFields:
    """The fields of an app made from a catalog template with the request's values."""
    template_id = require(req.template_id, "templateId")
    from ...catalog import get_template  # the catalog loads on first use, not at start-up

    template = get_template(template_id)
    if template is None:
        raise ApiError(
            "E131003", f"no provider template {template_id!r}; see GET /v1/mgmt/outbound/templates"
        )
    try:
        fields: dict[str, Any] = dict(template.app_fields(req.values or {}))
    except ValueError as exc:
        raise ApiError("E011002", str(exc)) from None
    if req.overrides is not None:
        fields.update(
            {k: v for k, v in msgspec.to_builtins(req.overrides).items() if v not in (None, "", [])}
        )
    for key, value in (
        ("id", req.id),
        ("name", req.name),
        ("clientId", req.client_id),
        ("clientSecret", req.client_secret),
        ("tenantId", req.tenant_id),
    ):
        if value:
            fields[key] = value
    fields["templateId"] = template_id
    try:
        app_fields = msgspec.convert(fields, AppFields)
    except msgspec.ValidationError as exc:
        raise ApiError("E011003", f"template {template_id!r} with these overrides: {exc}") from None
    return app_fields


def keeps_shared_callback(stored: AppRecord, config: dict[str, Any]) -> bool:
    """An app created before callbacks were per project keeps the shared one while its client
    stays the one registered with it; a new client id (or registering its own) is a new
    registration, which gets the project's callback."""
    return stored.shared_callback and all(
        (stored.config.get(name) or None) == (config.get(name) or None)
        for name in ("clientId", "useDcr")
    )


async def update_app_record(vault: Vault, project_id: str, fields: AppFields) -> AppRecord:
    """Overwrite an app (an omitted client secret keeps the stored one)."""
    app_id = require(fields.id, "app.id")
    name = require(fields.name, "app.name")
    keep_secret = fields.client_secret is None
    # What the update omits of KEPT_WHEN_OMITTED, and a derived appType, follow the stored app.
    stored = await vault.store.apps.get(project_id, app_id)
    if stored is None:
        raise app_not_found(app_id)
    config = app_config_from_fields(fields, stored.config)
    await check_app_urls(config, vault.network, prefix="app.")
    require_own_client_document(
        vault, project_id, app_id, config.get("clientId") or "", field="app.clientId"
    )
    updated = dataclasses.replace(stored, name=name, config=config)
    keep_private_key = fields.private_key is None
    check_grant_app(config, stored.private_key if keep_private_key else _secret(fields.private_key))
    if keep_secret:
        origins = await keep_secret_in_place(
            vault.providers.client, stored, updated, vault.settings.provider_timeout, prefix="app."
        )
    else:
        updated.client_secret = _secret(fields.client_secret)
        origins = await bind_secret(
            vault.providers.client, updated, vault.settings.provider_timeout
        )
    try:
        app = await vault.store.apps.update(
            project_id,
            app_id,
            name,
            config,
            _secret(fields.client_secret),
            keep_client_secret=keep_secret,
            secret_origins=origins,
            shared_callback=keeps_shared_callback(stored, config),
            private_key=_secret(fields.private_key),
            keep_private_key=keep_private_key,
        )
    except Conflict as exc:
        raise _conflict(exc, app_id, name) from None
    if app is None:
        raise app_not_found(app_id)
    vault.app_changed(project_id, app_id)
    await forget_moved_client(vault, stored, app)
    return app


async def delete_app_and_revoke(vault: Vault, project_id: str, app_id: str) -> Revocation:
    """Delete an app with its tokens, revoking them at the provider; what came of that."""
    app = await vault.store.apps.get(project_id, app_id)
    registration = None
    configs = {}
    if app is not None and app.config.get("useDcr"):
        # Read before the delete takes the app's registered client with it: revoking its
        # tokens authenticates as that client, which is deleted at the server last.
        registration = await Registrations(vault.store).get(project_id, app_id)
        if registration is not None and registration.client_id:
            configs[app_id] = with_registration(provider_config(app), registration)
    deleted = await vault.store.apps.delete(project_id, app_id)
    if app is None or deleted is None:
        raise app_not_found(app_id)
    vault.app_changed(project_id, app_id)
    revocation = await revoke_deleted(vault.providers, deleted, [app], configs=configs)
    if registration is not None:
        await forget_client(vault, registration)
    return revocation
