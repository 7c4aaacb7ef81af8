"""Every failure the API can answer, as one JSON shape with a documented error code.

``ApiError`` is the root; handlers raise it (or a subclass), and :func:`error_answer` turns it —
or a storage outage, a secret that fails to decrypt, any unexpected exception — into the
answer ``{"errorCode", "errorDescription", "errorMessage"}``, for the fetch hot path, the
Starlette exception handlers and the catch-all alike. ``ERROR_CODES`` is the table the README
documents (a test checks the two agree).
"""

from __future__ import annotations

import logging
import traceback
from dataclasses import dataclass

import orjson

from ...crypto import DecryptionError
from ...storage import StorageUnavailable

__all__ = ["ERROR_CODES", "ApiError", "ErrorCode", "error_answer"]

logger = logging.getLogger("outbound.server")


@dataclass(frozen=True)
class ErrorCode:
    code: str
    status: int
    description: str


def _table(*codes: ErrorCode) -> dict[str, ErrorCode]:
    return {code.code: code for code in codes}


ERROR_CODES = _table(
    ErrorCode("E011001", 400, "Bad request: the body is not valid JSON or not a JSON object"),
    ErrorCode("E011002", 400, "Missing arguments: a required field is absent or empty"),
    ErrorCode("E011003", 400, "Validation failure: a field has the wrong type, size or format"),
    ErrorCode("E011004", 400, "Invalid arguments: the fields are well-formed but inconsistent"),
    ErrorCode("E111504", 404, "Token not found"),
    ErrorCode(
        "E130401",
        401,
        "Unauthorized: missing, malformed, unknown or revoked management key, or a user's"
        " token (on /v1/outbound/oauth/connect and the fetch paths) that fails verification",
    ),
    ErrorCode(
        "E130403",
        403,
        "Forbidden: the credentials are valid but do not allow this request (a fetch-only"
        " management key used for anything but fetching access tokens of its apps, or asking"
        " for the refresh token with withRefreshToken; a user's token"
        " without the fetch scope, fetching another subject's or tenant's tokens, or without"
        " the role or permission a tenant-level connection or fetch needs)",
    ),
    ErrorCode("E130404", 404, "No such endpoint"),
    ErrorCode("E130405", 405, "Method not allowed on this endpoint"),
    ErrorCode(
        "E130408",
        408,
        "Request body not received in time (--body-timeout, --body-min-rate); the connection"
        " is closed",
    ),
    ErrorCode("E130413", 413, "Request body too large"),
    ErrorCode(
        "E130421",
        421,
        "Misdirected request: the Host header names a host this server does not serve"
        " (--public-url, --allowed-hosts)",
    ),
    ErrorCode(
        "E130429",
        429,
        "Rate limited: retry after the number of seconds in Retry-After (too many failed"
        " authentications from one address or against one project, too many connect links in"
        " progress, too many connections from one client address, or the optional per-key"
        " request limit)",
    ),
    ErrorCode("E130431", 431, "Request header fields too many or too large"),
    ErrorCode("E130500", 500, "Internal error (logged on the server without secrets)"),
    ErrorCode(
        "E130503",
        503,
        "Storage unavailable: the database could not be reached or dropped the connection"
        " (restart, failover, a lock held too long); nothing was half-written, retry after"
        " Retry-After",
    ),
    ErrorCode("E131001", 404, "Outbound app not found"),
    ErrorCode("E131002", 409, "An outbound app with this id or name already exists"),
    ErrorCode("E131003", 404, "Provider template not found"),
    ErrorCode(
        "E131010",
        409,
        "Reconnect required: the provider rejected the refresh token (revoked consent,"
        " invalid_grant) or the token expired with no way to refresh it; or the refresh was not"
        " sent because the app's token endpoint moved to an origin its client secret was not"
        " entered for (give the secret again)",
    ),
    # 502, not 503: the official Descope SDKs retry a 503 three times over ten seconds, and
    # each retry would ask the failing provider again.
    ErrorCode(
        "E131011",
        502,
        "Provider unavailable: refreshing at the provider failed transiently; nothing stored"
        " was lost, retry later",
    ),
    ErrorCode(
        "E131014",
        409,
        "The app's OAuth configuration does not work with its provider (no token URL, the"
        " discovery document names another issuer, …): fix the app; reconnecting will not help",
    ),
    ErrorCode(
        "E131015",
        400,
        "verifyRefresh: the provider rejected the uploaded refresh token; nothing was stored",
    ),
    ErrorCode(
        "E131020",
        409,
        "Proxy: the app has no API base URL (apiBaseUrl, or its template's); set one to call"
        " its provider's API through the vault",
    ),
    ErrorCode(
        "E131021",
        400,
        "Proxy: the path or query is not a plain relative path under the app's API base URL"
        " ('..', '//', '\\', encoded separators, a scheme or user-info); nothing was sent",
    ),
    ErrorCode(
        "E131022",
        502,
        "Proxy: the provider could not be reached (connection failed, its address is refused"
        " by the network guard, or its answer broke off)",
    ),
    ErrorCode(
        "E131024",
        504,
        "Proxy: the provider did not answer within --proxy-timeout (retries included)",
    ),
    ErrorCode(
        "E131016",
        400,
        "GitHub refused the installation for this GitHub App (another app's, or uninstalled);"
        " nothing was stored",
    ),
    ErrorCode("E131030", 404, "Webhook not found"),
    ErrorCode(
        "E131040",
        404,
        "Device connect not found (unknown, of another project, or ended over an hour ago)",
    ),
    ErrorCode("E131031", 404, "Webhook delivery not found"),
    ErrorCode(
        "E131013",
        500,
        "A stored secret failed to decrypt: the master key is not the one it was sealed with,"
        " or the row was altered; nothing was returned",
    ),
)


