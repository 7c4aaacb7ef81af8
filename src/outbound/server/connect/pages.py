"""The connect flow's pages — a Jinja2 template (``templates/page.html``) under the console's
strict CSP: the console's stylesheet, no inline style or script, no framing — and its
redirects. Nothing here is cached or sends a referrer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.responses import HTMLResponse, RedirectResponse, Response

from ...storage.connect_sessions import ConnectSession
from .redirects import with_outcome

__all__ = ["HEADERS", "STYLESHEET", "Form", "finish", "page", "redirect"]

_NO_STORE = {
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "Referrer-Policy": "no-referrer",
}
# The console's (console/render.py) less form-action: the consent form's POST is answered with a
# redirect to the provider, which a form-action of 'self' would block.
HEADERS = {
    **_NO_STORE,
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
}
STYLESHEET = "/console/static/console.css"

_env = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True)
class Form:
    """A page's one button: POSTs ``fields`` (hidden) to ``action``."""

    action: str
    fields: Sequence[tuple[str, str]]
    button: str


def page(title: str, message: str, status_code: int, form: Form | None = None) -> Response:
    """A small HTML page: a title, a message and at most one form, every value escaped."""
    text = _env.get_template("page.html").render(
        title=title, message=message, form=form, stylesheet=STYLESHEET
    )
    return HTMLResponse(text, status_code=status_code, headers=HEADERS)


def redirect(url: str) -> Response:
    return RedirectResponse(url, status_code=302, headers=_NO_STORE)


def finish(session: ConnectSession, outcome: dict[str, str]) -> Response:
    """Send the browser to the app with the outcome, or show it when the app has nowhere."""
    if session.redirect_url:
        return redirect(with_outcome(session.redirect_url, outcome))
    if outcome.get("status") == "success":
        return page("Connected", "The connection is set up. You can close this window.", 200)
    return page(
        "Connection failed",
        f"The connection was not set up ({outcome.get('error', 'error')}). You can close this"
        " window and try again from the app.",
        400,
    )
