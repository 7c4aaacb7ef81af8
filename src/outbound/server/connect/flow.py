"""Connecting a user (or tenant) to a provider: link → consent page → callback → app.

1. The app's backend asks for a link (management key): ``POST /v1/mgmt/outbound/app/connect``
   answers ``{"url"}`` — single use, valid ten minutes, bound to the app, owner, scopes and
   redirect URL. Only a hash of it is stored.
2. The user's browser opens it: a small page names the app (and the account) with one
   button, ``continue``. Opening the link (a GET) changes nothing stored — chat and mail
   previewers that fetch links do not use them up. Pressing the button POSTs the link back,
   with the page's form token, from this server's own page (``link_guard.py``: other sites
   cannot press it for the user): only then is it used up, and the server redirects to the
   provider's authorization endpoint with a fresh ``state`` (256 bits, single use, bound to
   the link, stored hashed) and a PKCE S256 challenge (the verifier is stored sealed), setting
   a cookie (HttpOnly, SameSite=Lax, Secure behind https) whose hash is bound to the state.
3. The provider sends the browser back to the callback of the app's project,
   ``/v1/outbound/oauth/callback/{projectId}`` (apps created before that keep the shared
   ``/v1/outbound/oauth/callback``), which must be the one the flow was started with. The
   callback must carry that cookie (a consent finished in another browser fails cleanly),
   the state is used up, ``iss`` is checked (RFC 9207), the code is exchanged once and the
   token stored.
4. The browser lands on the app's redirect URL with ``status=success`` or ``error=…``.

Redirect URLs must share the origin of the app's ``defaultRedirectUrl``: the vault never sends
a browser (and an outcome) to a site the app's owner did not configure. Nothing secret goes
into a redirect URL or a log line; pages that carry secrets in their URL are not cached and
send no referrer.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ...audit import event
from ...oauth import (
    OAuthConfigError,
    OAuthError,
    PermanentOAuthError,
    TokenSet,
    TransientOAuthError,
    check_callback,
)
from ...oauth.pkce import new_verifier, s256_challenge
from ...secret import Secret
from ...storage import TokenWrite
from ...storage.connect_sessions import ConnectSession, ConnectSessions, TooManyPending
from ..http.errors import ApiError, app_not_found
from ..http.helpers import authed, body, json_response, read_capped
from ..http.wire import Connect, require, require_new_id
from ..tokens.providers import oauth_error_text, require_oauth_app
from ..vault import CALLBACK_PATH, Vault
from .link_guard import FORM_FIELD, cross_site, form_token, form_token_matches, set_form_cookie
from .pages import Form, finish, page, redirect
from .redirects import allowed_redirect

__all__ = ["LINK_TTL", "STATE_TTL", "new_link", "routes"]

logger = logging.getLogger("outbound.server.connect.flow")

# A connect link is valid this long; so is the consent step once the link is opened.
LINK_TTL = 600
STATE_TTL = 600
START_PATH = "/v1/outbound/oauth/start"

_ERROR_CODE = re.compile(r"[^A-Za-z0-9_.-]")


def _sessions(vault: Vault) -> ConnectSessions:
    return ConnectSessions(vault.store)


def _error_code(error: str) -> str:
    return _ERROR_CODE.sub("", error)[:64] or "server_error"


# -- 1. the link -----------------------------------------------------------------------------


async def create_link(request: Request) -> Response:
    vault, project_id = await authed(request)
    req = await body(request, Connect)
    require(req.app_id, "appId")
    user_id = "" if req.tenant_level else require(req.user_id, "userId")
    flow = req.options.flow if req.options is not None else None
    if flow is None:
        # an app whose grantType is device_code connects by the device flow unless told not to
        app = await vault.store.apps.get(project_id, req.app_id or "")
        flow = "device" if app is not None and app.config.get("grantType") == "device_code" else ""
    if flow == "device":
        return json_response(await _device(vault, project_id, req, user_id=user_id))
    return json_response({"url": await new_link(vault, project_id, req, user_id=user_id)})


async def _device(vault: Vault, project_id: str, req: Connect, *, user_id: str) -> dict[str, Any]:
    """A device-flow connect (``device.py``), after the same checks as a link's."""
    from .device import start_device_connect

    app_id = require(req.app_id, "appId")
    if req.tenant_level:
        user_id, tenant_id = "", require(req.tenant_id, "tenantId")
    else:
        tenant_id = req.tenant_id or ""
    if tenant_id:
        require_new_id(tenant_id, "tenantId")
    app = await vault.store.apps.get(project_id, app_id)
    if app is None:
        raise app_not_found(app_id)
    require_oauth_app(app)
    return await start_device_connect(
        vault, project_id, req, user_id=user_id, tenant_id=tenant_id, granted_by=user_id
    )


