"""Console pages about the project as a whole: overview, webhooks, management keys, audit."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from ...storage.connection_events import EVENT_TYPES
from ...storage.console_counts import connection_counts, failed_deliveries
from ...storage.webhooks import InvalidCursor
from ..http.errors import ApiError
from ..services.webhooks import DEFAULT_OVERLAP, create_webhook
from . import audit, chart
from .render import redirect, render
from .session import Ctx, console_page


@console_page
async def overview(request: Request, ctx: Ctx) -> Response:
    db = ctx.vault.store.db
    hourly = await audit.refreshes_by_hour(db, ctx.project_id, chart.HOURS)
    failed, retrying = await failed_deliveries(db, ctx.project_id)
    return render(
        request,
        "overview.html",
        ctx.page(
            apps=await ctx.vault.store.apps.all(ctx.project_id),
            counts=await connection_counts(db, ctx.project_id),
            failed=failed,
            retrying=retrying,
            chart=chart.bars(*hourly) if hourly is not None else None,
            nav="overview",
        ),
    )


# -- webhooks --------------------------------------------------------------------------------


@console_page
async def webhooks_page(request: Request, ctx: Ctx) -> Response:
    error = ""
    if request.method == "POST":
        events = [e for e in EVENT_TYPES if ctx.form.get(f"event.{e}") == "on"]
        url = ctx.form.get("url", "").strip()
        try:
            if not url:
                raise ApiError("E011002", "Enter the URL deliveries go to.")
            webhook, secret = await create_webhook(ctx.vault, ctx.project_id, url, events)
        except ApiError as exc:
            error = exc.message
        else:
            # The signing secret is shown on this page once; only its sealed form is kept.
            return render(
                request,
                "webhook_created.html",
                ctx.page(webhook=webhook, secret=secret.reveal(), nav="webhooks"),
            )
    hooks = await ctx.vault.webhooks.all(ctx.project_id)
    return render(
        request,
        "webhooks.html",
        ctx.page(
            webhooks=hooks,
            events=EVENT_TYPES,
            error=error or _error(request),
            url=ctx.form.get("url", ""),
            notice=request.query_params.get("notice", ""),
            nav="webhooks",
        ),
        400 if error else 200,
    )


def _error(request: Request) -> str:
    """The failure an action redirected back with (shown escaped, as text)."""
    return request.query_params.get("error", "")[:600]


@console_page
async def webhook_delete(request: Request, ctx: Ctx) -> Response:
    if not await ctx.vault.webhooks.delete(ctx.project_id, ctx.form.get("id", "")):
        return redirect(
            "/console/webhooks?" + urlencode({"error": "That webhook does not exist any more."})
        )
    return redirect("/console/webhooks?notice=deleted")


@console_page
async def webhook_rotate(request: Request, ctx: Ctx) -> Response:
    rotated = await ctx.vault.webhooks.rotate(
        ctx.project_id, ctx.form.get("id", ""), DEFAULT_OVERLAP
    )
    if rotated is None:
        return redirect(
            "/console/webhooks?"
            + urlencode({"error": "Not rotated: that webhook does not exist any more."})
        )
    webhook, secret = rotated
    # The new secret is shown on this page once, as when the webhook was added.
    return render(
        request,
        "webhook_created.html",
        ctx.page(webhook=webhook, secret=secret.reveal(), overlap=DEFAULT_OVERLAP, nav="webhooks"),
    )


@console_page
async def deliveries_page(request: Request, ctx: Ctx) -> Response:
    webhook_id = request.query_params.get("id", "")
    webhook = await ctx.vault.webhooks.get(ctx.project_id, webhook_id) if webhook_id else None
    if webhook is None:
        return render(
            request,
            "message.html",
            ctx.page(
                title="Webhook not found",
                message="This webhook does not exist (any more).",
                link="/console/webhooks",
            ),
            404,
        )
    try:
        page = await ctx.vault.webhooks.deliveries(
            ctx.project_id, webhook_id, 50, request.query_params.get("cursor") or None
        )
    except InvalidCursor:
        return redirect("/console/webhooks/deliveries?" + urlencode({"id": webhook_id}))
    return render(
        request,
        "deliveries.html",
        ctx.page(
            webhook=webhook,
            page=page,
            error=_error(request),
            notice=request.query_params.get("notice", ""),
            nav="webhooks",
        ),
    )


@console_page
async def delivery_retry(request: Request, ctx: Ctx) -> Response:
    webhook_id = ctx.form.get("webhook", "")
    delivery_id = ctx.form.get("delivery", "")
    retried = await ctx.vault.webhooks.retry(ctx.project_id, webhook_id, delivery_id)
    outcome = (
        {"notice": "retrying"}
        if retried is not None
        else {"error": f"Not retried: delivery {delivery_id!r} does not exist (any more)."}
    )
    return redirect("/console/webhooks/deliveries?" + urlencode({"id": webhook_id, **outcome}))


# -- management keys -------------------------------------------------------------------------
# The console does what its credential can do through the API, no more. The API has no route
# that creates or revokes management keys (only the CLI, with the store, does), so a session
# signed in with a management key may list keys but not make or revoke them: otherwise a
# leaked key would mint a permanent one and revoke the operator's. Sessions started with
# ``outbound console-link`` come from someone with store access, who may.


def _keys_refused(request: Request, ctx: Ctx) -> Response:
    return render(
        request,
        "message.html",
        ctx.page(
            title="Keys need store access",
            message="A console session signed in with a management key cannot create or"
            " revoke management keys, as the API cannot. Run outbound console-link on the"
            " server for a session that can, or use outbound keys create / revoke.",
            link="/console/keys",
            nav="keys",
        ),
        403,
    )


@console_page
async def keys_page(request: Request, ctx: Ctx) -> Response:
    store = ctx.vault.store
    if request.method == "POST":
        if not ctx.session.store_access:
            return _keys_refused(request, ctx)
        name = ctx.form.get("name", "").strip()[:256]
        fetch_only = ctx.form.get("fetchOnly") == "on"
        _, key = await store.keys.create(ctx.project_id, name, fetch_only=fetch_only)
        # Shown this once; the store keeps only its hash.
        return render(request, "key_created.html", ctx.page(key=key, name=name, nav="keys"))
    return render(
        request,
        "keys.html",
        ctx.page(
            keys=await store.keys.all(ctx.project_id),
            current=ctx.session.key_id,
            may_manage=ctx.session.store_access,
            error=_error(request),
            notice=request.query_params.get("notice", ""),
            nav="keys",
        ),
    )


@console_page
async def key_revoke(request: Request, ctx: Ctx) -> Response:
    if not ctx.session.store_access:
        return _keys_refused(request, ctx)
    if not await ctx.vault.store.keys.revoke(ctx.project_id, ctx.form.get("id", "")):
        return redirect(
            "/console/keys?"
            + urlencode({"error": "Not revoked: that key does not exist or was revoked already."})
        )
    return redirect("/console/keys?notice=revoked")


def _digits(value: str, most: int) -> bool:
    # ASCII only: str.isdigit also accepts "²", which int() refuses
    return value.isascii() and value.isdigit() and len(value) <= most


# -- audit -----------------------------------------------------------------------------------


@console_page
async def audit_page(request: Request, ctx: Ctx) -> Response:
    params = request.query_params
    filters = {
        "action": params.get("action", ""),
        "app": params.get("app", "").strip()[:256],
        "user": params.get("user", "").strip()[:256],
        "hours": params.get("hours", ""),
    }
    cursor = params.get("cursor", "")
    page = None
    if audit.available():
        hours = filters["hours"]
        page = await audit.read(
            ctx.vault.store.db,
            ctx.project_id,
            action=filters["action"] or None,
            app_id=filters["app"] or None,
            user_id=filters["user"] or None,
            since_hours=int(hours) if _digits(hours, 5) and 0 < int(hours) < 100_000 else None,
            cursor=int(cursor) if _digits(cursor, 18) else 0,
        )
    return render(
        request,
        "audit.html",
        ctx.page(
            available=audit.available(),
            actions=audit.actions(),
            page=page,
            filters=filters,
            nav="audit",
        ),
    )
