"""Where a connect may send the browser at the end: the app's ``defaultRedirectUrl``, or a
``redirectUrl`` of the same origin (scheme, host and port); and the outcome added to it."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ...net.guard import UnsafeURL, check_url
from ...storage import AppRecord
from ..http.errors import ApiError

__all__ = ["allowed_redirect", "origin", "with_outcome"]

_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) — what two URLs must share to be the same site (RFC 6454)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        raise ApiError("E011003", "the redirect URL has an invalid port") from None
    return scheme, (parts.hostname or "").lower(), port or _DEFAULT_PORTS.get(scheme)


def allowed_redirect(app: AppRecord, requested: str | None) -> str:
    """The URL the browser is sent to at the end: ``requested`` when it has the origin of the
    app's ``defaultRedirectUrl``, else an error; absent, the default itself ('' = none)."""
    default: str = app.config.get("defaultRedirectUrl") or ""
    if not requested:
        return default
    try:  # user-info, backslashes and other schemes never pass, whatever the origin says
        check_url(requested, field="options.redirectUrl")
    except UnsafeURL as exc:
        raise ApiError("E011003", str(exc)) from None
    if not default:
        raise ApiError(
            "E011004",
            f"outbound app {app.id!r} has no defaultRedirectUrl, so no redirectUrl is allowed;"
            " set the app's defaultRedirectUrl (redirect URLs must share its origin)",
        )
    if origin(requested) != origin(default):
        raise ApiError(
            "E011004",
            "options.redirectUrl must have the origin (scheme, host and port) of the app's"
            f" defaultRedirectUrl, {_origin_text(default)}",
        )
    return requested


def _origin_text(url: str) -> str:
    scheme, host, port = origin(url)
    return f"{scheme}://{host}" + ("" if port in (None, _DEFAULT_PORTS.get(scheme)) else f":{port}")


def with_outcome(url: str, outcome: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(outcome.items())
    return urlunsplit(parts._replace(query=urlencode(query)))