async def new_link(
    vault: Vault, project_id: str, req: Connect, *, user_id: str, granted_by: str | None = None
) -> str:
    """A connect link for ``req`` (its ``userId`` already decided by the caller: the
    management request's own, or a session token's ``sub``); the URL the browser opens.
    ``granted_by`` is recorded on the token (default: the user)."""
    app_id = require(req.app_id, "appId")
    if req.tenant_level:
        user_id, tenant_id = "", require(req.tenant_id, "tenantId")
    else:
        tenant_id = req.tenant_id or ""
    if tenant_id:
        require_new_id(tenant_id, "tenantId")
    options = req.options
    app = await vault.store.apps.get(project_id, app_id)
    if app is None:
        raise app_not_found(app_id)
    require_oauth_app(app)
    config = app.config
    redirect_url = allowed_redirect(app, options.redirect_url if options else None)
    if config.get("useDcr"):
        # The app registers its own client at its first link (once, however many race).
        from .dcr import ensure_client

        await ensure_client(vault, app)
    elif not config.get("clientId") and not config.get("templateId"):
        raise ApiError("E011004", f"outbound app {app_id!r} has no clientId; update the app")
    settings = vault.settings
    try:
        link_id = await _sessions(vault).create(
            project_id=project_id,
            app_id=app_id,
            user_id=user_id,
            tenant_id=tenant_id,
            external_identifier=(options.external_identifier if options else None) or "",
            scopes=list(dict.fromkeys((options.scopes if options else None) or [])),
            redirect_url=redirect_url,
            ttl=LINK_TTL,
            granted_by=user_id if granted_by is None else granted_by,
            max_per_owner=settings.connect_pending_per_user,
            max_per_project=settings.connect_pending_per_project,
            metadata=options.metadata if options else None,
        )
    except TooManyPending as exc:
        who = "this user (or tenant)" if exc.scope == "owner" else "this project"
        raise ApiError(
            "E130429",
            f"{who} has as many connections in progress as allowed; finish or let some expire"
            f" (links live {LINK_TTL // 60} minutes)",
            retry_after=exc.retry_after,
        ) from None
    return f"{vault.settings.effective_public_url}{START_PATH}?{urlencode({'link': link_id})}"


# -- 2. the browser opens it -----------------------------------------------------------------


async def _granted_scopes(vault: Vault, session: ConnectSession) -> list[str]:
    tokens = await vault.store.tokens.find(
        session.project_id,
        session.app_id,
        session.user_id,
        session.tenant_id,
        session.external_identifier,
    )
    return tokens[0].scopes if tokens else []


_LINK_EXPIRED = (
    "This connect link is unknown, has expired or was already used. Go back to the app and"
    " start connecting again."
)
_MAX_FORM = 4096
COOKIE_PREFIX = "outbound_connect_"


def browser_cookie(state: str) -> str:
    """The cookie name for the flow of ``state``: one per flow, so two connections started
    side by side in one browser do not overwrite each other's cookie."""
    return COOKIE_PREFIX + hashlib.sha256(state.encode()).hexdigest()[:16]


async def start_page(request: Request) -> Response:
    """GET of a link: say what it connects, change nothing (previewers fetch links too)."""
    vault: Vault = request.app.state.vault
    link_id = request.query_params.get("link", "")
    session = await _sessions(vault).peek_link(link_id) if link_id else None
    app = await vault.store.apps.get(session.project_id, session.app_id) if session else None
    if session is None or app is None:
        return page("Link expired", _LINK_EXPIRED, 400)
    if session.user_id:
        account = f" for the account {session.user_id}"
    else:
        account = f" for the organisation {session.tenant_id}" if session.tenant_id else ""
    token = form_token(request, link_id)
    form = Form(START_PATH, (("link", link_id), (FORM_FIELD, token)), "Continue")
    response = page(
        f"Connect {app.name}",
        f"You are about to connect {app.name}{account}. Continue to sign in with the provider"
        " and approve the access the app asks for.",
        200,
        form,
    )
    # The form's POST must carry its true Origin (link_guard.py): under no-referrer a browser
    # sends "Origin: null". same-origin still sends the link's URL to no other site.
    response.headers["Referrer-Policy"] = "same-origin"
    set_form_cookie(
        response,
        link_id,
        token,
        path=START_PATH,
        max_age=LINK_TTL,
        secure=vault.settings.effective_public_url.startswith("https:"),
    )
    return response


_OTHER_SITE = (
    "This button was pressed on a page of another site, not on this server's own connect"
    " page, so nothing was started. If you meant to connect, open the link the app gave you"
    " and press Continue there."
)
_OTHER_PAGE = (
    "This form did not come from the connect page as this browser opened it (its form token"
    " is missing or old), so nothing was started. Open the link the app gave you again and"
    " press Continue there."
)


