"""Who is signed in: the session cookie, CSRF on every form, sign-in, sign-out and the
one-time sign-in links of ``outbound console-link``.

The session cookie is HttpOnly, SameSite=Strict, scoped to ``/console``, and Secure whenever
the console is reached over https. Its value is a random secret of which the database keeps
only the hash (``storage/console_sessions.py``). Before a session exists, the sign-in forms
carry a CSRF token that must equal a cookie of their own (double submit); after, every form
carries the session's CSRF token, and a POST without it changes nothing.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ...storage.console_sessions import ABSOLUTE_TTL, ConsoleSession, ConsoleSessions
from ..http.auth import invalid_key
from ..vault import Vault
from . import audit
from .render import read_form, redirect, render

__all__ = ["COOKIE", "Ctx", "console_page", "link_page", "sign_in", "sign_in_page", "sign_out"]

COOKIE = "outbound_console"
PRE_COOKIE = "outbound_console_csrf"
PATH = "/console"


@dataclass
class Ctx:
    """A signed-in request: the vault, the project, the session and the posted form."""

    vault: Vault
    project_id: str
    session: ConsoleSession
    form: dict[str, str] = field(default_factory=dict)

    def page(self, **context: Any) -> dict[str, Any]:
        return {"csrf": self.session.csrf, "project_id": self.project_id, **context}


Page = Callable[[Request, Ctx], Awaitable[Response]]


def _vault(request: Request) -> Vault:
    vault: Vault = request.app.state.vault
    return vault


def _sessions(request: Request) -> ConsoleSessions:
    return ConsoleSessions(_vault(request).store.db)


def _secure(request: Request) -> bool:
    return request.url.scheme == "https" or _vault(
        request
    ).settings.effective_public_url.startswith("https://")


def _set_cookie(request: Request, response: Response, name: str, value: str, age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=age,
        path=PATH,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
    )


def console_page(handler: Page) -> Callable[[Request], Awaitable[Response]]:
    """A page for signed-in operators only; a POST must carry the session's CSRF token."""

    async def endpoint(request: Request) -> Response:
        session = await _sessions(request).get(request.cookies.get(COOKIE, ""))
        if session is None:
            if request.method == "GET":
                return redirect("/console/sign-in")
            return render(
                request,
                "message.html",
                {
                    "title": "Signed out",
                    "message": "Your console session has ended. Sign in again, then repeat the"
                    " action.",
                    "link": "/console/sign-in",
                },
                401,
            )
        ctx = Ctx(_vault(request), session.project_id, session)
        audit.act_as(session.project_id, session.key_id)
        if request.method == "POST":
            form = await read_form(request)
            if form is None or not hmac.compare_digest(
                form.get("csrf", "").encode(), session.csrf.encode()
            ):
                return _refused(request, ctx)
            ctx.form = form
        return await handler(request, ctx)

    return endpoint


def _refused(request: Request, ctx: Ctx | None = None) -> Response:
    return render(
        request,
        "message.html",
        {
            "title": "Form refused",
            "message": "This form was not sent from the console page it belongs to (its"
            " security token is missing or old), so nothing was changed. Reload the page and"
            " try again.",
            "link": "/console/",
            **(ctx.page() if ctx else {}),
        },
        403,
    )


# -- sign in -----------------------------------------------------------------------------------


def _pre_token(request: Request) -> str:
    return request.cookies.get(PRE_COOKIE, "") or secrets.token_urlsafe(24)


def _sign_in_form(
    request: Request, status: int = 200, error: str = "", project_id: str = ""
) -> Response:
    token = _pre_token(request)
    response = render(
        request,
        "sign_in.html",
        {"pre_csrf": token, "error": error, "project_value": project_id},
        status,
    )
    _set_cookie(request, response, PRE_COOKIE, token, 3600)
    return response


async def sign_in_page(request: Request) -> Response:
    if await _sessions(request).get(request.cookies.get(COOKIE, "")) is not None:
        return redirect("/console/")
    return _sign_in_form(request)


def _pre_checked(request: Request, form: dict[str, str] | None) -> bool:
    expected = request.cookies.get(PRE_COOKIE, "")
    sent = (form or {}).get("csrf", "")
    return bool(expected) and hmac.compare_digest(sent.encode(), expected.encode())


async def _start(request: Request, project_id: str, key_id: str) -> Response:
    secret = await _sessions(request).start(project_id, key_id)
    response = redirect("/console/")
    _set_cookie(request, response, COOKIE, secret, ABSOLUTE_TTL)
    response.delete_cookie(PRE_COOKIE, path=PATH)
    return response


async def sign_in(request: Request) -> Response:
    form = await read_form(request)
    if form is None or not _pre_checked(request, form):
        return _refused(request)
    project_id = form.get("projectId", "").strip()
    key = form.get("managementKey", "").strip()
    if not project_id or not key:
        missing = "project id" if not project_id else "management key"
        return _sign_in_form(request, 400, f"Enter the {missing}.", project_id[:64])
    vault = _vault(request)
    grant = await vault.store.keys.authenticate(project_id, key)
    if grant is None:
        client = request.client
        # The API's failed-authentication limit, counted in the same windows.
        error = vault.limits.unauthorized(invalid_key(), client.host if client else "", project_id)
        if error.retry_after is not None:
            response = _sign_in_form(
                request,
                429,
                "Too many failed sign-ins from this address or for this project. Wait"
                f" {error.retry_after} seconds, then try again.",
                project_id[:64],
            )
            response.headers["Retry-After"] = str(error.retry_after)
            return response
        return _sign_in_form(
            request, 401, "That project id and management key do not match.", project_id[:64]
        )
    if grant.fetch_only:
        return _sign_in_form(
            request,
            403,
            "This key may only fetch tokens, so it cannot sign in. Use a full management key.",
            project_id[:64],
        )
    return await _start(request, project_id, grant.key_id)


@console_page
async def sign_out(request: Request, ctx: Ctx) -> Response:
    await _sessions(request).end(request.cookies.get(COOKIE, ""))
    response = redirect("/console/sign-in")
    response.delete_cookie(COOKIE, path=PATH)
    return response


async def link_page(request: Request) -> Response:
    """The one-time sign-in link: GET shows a button (link previewers fetch links too), its
    POST uses the link up and starts a session."""
    sessions = _sessions(request)
    if request.method == "GET":
        secret = request.query_params.get("token", "")
        if not secret or not await sessions.peek_link(secret):
            return render(
                request,
                "message.html",
                {
                    "title": "Link expired",
                    "message": "This sign-in link was used already or is older than 5"
                    " minutes. Run outbound console-link again, or sign in with a management"
                    " key.",
                    "link": "/console/sign-in",
                },
                400,
            )
        token = _pre_token(request)
        response = render(request, "link.html", {"pre_csrf": token, "token": secret})
        _set_cookie(request, response, PRE_COOKIE, token, 600)
        return response
    form = await read_form(request)
    if form is None or not _pre_checked(request, form):
        return _refused(request)
    project_id = await sessions.use_link(form.get("token", ""))
    if project_id is None:
        return render(
            request,
            "message.html",
            {
                "title": "Link expired",
                "message": "This sign-in link was used already or is older than 5 minutes.",
                "link": "/console/sign-in",
            },
            400,
        )
    return await _start(request, project_id, "")
