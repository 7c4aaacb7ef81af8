"""Cross-site request defence for the connect link's Continue button (login CSRF).

The attack: someone makes a connect link for *their own* user id and submits its Continue
form from a page of theirs in a victim's browser. Without a defence the victim gets the flow's
cookie, consents at the provider (or the provider approves silently, as it does for a
signed-in user who consented before), and the victim's provider account is stored under the
attacker's user id.

Two defences, each enough against a current browser:

1. **Where the POST comes from.** A browser says so: ``Sec-Fetch-Site: cross-site`` (a page of
   another site) or an ``Origin`` that is not this server's public origin (any other page,
   including ``null`` from sandboxed or opaque contexts) is refused. Clients that send neither
   header are not browsers acting on a page's behalf.
2. **A per-link form token that only the link page reveals.** The page's GET hands this
   browser a random token twice: in a cookie (HttpOnly, SameSite=Strict, path of the start
   endpoint, named after the link) and in the form's hidden ``form`` field. The POST must carry
   both, equal. Another site's page can learn neither: it cannot read our page (no CORS, no
   framing) and a SameSite=Strict cookie is not sent with its cross-site POST.

The link page's GET stays free of side effects on the server: it reads the link and writes
nothing (the link is used up only by the POST), because mail and chat previewers fetch links
and must not spend them. Handing a token to whoever fetches the page is no side effect: the
token is worth nothing without the browser's own cookie, and a previewer's copy binds only
the previewer.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

__all__ = ["FORM_FIELD", "cross_site", "form_token", "form_token_matches", "set_form_cookie"]

FORM_FIELD = "form"
_COOKIE_PREFIX = "outbound_link_"


def _cookie_name(link_id: str) -> str:
    # one per link: two links opened side by side in one browser keep their own tokens
    return _COOKIE_PREFIX + hashlib.sha256(link_id.encode()).hexdigest()[:16]


_DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin(url: str) -> tuple[str, str, int | None] | None:
    """(scheme, host, port) of a URL or an Origin header (RFC 6454); None for ``null`` and
    anything unparseable."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    return scheme, parts.hostname.lower(), port or _DEFAULT_PORTS[scheme]


def cross_site(request: Request, public_url: str) -> bool:
    """True when the browser says the POST comes from another site or another origin."""
    if request.headers.get("sec-fetch-site", "").lower() == "cross-site":
        return True
    sent = request.headers.get("origin")
    return sent is not None and (_origin(sent) is None or _origin(sent) != _origin(public_url))


def form_token(request: Request, link_id: str) -> str:
    """The token of this browser for ``link_id``: the one its cookie holds (a second tab of
    the same link keeps working), else a new one."""
    held = request.cookies.get(_cookie_name(link_id), "")
    return held if 20 <= len(held) <= 64 else secrets.token_urlsafe(32)


def set_form_cookie(
    response: Response, link_id: str, token: str, *, path: str, max_age: int, secure: bool
) -> None:
    response.set_cookie(
        _cookie_name(link_id),
        token,
        max_age=max_age,
        path=path,
        secure=secure,
        httponly=True,
        samesite="strict",
    )


def form_token_matches(request: Request, link_id: str, sent: str) -> bool:
    """The posted ``form`` field equals this browser's cookie for the link."""
    held = request.cookies.get(_cookie_name(link_id), "")
    return bool(held) and bool(sent) and hmac.compare_digest(held.encode(), sent.encode())