async def _form(request: Request) -> dict[str, str]:
    """The posted form's ``link`` and ``form`` fields ({} when too large or malformed)."""
    try:
        raw = await read_capped(request.receive, _MAX_FORM)
        fields = parse_qs(raw.decode("latin-1"), max_num_fields=8)
    except (ApiError, ValueError):  # too large, too many fields
        return {}
    return {name: values[0] for name, values in fields.items() if name in ("link", FORM_FIELD)}


async def start(request: Request) -> Response:
    """POST of the page's form: use the link up, bind the flow to this browser, go to the
    provider."""
    vault: Vault = request.app.state.vault
    providers = vault.providers
    if cross_site(request, vault.settings.effective_public_url):
        return page("Not from this site", _OTHER_SITE, 403)
    form = await _form(request)
    link_id = form.get("link", "")
    sessions = _sessions(vault)
    session = await sessions.peek_link(link_id) if link_id else None
    if session is None:
        return page("Link expired", _LINK_EXPIRED, 400)
    if not form_token_matches(request, link_id, form.get(FORM_FIELD, "")):
        return page("Form refused", _OTHER_PAGE, 403)
    try:
        app, _ = await providers.app(session.project_id, session.app_id)
        config = await providers.resolved(session.project_id, session.app_id)
    except ApiError:
        return page("Link expired", "The app this link was made for no longer exists.", 404)
    except TransientOAuthError as exc:
        logger.warning("connect: the provider's metadata is unavailable: %s", oauth_error_text(exc))
        return page(
            "Provider unavailable",
            "The provider cannot be reached right now. Go back and press Continue again in a"
            " moment (or reload this page).",
            503,
        )
    except OAuthError as exc:
        logger.warning("connect: the app's provider configuration fails: %s", oauth_error_text(exc))
        return finish(session, {"error": "server_error"})
    requested = session.scopes or list(config.default_scopes)
    scopes = list(dict.fromkeys([*requested, *await _granted_scopes(vault, session)]))
    state = Secret(_new_state())
    verifier = Secret(new_verifier()) if config.pkce else None
    browser = Secret(secrets.token_urlsafe(32))
    redirect_uri = vault.app_callback_url(app)
    try:
        url = providers.client.authorization_url(
            config,
            redirect_uri=redirect_uri,
            state=state.reveal(),
            scopes=scopes,
            code_challenge=s256_challenge(verifier.reveal()) if verifier else None,
        )
    except OAuthError as exc:
        logger.warning("connect: the app's provider configuration fails: %s", oauth_error_text(exc))
        return finish(session, {"error": "server_error"})
    opened = await sessions.open_link(
        link_id,
        state=state.reveal(),
        code_verifier=verifier,
        scopes=scopes,
        redirect_uri=redirect_uri,
        state_ttl=STATE_TTL,
        browser=browser.reveal(),
    )
    if not opened:
        return page("Link expired", "This connect link was already used.", 400)
    response = redirect(url)
    response.set_cookie(
        browser_cookie(state.reveal()),
        browser.reveal(),
        max_age=STATE_TTL,
        path=CALLBACK_PATH,
        secure=vault.settings.effective_public_url.startswith("https:"),
        httponly=True,
        samesite="lax",
    )
    return response


def _new_state() -> str:
    return secrets.token_urlsafe(32)  # 256 bits


# -- 3. the provider sends the browser back ---------------------------------------------------


async def callback(request: Request) -> Response:
    vault: Vault = request.app.state.vault
    params = dict(request.query_params)
    state = params.get("state", "")
    sessions = _sessions(vault)
    browser = request.cookies.get(browser_cookie(state), "") if state else ""
    session = await sessions.complete(state, browser) if state else None
    if session is None and state and await sessions.other_browser(state):
        # A consent finished in a browser that did not press "continue" on the link: someone
        # else's link, or a forwarded authorization URL. Nothing is exchanged or used up.
        logger.info("connect callback refused: not the browser that opened the link")
        return page(
            "Wrong browser",
            "This sign-in was started in another browser (or its cookie was removed). Open the"
            " connect link in this browser and start again.",
            400,
        )
    if session is None:
        return page(
            "Invalid sign-in response",
            "This response from the provider does not belong to a connection in progress: it is"
            " unknown, expired or was already used. Go back to the app and connect again.",
            400,
        )
    if not _came_back_where_sent(request, session):
        # The provider sent the browser to another callback than the flow asked for: another
        # project's (or the shared one for a flow of a per-project app). Nothing is exchanged.
        logger.info("connect callback refused: not the callback address of the flow's app")
        await _failed(vault, session, "invalid_request")
        return page(
            "Invalid sign-in response",
            "This response from the provider came back to another address than the connection"
            " was started with. Go back to the app and connect again.",
            400,
        )
    try:
        tokens = await _exchange(vault, session, params)
    except PermanentOAuthError as exc:
        logger.info("connect of app %s ended: %s", session.app_id, _error_code(exc.error))
        if exc.error == "invalid_client":
            await _client_rejected(vault, session)
        error = _error_code(exc.error)
    except TransientOAuthError as exc:
        logger.warning(
            "connect of app %s: provider unavailable: %s", session.app_id, oauth_error_text(exc)
        )
        error = "temporarily_unavailable"
    except (OAuthConfigError, ApiError) as exc:
        logger.warning("connect of app %s failed: %s", session.app_id, oauth_error_text(exc))
        error = "server_error"
    else:
        await _store(vault, session, tokens)
        logger.info("connect of app %s succeeded", session.app_id)
        response = finish(session, {"status": "success"})
        response.delete_cookie(browser_cookie(state), path=CALLBACK_PATH)
        return response
    await _failed(vault, session, error)
    return finish(session, {"error": error})