class ApiError(Exception):
    """An error answer: status and error code from the table, plus a message for humans."""

    def __init__(self, code: str, message: str, *, retry_after: int | None = None) -> None:
        entry = ERROR_CODES[code]
        super().__init__(message)
        self.code = code
        self.status = entry.status
        self.description = entry.description
        self.message = message
        self.retry_after = retry_after

    def to_wire(self) -> dict[str, str]:
        return {
            "errorCode": self.code,
            "errorDescription": self.description,
            "errorMessage": self.message,
        }


def storage_unavailable() -> ApiError:
    return ApiError("E130503", "the database is unavailable for the moment; retry", retry_after=1)


def not_found_token() -> ApiError:
    return ApiError("E111504", "no token matches this app and owner")


def fetch_only_key(app_id: str | None = None) -> ApiError:
    if app_id is not None:
        return ApiError(
            "E130403", f"this management key may not fetch tokens of outbound app {app_id!r}"
        )
    return ApiError(
        "E130403",
        "this management key may only fetch tokens; use a full management key for this request",
    )


def app_not_found(app_id: str) -> ApiError:
    return ApiError("E131001", f"outbound app {app_id!r} not found")


Headers = list[tuple[bytes, bytes]]


def _as_api_error(exc: BaseException, method: str, path: str) -> ApiError:
    """The API error that answers ``exc``, logged as the operator needs it (never a secret)."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, StorageUnavailable):
        logger.warning("storage unavailable in %s %s: %s", method, path, exc)
        return storage_unavailable()
    if isinstance(exc, DecryptionError):
        # Never says which secret or why beyond the key id: the operator needs to know the
        # master key or the row is wrong, the caller only that nothing usable came back.
        logger.error("a stored secret failed to decrypt in %s %s: %s", method, path, exc)
        return ApiError("E131013", "a stored secret could not be decrypted")
    # Type and stack only: a driver error may quote a row, and a row may hold a secret.
    logger.error(
        "unhandled %s in %s %s\n%s",
        type(exc).__name__,
        method,
        path,
        "".join(traceback.format_tb(exc.__traceback__)),
    )
    return ApiError("E130500", "internal error; the server log has details")


def error_answer(exc: BaseException, method: str, path: str) -> tuple[int, Headers, bytes]:
    """The status, headers and JSON body that answer ``exc`` (raised in ``method path``)."""
    error = _as_api_error(exc, method, path)
    headers: Headers = [(b"content-type", b"application/json")]
    if error.retry_after is not None:
        headers.append((b"retry-after", str(error.retry_after).encode()))
    return error.status, headers, orjson.dumps(error.to_wire())
