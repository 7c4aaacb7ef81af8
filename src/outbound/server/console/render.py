"""Pages out, forms in: the console's Jinja2 environment, its strict headers, form parsing.

Every page carries the connect pages' headers and a CSP that allows only this server's own
stylesheet and script: no inline script or style, no framing, no referrer.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from ..http.errors import ApiError
from ..http.helpers import read_capped

__all__ = ["HEADERS", "STATIC_DIR", "ago", "read_form", "redirect", "render"]

_HERE = Path(__file__).parent
STATIC_DIR = _HERE / "static"
MAX_FORM = 64 * 1024

# (X-Content-Type-Options: nosniff is added to every answer by ``guard.py``.)
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self';"
        " form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
}


def ago(epoch: int, now: float | None = None) -> str:
    """'3 min ago', 'in 2 h': times as an operator reads them."""
    if not epoch:
        return "never"
    delta = int((now or time.time()) - epoch)
    future, delta = delta < 0, abs(delta)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if delta >= size:
            text = f"{delta // size} {unit}"
            break
    else:
        text = f"{delta} s"
    return f"in {text}" if future else f"{text} ago"


def _utc(epoch: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(epoch)) if epoch else ""


_env = Environment(
    loader=FileSystemLoader(_HERE / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters["ago"] = ago
_env.filters["utc"] = _utc
_env.globals["qs"] = lambda **values: urlencode({k: v for k, v in values.items() if v})


def render(
    request: Request, template: str, context: Mapping[str, Any], status_code: int = 200
) -> Response:
    text = _env.get_template(template).render(request=request, **context)
    return HTMLResponse(text, status_code=status_code, headers=HEADERS)


def redirect(url: str) -> Response:
    # 303: the browser follows a form's POST with a GET.
    return RedirectResponse(url, status_code=303, headers=HEADERS)


async def read_form(request: Request) -> dict[str, str] | None:
    """An urlencoded form's fields (the first value of each); None when it is too large or
    not a form."""
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return None
    try:
        raw = await read_capped(request.receive, MAX_FORM)
    except ApiError:  # too large
        return None
    try:
        parsed = parse_qs(raw.decode("utf-8"), keep_blank_values=True, max_num_fields=100)
    except (UnicodeDecodeError, ValueError):
        return None
    return {key: values[0] for key, values in parsed.items()}
