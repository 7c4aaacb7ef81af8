"""``POST /v1/outbound/oauth/token``: RFC 8693 token exchange — an agent trades the user's
access token for that user's provider token — and the RFC 8414 metadata that points to it.

The subject token obeys exactly the rules of a delegated fetch (``delegation.py``): a trusted
issuer, the fetch scope, and the user is its subject. ``audience`` names the outbound app;
``scope`` asks for a token holding at least those scopes. The project is ``client_id`` when
given, else the one project that trusts the subject token's issuer (a token whose issuer
several projects trust needs ``client_id``).

Errors are RFC 6749 §5.2 JSON: ``invalid_request``, ``unsupported_grant_type``,
``invalid_grant`` (the subject token is not acceptable), ``invalid_target`` (no such app),
``invalid_scope`` (the user's connection lacks those scopes), ``interaction_required`` (the
user has no usable connection yet: ``error_uri`` is a single-use connect link for them) and,
when the provider cannot be reached, 503 ``temporarily_unavailable``. Every answer says
``Cache-Control: no-store``.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from urllib.parse import parse_qs

import jwt
import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ...audit import caller, set_caller
from ...oauth.token_exchange import ExchangeError, ExchangeRequest, answer, metadata, parse_request
from ...storage.session_issuers import projects_trusting
from ..connect.flow import new_link
from ..http.errors import ApiError
from ..http.helpers import read_body
from ..http.wire import Connect, ConnectOptions
from ..tokens.delegation import Delegate, verify_delegate
from ..tokens.fetch import fetch_token
from ..vault import Vault

__all__ = ["METADATA_PATH", "TOKEN_PATH", "routes"]

logger = logging.getLogger("outbound.server.api.token_exchange")

TOKEN_PATH = "/v1/outbound/oauth/token"  # noqa: S105 - a path
METADATA_PATH = "/.well-known/oauth-authorization-server"
_MAX_BODY = 64 * 1024
_NO_STORE = {"cache-control": "no-store", "pragma": "no-cache"}


def _json(body: object, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(body),
        status_code=status,
        media_type="application/json",
        headers={**_NO_STORE, **(headers or {})},
    )


async def _project(vault: Vault, req: ExchangeRequest) -> str:
    if req.client_id:
        return req.client_id
    try:
        iss = jwt.decode(req.subject_token, options={"verify_signature": False}).get("iss")
    except jwt.PyJWTError:
        raise ExchangeError("invalid_grant", "the subject_token is not a well-formed JWT") from None
    found = await projects_trusting(vault.store, iss) if isinstance(iss, str) else []
    if len(found) == 1:
        return found[0]
    if not found:
        raise ExchangeError("invalid_grant", "no project trusts the subject_token's issuer")
    raise ExchangeError(
        "invalid_request", "several projects trust this issuer: give client_id (the project id)"
    )


async def _delegate(vault: Vault, request: Request, project_id: str, token: str) -> Delegate:
    if vault.session_jwks is None:
        raise ExchangeError("invalid_grant", "this server does not accept users' tokens")
    try:
        return await verify_delegate(vault.store, vault.session_jwks, project_id, token)
    except ApiError as exc:
        if exc.code == "E130401":
            client = request.client
            limited = vault.limits.unauthorized(exc, client.host if client else "", project_id)
            if limited.code == "E130429":
                raise ExchangeError(
                    "temporarily_unavailable",
                    limited.message,
                    status=429,
                ) from None
        raise ExchangeError("invalid_grant", exc.message) from None


async def _connect_link(vault: Vault, project_id: str, req: ExchangeRequest, user: str) -> str:
    """A connect link for the user; '' when none can be made (an API-key app, too many
    links in progress)."""
    options = ConnectOptions(scopes=list(req.scopes)) if req.scopes else None
    try:
        return await new_link(
            vault,
            project_id,
            Connect(app_id=req.audience, options=options),
            user_id=user,
            granted_by=user,
        )
    except ApiError as exc:
        logger.info("no connect link for a token exchange: %s", exc.message)
        return ""


async def _exchange(vault: Vault, request: Request) -> Response:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise ExchangeError(
            "invalid_request", "send the parameters as application/x-www-form-urlencoded"
        )
    try:
        raw = await read_body(request, _MAX_BODY)
        form = parse_qs(raw.decode(), keep_blank_values=True, max_num_fields=64)
    except (ApiError, UnicodeDecodeError, ValueError):
        raise ExchangeError("invalid_request", "the form is malformed or too large") from None
    req = parse_request(form)
    project_id = await _project(vault, req)
    delegate = await _delegate(vault, request, project_id, req.subject_token)
    set_caller(
        dataclasses.replace(
            caller(), actor=delegate.actor, project_id=project_id, trigger="token-exchange"
        )
    )
    body = {"appId": req.audience, "userId": delegate.subject, "scopes": list(req.scopes)}
    try:
        fetched = await fetch_token(
            vault,
            project_id,
            orjson.dumps(body),
            tenant_level=False,
            by_scopes=bool(req.scopes),
            delegate=delegate,
        )
    except ApiError as exc:
        raise await _exchange_error(vault, project_id, req, delegate, exc) from None
    token = fetched["token"]
    expiry = int(token["accessTokenExpiry"] or 0)
    return _json(
        answer(token["accessToken"], token["accessTokenType"], expiry, token["scopes"], time.time())
    )


async def _exchange_error(
    vault: Vault, project_id: str, req: ExchangeRequest, delegate: Delegate, exc: ApiError
) -> ExchangeError:
    if exc.code == "E131001":
        return ExchangeError("invalid_target", f"no outbound app {req.audience!r}")
    if exc.code == "E111504" and req.scopes:
        held = await vault.store.tokens.find(project_id, req.audience, delegate.subject, "", None)
        if held:
            return ExchangeError(
                "invalid_scope", "the user's connection does not hold all of these scopes"
            )
    if exc.code in ("E111504", "E131010"):
        link = await _connect_link(vault, project_id, req, delegate.subject)
        return ExchangeError(
            "interaction_required",
            "the user has no usable connection to this app yet: send them to error_uri"
            if link
            else "the user has no usable connection to this app yet",
            uri=link or None,
        )
    if exc.status >= 500:
        return ExchangeError("temporarily_unavailable", exc.message, status=503)
    if exc.status in (401, 403):
        return ExchangeError("invalid_grant", exc.message)
    return ExchangeError("invalid_request", exc.message)


async def token_endpoint(request: Request) -> Response:
    vault: Vault = request.app.state.vault
    try:
        return await _exchange(vault, request)
    except ExchangeError as exc:
        headers = {"retry-after": "1"} if exc.status in (429, 503) else None
        return _json(exc.to_wire(), exc.status, headers)


async def authorization_server_metadata(request: Request) -> Response:
    vault: Vault = request.app.state.vault
    base = vault.settings.effective_public_url
    return _json(metadata(base, base + TOKEN_PATH))


routes = [
    Route(TOKEN_PATH, token_endpoint, methods=["POST"]),
    Route(METADATA_PATH, authorization_server_metadata, methods=["GET"]),
]
