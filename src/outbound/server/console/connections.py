"""Console pages for an app's connections: a filtered keyset-paginated list, refresh now,
delete (revoking at the provider), and connect links for users.

The list reads ``storage/connections.py`` — only the non-secret columns, one index range per
page — so an app with a million tokens pages as fast as one with ten.
"""

from __future__ import annotations

from urllib.parse import urlencode

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from ...storage import TokenRecord
from ...storage.connections import InvalidCursor, list_connections
from ..connect.flow import new_link
from ..http.errors import ApiError
from ..http.wire import Connect
from ..tokens.revoke import Revocation, revoke_deleted
from ..tokens.verify import verify_connection
from .render import redirect, render
from .session import Ctx, console_page

PAGE_SIZE = 50
STATUSES = ("active", "refresh_failing", "reconnect_required")
NOTICES = {
    "refreshed": "Refreshed at the provider.",
    "too-early": "Not refreshed: the provider does not allow refreshing this token yet"
    " (it is still valid).",
    "deleted": "Connection deleted; its tokens were revoked at the provider.",
    "deleted-unrevocable": "Connection deleted. The provider has no revocation endpoint:"
    " its tokens stay valid there until they expire.",
    "deleted-local": "Connection deleted (an uploaded API key: nothing to revoke at a provider).",
    "gone": "That connection does not exist any more.",
}


def deleted_notice(revocation: Revocation) -> tuple[str, str]:
    """The (notice, error) that tells what deleting and revoking came to."""
    if revocation.failed:
        return "", (
            "Deleted here, but revoking at the provider failed: "
            f"{revocation.failure()}. The tokens stay valid there until they expire or the user"
            " withdraws consent."
        )
    if revocation.unsupported:
        return "deleted-unrevocable", ""
    if revocation.revoked:
        return "deleted", ""
    return "deleted-local", ""


def _back(app_id: str, **extra: str) -> str:
    return "/console/connections?" + urlencode({"app": app_id, **extra})


@console_page
async def connections_page(request: Request, ctx: Ctx) -> Response:
    params = request.query_params
    app_id = params.get("app", "")
    app = await ctx.vault.store.apps.get(ctx.project_id, app_id) if app_id else None
    if app is None:
        return render(
            request,
            "message.html",
            ctx.page(
                title="App not found",
                message="Pick an app from the list to see its connections.",
                link="/console/apps",
            ),
            404,
        )
    status = params.get("status", "")
    user = params.get("user", "").strip()[:256]
    error = ""
    try:
        page = await list_connections(
            ctx.vault.store.db,
            ctx.project_id,
            app_id=app_id,
            user_id=user or None,
            status=status if status in STATUSES else None,
            limit=PAGE_SIZE,
            cursor=params.get("cursor") or None,
        )
    except InvalidCursor:
        return redirect(_back(app_id))
    notice = NOTICES.get(params.get("notice", ""), "")
    if params.get("verified"):
        notice = f"Verified with the provider: this connection is {params['verified'][:300]}."
    if params.get("error"):
        error = params["error"][:600]
    return render(
        request,
        "connections.html",
        ctx.page(
            app=app,
            page=page,
            status=status if status in STATUSES else "",
            user=user,
            statuses=STATUSES,
            flash=notice,
            error=error,
            nav="apps",
        ),
    )


async def _token(ctx: Ctx) -> TokenRecord | None:
    token_id = ctx.form.get("token", "")
    return await ctx.vault.store.tokens.get(ctx.project_id, token_id) if token_id else None


@console_page
async def refresh(request: Request, ctx: Ctx) -> Response:
    token = await _token(ctx)
    app_id = ctx.form.get("app", "")
    if token is None:
        return redirect(_back(app_id, notice="gone"))
    try:
        refreshed = await ctx.vault.tokens.refresh_now(token)
    except ApiError as exc:
        return redirect(
            _back(token.app_id, error=f"The refresh failed ({exc.code}): {exc.message}")
        )
    notice = "too-early" if refreshed.version == token.version else "refreshed"
    return redirect(_back(token.app_id, notice=notice))


@console_page
async def verify(request: Request, ctx: Ctx) -> Response:
    """Ask the provider whose account the connection is (tokens/verify.py)."""
    token = await _token(ctx)
    app_id = ctx.form.get("app", "")
    if token is None:
        return redirect(_back(app_id, notice="gone"))
    result = await verify_connection(ctx.vault, ctx.project_id, token.id)
    if result.ok:
        who = result.account or ""
        if result.account_id and result.account_id != result.account:
            who = f"{who} (id {result.account_id})"
        return redirect(_back(token.app_id, verified=who))
    return redirect(_back(token.app_id, error=f"Verification failed: {result.error}"))


@console_page
async def delete(request: Request, ctx: Ctx) -> Response:
    token = await _token(ctx)
    app_id = ctx.form.get("app", "")
    if token is None:
        return redirect(_back(app_id, notice="gone"))
    deleted = await ctx.vault.store.tokens.delete(ctx.project_id, token.id)
    if deleted is None:
        return redirect(_back(token.app_id, notice="gone"))
    notice, error = deleted_notice(await revoke_deleted(ctx.vault.providers, [deleted]))
    return redirect(_back(token.app_id, **({"notice": notice} if notice else {"error": error})))


@console_page
async def connect_link(request: Request, ctx: Ctx) -> Response:
    app_id = ctx.form.get("app", "")
    user_id = ctx.form.get("userId", "").strip()
    tenant_id = ctx.form.get("tenantId", "").strip()
    if not user_id and not tenant_id:
        return redirect(_back(app_id, error="Enter the user id to make a connect link for."))
    try:
        req = msgspec.convert(
            {
                "appId": app_id,
                "userId": user_id or None,
                "tenantId": tenant_id or None,
                "tenantLevel": not user_id,
            },
            Connect,
        )
        url = await new_link(ctx.vault, ctx.project_id, req, user_id=user_id)
    except msgspec.ValidationError as exc:
        return redirect(_back(app_id, error=f"No link was made: {exc}"))
    except ApiError as exc:
        return redirect(_back(app_id, error=f"No link was made: {exc.message}"))
    return render(
        request,
        "connect_link.html",
        ctx.page(app_id=app_id, user_id=user_id, tenant_id=tenant_id, url=url, nav="apps"),
    )