async def _failed(vault: Vault, session: ConnectSession, error: str) -> None:
    await vault.store.audit.record(
        event(
            session.project_id,
            "connect.failed",
            app_id=session.app_id,
            user_id=session.user_id,
            tenant_id=session.tenant_id,
            error_code=error,
        )
    )


def _came_back_where_sent(request: Request, session: ConnectSession) -> bool:
    """Whether the callback arrived at the address the flow sent as its redirect URI: the
    shared callback for apps that still use it, else the callback of the flow's project."""
    project_id = request.path_params.get("project_id")
    shared = urlsplit(session.redirect_uri).path.rstrip("/").endswith(CALLBACK_PATH)
    if project_id is None:
        return shared
    return not shared and project_id == session.project_id


async def _client_rejected(vault: Vault, session: ConnectSession) -> None:
    """The code exchange failed with ``invalid_client``: an app that registered its own
    client registers a new one, so that connecting again works."""
    try:
        config = await vault.providers.config(session.project_id, session.app_id)
    except ApiError:  # the app is gone
        return
    await vault.providers.client_rejected(session.project_id, session.app_id, config.client_id)


async def _exchange(vault: Vault, session: ConnectSession, params: dict[str, str]) -> TokenSet:
    providers = vault.providers
    config = await providers.resolved(session.project_id, session.app_id)
    code = check_callback(config, params)  # provider error, iss (RFC 9207), missing code
    tokens = await providers.client.exchange_code(
        config,
        code=code,
        redirect_uri=session.redirect_uri,
        code_verifier=session.code_verifier.reveal() if session.code_verifier else None,
        callback_params=params,
    )
    if tokens.access_token is None:
        raise TransientOAuthError("malformed_response", "the token response has no access token")
    return tokens


# lastRefreshError of a connection made with another provider account than the one whose
# refresh token was held, when the provider sent no new one
OTHER_ACCOUNT = (
    "connected with another provider account, which sent no refresh token: the access token"
    " is used until it expires, then the user must connect again"
)


async def _store(vault: Vault, session: ConnectSession, tokens: TokenSet) -> None:
    refresh_token = tokens.refresh_token
    note = ""
    if refresh_token is None:
        # Some providers hand out a refresh token on the first consent only: connecting again
        # (say, for more scopes) keeps the one already held — but only for the same provider
        # account. Another account's refresh token would be refreshed under this one's name.
        held = await vault.store.tokens.find(
            session.project_id,
            session.app_id,
            session.user_id,
            session.tenant_id,
            session.external_identifier,
        )
        if held and held[0].refresh_token is not None:
            if held[0].token_sub == tokens.subject:
                refresh_token = held[0].refresh_token
            else:
                note = OTHER_ACCOUNT
    await vault.store.tokens.put(
        [
            TokenWrite(
                project_id=session.project_id,
                app_id=session.app_id,
                user_id=session.user_id,
                tenant_id=session.tenant_id,
                external_identifier=session.external_identifier,
                scopes=list(tokens.scopes) if tokens.scopes is not None else session.scopes,
                access_token=tokens.access_token,
                refresh_token=refresh_token,
                id_token=tokens.id_token,
                access_token_type=tokens.token_type or "Bearer",
                access_token_expiry=tokens.expires_at,
                token_sub=tokens.subject,
                granted_by=session.granted_by or session.user_id,
                extra=dict(tokens.extra),
                note=note,
                metadata=session.metadata,
            )
        ],
        action="connect.completed",
    )


routes = [
    Route("/v1/mgmt/outbound/app/connect", create_link, methods=["POST"]),
    Route(START_PATH, start_page, methods=["GET"]),
    Route(START_PATH, start, methods=["POST"]),
    Route(CALLBACK_PATH, callback, methods=["GET"]),
    Route(CALLBACK_PATH + "/{project_id:path}", callback, methods=["GET"]),
]
