"""``POST /v1/outbound/oauth/connect``: the end user's browser asks for its own connect link.

The browser authenticates with ``Authorization: Bearer <projectId>:<sessionJwt>``, a session
token from one of the sign-in services the project trusts
(``outbound projects set-session-issuer``), picked by the token's ``iss``. The link is made
exactly as for the management endpoint (``connect.new_link``), for the token's ``sub`` as the
user id.

A session token proves who the user is, nothing about their tenants: ``tenantId`` is allowed
only when the token's ``tenants`` claim (Descope's form: an object keyed by tenant id, or a
list of ids) names that tenant. Connecting a whole tenant (``tenantLevel``) acts for everyone
in it, so it also needs the role or permission the operator configured
(``--tenant-role`` / ``--tenant-permission``) in that tenant's entry of the claim — or, for
issuers whose ``tenants`` claim is a plain list, in the token's top-level ``roles`` /
``permissions``. Without one configured, tenant-level connections from the browser are
refused (403). The token's ``sub`` is recorded as the connection's ``grantedBy``.
"""

from __future__ import annotations

import dataclasses
import logging

from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from ...audit import caller, set_caller
from ..http.errors import ApiError
from ..http.helpers import body, json_response
from ..http.session_jwt import JwksCache, SessionTokenError, verify_session_token
from ..http.wire import PRINTABLE_ID, Connect
from ..tokens.delegation import require_tenant_admin, tenant_ids, trusted_issuer
from ..vault import Vault
from .flow import new_link

__all__ = ["SESSION_CONNECT_PATH", "SessionConnectCORS", "routes"]

logger = logging.getLogger("outbound.server.connect.session_connect")

_MAX_HEADER = 16 * 1024
_USAGE = "send Authorization: Bearer <projectId>:<sessionJwt>"


def _jwks(request: Request) -> JwksCache:
    state = request.app.state
    cache: JwksCache | None = getattr(state, "session_jwks", None)
    if cache is None:
        cache = state.session_jwks = JwksCache(network=state.vault.network)
    return cache


def _credentials(header: str) -> tuple[str, str]:
    if not header or len(header) > _MAX_HEADER:
        raise ApiError("E130401", _USAGE)
    scheme, _, credentials = header.partition(" ")
    project_id, sep, token = credentials.strip().partition(":")
    if scheme.lower() != "bearer" or not sep or not project_id or not token:
        raise ApiError("E130401", _USAGE)
    return project_id, token


async def session_connect(request: Request) -> Response:
    vault: Vault = request.app.state.vault
    project_id, token = _credentials(request.headers.get("authorization", ""))
    # The same answer for an unknown project as for one without issuers: this is public.
    issuer = await trusted_issuer(vault.store, project_id, token)
    try:
        claims = await verify_session_token(token, issuer, _jwks(request))
    except SessionTokenError as exc:
        logger.info("session connect refused for project %s: %s", project_id, exc)
        raise ApiError("E130401", str(exc)) from None
    user_id: str = claims["sub"]
    if not PRINTABLE_ID.match(user_id):
        # It becomes the user id: the same rule as for user ids sent by management calls.
        raise ApiError(
            "E130401",
            "the session token's subject (sub) has control or bidirectional-override characters",
        )
    set_caller(dataclasses.replace(caller(), actor=f"session:{user_id}", project_id=project_id))
    req = await body(request, Connect)
    if req.user_id and req.user_id != user_id:
        raise ApiError(
            "E011004", "userId must be left out: it is the session token's subject (sub)"
        )
    if req.tenant_id and req.tenant_id not in tenant_ids(issuer, claims):
        raise ApiError(
            "E130401", f"the session token does not name tenant {req.tenant_id!r} in its tenants"
        )
    if req.tenant_level and req.tenant_id:
        require_tenant_admin(issuer, claims, req.tenant_id, "connect")
    url = await new_link(vault, project_id, req, user_id=user_id, granted_by=user_id)
    return json_response({"url": url})


SESSION_CONNECT_PATH = "/v1/outbound/oauth/connect"

routes = [Route(SESSION_CONNECT_PATH, session_connect, methods=["POST"])]


class SessionConnectCORS:
    """CORS for the one endpoint browsers call, and for no other.

    The management API is for backends: answering CORS there would only widen what a page
    holding a leaked management key could do.
    """

    def __init__(self, app: ASGIApp, origins: list[str]) -> None:
        self.app = app
        self.cors = CORSMiddleware(
            app,
            allow_origins=origins,
            allow_methods=["POST"],
            allow_headers=["authorization", "content-type"],
            max_age=600,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == SESSION_CONNECT_PATH:
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)
