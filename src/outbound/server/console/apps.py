"""Console pages for apps: list, create from the catalog or by hand, edit, delete.

Every change goes through the same functions as the management API (``api/apps.py``), so
the console checks exactly what the API checks. The client secret is write-only here too: a
page says whether one is set, never what it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from ...catalog import Template, all_templates, get_template
from ..http.errors import ApiError
from ..http.wire import AppFields, CreateByTemplate, app_to_wire
from ..services.apps import (
    create_app_record,
    delete_app_and_revoke,
    template_app_fields,
    update_app_record,
)
from .connections import deleted_notice
from .render import redirect, render
from .session import Ctx, console_page

# The fields of the hand-made app form, in the order shown: (name, label, help).
CUSTOM_FIELDS = [
    ("name", "Name", "Shown to operators; unique in the project."),
    ("id", "App id", "Optional; generated when empty. Cannot change later."),
    ("clientId", "Client ID", "The client id of your OAuth app at the provider."),
    ("discoveryUrl", "Discovery URL", "An OpenID Connect or RFC 8414 document, if any."),
    ("authorizationUrl", "Authorization URL", "Needed without a discovery URL."),
    ("tokenUrl", "Token URL", "Needed without a discovery URL."),
    ("revocationUrl", "Revocation URL", "Where deleted tokens are revoked (RFC 7009)."),
    ("defaultScopes", "Default scopes", "Separated by spaces."),
    ("defaultRedirectUrl", "Default redirect URL", "Where users land after connecting."),
]
_LIST_FIELDS = {"defaultScopes"}
# What the template form lets an operator point elsewhere (a proxy, a self-hosted instance).
ENDPOINT_OVERRIDES = {
    "discoveryUrl": "Discovery URL",
    "authorizationUrl": "Authorization URL",
    "tokenUrl": "Token URL",
    "revocationUrl": "Revocation URL",
}


def _fields_from_form(form: dict[str, str], base: dict[str, Any] | None = None) -> dict[str, Any]:
    fields: dict[str, Any] = dict(base or {})
    for name, _, _ in CUSTOM_FIELDS:
        if name not in form:
            continue
        value = form[name].strip()
        if name in _LIST_FIELDS:
            fields[name] = value.split()
        elif value or name in fields:
            fields[name] = value or None
    fields["pkce"] = form.get("pkce") == "on"
    secret = form.get("clientSecret", "")
    if secret:
        fields["clientSecret"] = secret
    return {k: v for k, v in fields.items() if v is not None}


def _convert(fields: dict[str, Any]) -> AppFields:
    try:
        return msgspec.convert(fields, AppFields)
    except msgspec.ValidationError as exc:
        raise ApiError("E011003", f"a field is not valid: {exc}") from None


NOTICES = {
    "deleted": "App deleted; its tokens were revoked at the provider.",
    "deleted-unrevocable": "App deleted. The provider has no revocation endpoint: its tokens"
    " stay valid there until they expire.",
    "deleted-local": "App deleted (it had no provider tokens to revoke).",
}


@console_page
async def apps_list(request: Request, ctx: Ctx) -> Response:
    apps = await ctx.vault.store.apps.all(ctx.project_id)
    params = request.query_params
    return render(
        request,
        "apps.html",
        ctx.page(
            apps=apps,
            nav="apps",
            flash=NOTICES.get(params.get("notice", ""), ""),
            error=params.get("error", "")[:600],
        ),
    )


@console_page
async def template_picker(request: Request, ctx: Ctx) -> Response:
    query = request.query_params.get("q", "").strip().lower()[:100]
    templates = [
        t for t in all_templates() if not query or query in t.id.lower() or query in t.name.lower()
    ]
    return render(
        request, "template_picker.html", ctx.page(templates=templates, q=query, nav="apps")
    )


def _template_request(template: Template, form: Mapping[str, str]) -> CreateByTemplate:
    """The template form as the API's create-by-template request (msgspec.ValidationError
    for a field that is not valid)."""
    values = {
        spec["name"]: form[f"value.{spec['name']}"].strip()
        for spec in template.inputs()
        if spec["in"] == "values" and form.get(f"value.{spec['name']}", "").strip()
    }
    overrides = {
        name: form[name].strip()
        for name in ("defaultRedirectUrl", *ENDPOINT_OVERRIDES)
        if form.get(name, "").strip()
    }
    return msgspec.convert(
        {
            "templateId": template.id,
            "id": form.get("id", "").strip() or None,
            "name": form.get("name", "").strip() or template.name,
            "clientId": form.get("clientId", "").strip() or None,
            "clientSecret": form.get("clientSecret", "") or None,
            "values": values or None,
            "overrides": overrides or None,
        },
        CreateByTemplate,
    )


@console_page
async def from_template(request: Request, ctx: Ctx) -> Response:
    template_id = request.query_params.get("id", "")
    template = get_template(template_id)
    if template is None:
        return render(
            request,
            "message.html",
            ctx.page(
                title="No such template",
                message=f"There is no provider template {template_id!r}. Pick one from the list.",
                link="/console/apps/new",
            ),
            404,
        )
    error = ""
    form = ctx.form
    if request.method == "POST":
        try:
            req = _template_request(template, form)
            app = await create_app_record(ctx.vault, ctx.project_id, template_app_fields(req))
        except msgspec.ValidationError as exc:
            error = f"A field is not valid: {exc}"
        except ApiError as exc:
            error = exc.message
        else:
            return redirect(f"/console/apps/edit?{_q(app.id)}&notice=created")
    return render(
        request,
        "template_form.html",
        ctx.page(
            template=template,
            inputs=template.inputs(),
            endpoints=ENDPOINT_OVERRIDES,
            callback_url=ctx.vault.project_callback_url(ctx.project_id),
            error=error,
            form={k: v for k, v in form.items() if k != "clientSecret"},
            nav="apps",
        ),
        400 if error else 200,
    )


def _q(app_id: str) -> str:
    from urllib.parse import urlencode

    return urlencode({"id": app_id})


@console_page
async def custom_app(request: Request, ctx: Ctx) -> Response:
    error = ""
    if request.method == "POST":
        try:
            app = await create_app_record(
                ctx.vault, ctx.project_id, _convert(_fields_from_form(ctx.form))
            )
        except ApiError as exc:
            error = exc.message
        else:
            return redirect(f"/console/apps/edit?{_q(app.id)}&notice=created")
    return render(
        request,
        "app_form.html",
        ctx.page(
            app=None,
            fields=CUSTOM_FIELDS,
            values={k: v for k, v in ctx.form.items() if k != "clientSecret"},
            callback_url=ctx.vault.project_callback_url(ctx.project_id),
            error=error,
            nav="apps",
        ),
        400 if error else 200,
    )


async def _app_or_404(request: Request, ctx: Ctx) -> tuple[Any, Response | None]:
    app_id = request.query_params.get("id", "")
    app = await ctx.vault.store.apps.get(ctx.project_id, app_id) if app_id else None
    if app is None:
        return None, render(
            request,
            "message.html",
            ctx.page(
                title="App not found",
                message="This app does not exist (any more). Pick one from the list of apps.",
                link="/console/apps",
            ),
            404,
        )
    return app, None


@console_page
async def edit_app(request: Request, ctx: Ctx) -> Response:
    app, missing = await _app_or_404(request, ctx)
    if missing is not None:
        return missing
    wire = app_to_wire(app, ctx.vault.app_callback_url(app))
    error = ""
    if request.method == "POST":
        base = {k: v for k, v in wire.items() if k not in ("callbackUrl", "hasClientSecret")}
        try:
            fields = _fields_from_form({**ctx.form, "id": app.id}, base)
            app = await update_app_record(ctx.vault, ctx.project_id, _convert(fields))
        except ApiError as exc:
            error = exc.message
        else:
            return redirect(f"/console/apps/edit?{_q(app.id)}&notice=saved")
    values = {
        name: " ".join(wire.get(name) or []) if name in _LIST_FIELDS else wire.get(name) or ""
        for name, _, _ in CUSTOM_FIELDS
    }
    values["pkce"] = "on" if wire.get("pkce") else ""
    if request.method == "POST":
        values.update({k: v for k, v in ctx.form.items() if k != "clientSecret"})
    return render(
        request,
        "app_form.html",
        ctx.page(
            app=app,
            has_secret=app.client_secret is not None,
            fields=CUSTOM_FIELDS,
            values=values,
            callback_url=ctx.vault.app_callback_url(app),
            error=error,
            notice=request.query_params.get("notice", ""),
            nav="apps",
        ),
        400 if error else 200,
    )


@console_page
async def delete_app(request: Request, ctx: Ctx) -> Response:
    app, missing = await _app_or_404(request, ctx)
    if missing is not None:
        return missing
    if request.method == "POST":
        try:
            revocation = await delete_app_and_revoke(ctx.vault, ctx.project_id, app.id)
        except ApiError as exc:
            return redirect(
                "/console/apps?" + urlencode({"error": f"Not deleted ({exc.code}): {exc.message}"})
            )
        notice, error = deleted_notice(revocation)
        return redirect(
            "/console/apps?" + urlencode({"notice": notice} if notice else {"error": error})
        )
    return render(request, "app_delete.html", ctx.page(app=app, nav="apps"))
