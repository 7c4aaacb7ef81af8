"""Extra fields a user needs come back with the token: Salesforce's ``instance_url`` (from the
token response) and QuickBooks' ``realmId`` (from the callback), end to end.

Salesforce and Intuit cannot run here, so a small emulator stands in for them: a real HTTP
server on loopback that speaks exactly the formats their documentation gives for the authorize
redirect, the token endpoint (code exchange and refresh) and, for Intuit, the JSON revocation
endpoint — and refuses anything else the way they do (``{"error": "invalid_grant"}``). Apps
are made from the real ``salesforce`` and ``quickbooks`` templates with ``create/bytemplate``,
their endpoints overridden to point at the emulator; the connect link is followed by a plain
HTTP client (the emulator's authorize endpoint approves at once, so no browser is needed).

Every value below is made up; the shapes follow:
- Salesforce: help.salesforce.com "OAuth 2.0 Web Server Flow for Web App Integration"
  (authorize, code exchange with PKCE, the JSON token response with ``instance_url`` and
  ``id`` and no ``expires_in``) and "OAuth 2.0 Refresh Token Flow" (no new refresh token);
- Intuit: developer.intuit.com "Set up OAuth 2.0" for QuickBooks Online (the callback's
  ``realmId``, Basic client authentication, the JSON token response, rotating refresh tokens)
  and its client library's revoke call (``{"token": …}`` as JSON).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest
from tests.e2e.conftest import callback_url
from tests.support.browser import press_continue
from tests.support.server import LiveServer

CLIENT_ID = "3MVG9made.up.consumer.key"
# Generated per run: a made-up credential must still never show up in the server's log.
CLIENT_SECRET = secrets.token_urlsafe(24)
INSTANCE_URL = "https://acme-dev-ed.develop.my.salesforce.com"
IDENTITY_URL = "https://login.salesforce.com/id/00D5j00000ABCDEFG/0055j00000HIJKLMN"
REALM_ID = "4620816365178416240"


@dataclass
class Seen:
    """One request the emulator received."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode(), keep_blank_values=True))

    def basic_auth(self) -> tuple[str, str] | None:
        header = self.headers.get("authorization", "")
        if not header.startswith("Basic "):
            return None
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        return user, password


@dataclass
class Grant:
    code: str
    redirect_uri: str
    code_challenge: str = ""


@dataclass
class Emulator:
    """Salesforce's and Intuit's OAuth endpoints, as documented, on one loopback server."""

    redirect_uri: str  # registered at the "provider" for our client id
    base_url: str = ""
    requests: list[Seen] = field(default_factory=list)
    grants: dict[str, Grant] = field(default_factory=dict)
    # Live refresh tokens by provider ("sf-…" / "qb-…"); Intuit rotates them on refresh.
    refresh_tokens: set[str] = field(default_factory=set)
    revoked: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    # -- the authorize endpoints: approve at once and send the browser back ----------------

    def authorize(self, seen: Seen, *, realm: bool) -> tuple[int, dict[str, str], bytes]:
        q = seen.query
        if q.get("client_id") != CLIENT_ID or q.get("redirect_uri") != self.redirect_uri:
            # Both providers show an error page rather than redirect to an unknown URI.
            return 400, {"Content-Type": "text/plain"}, b"redirect_uri_mismatch"
        code = secrets.token_urlsafe(24)
        with self.lock:
            self.grants[code] = Grant(code, q["redirect_uri"], q.get("code_challenge", ""))
        back = {"code": code, "state": q.get("state", "")}
        if realm:
            back["realmId"] = REALM_ID  # Intuit names the company the user picked
        return 302, {"Location": f"{q['redirect_uri']}?{urlencode(back)}"}, b""

    def _take_grant(self, form: dict[str, str]) -> Grant | None:
        with self.lock:
            grant = self.grants.pop(form.get("code", ""), None)  # single use
        if grant is None or form.get("redirect_uri") != grant.redirect_uri:
            return None
        return grant

    # -- Salesforce: client_secret_post, PKCE, no expires_in, instance_url ---------------------

    def salesforce_token(self, seen: Seen) -> tuple[int, dict[str, str], bytes]:
        form = seen.form()
        if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
            return _error("invalid_client", "invalid client credentials")
        issued_at = "1717171717171"
        if form.get("grant_type") == "authorization_code":
            grant = self._take_grant(form)
            verifier = form.get("code_verifier", "")
            if grant is None or _s256(verifier) != grant.code_challenge:
                return _error("invalid_grant", "authentication failure")
            refresh_token = "sf-" + secrets.token_urlsafe(24)
            with self.lock:
                self.refresh_tokens.add(refresh_token)
            return _json(
                200,
                {
                    "access_token": "00D5j00000ABCDEFG!" + secrets.token_urlsafe(32),
                    "refresh_token": refresh_token,
                    "signature": base64.b64encode(secrets.token_bytes(32)).decode(),
                    "scope": "refresh_token api",
                    "instance_url": INSTANCE_URL,
                    "id": IDENTITY_URL,
                    "token_type": "Bearer",
                    "issued_at": issued_at,
                },
            )
        if form.get("grant_type") == "refresh_token":
            if form.get("refresh_token") not in self.refresh_tokens:
                return _error("invalid_grant", "expired access/refresh token")
            # The refresh token flow answers without a refresh token: the old one stays valid.
            return _json(
                200,
                {
                    "access_token": "00D5j00000ABCDEFG!" + secrets.token_urlsafe(32),
                    "signature": base64.b64encode(secrets.token_bytes(32)).decode(),
                    "scope": "refresh_token api",
                    "instance_url": INSTANCE_URL,
                    "id": IDENTITY_URL,
                    "token_type": "Bearer",
                    "issued_at": issued_at,
                },
            )
        return _error("unsupported_grant_type", "grant type not supported")

    # -- Intuit: client_secret_basic, realmId from the callback, rotating refresh tokens -------

    def intuit_token(self, seen: Seen) -> tuple[int, dict[str, str], bytes]:
        if seen.basic_auth() != (CLIENT_ID, CLIENT_SECRET):
            return _json(401, {"error": "invalid_client"})
        form = seen.form()
        if form.get("grant_type") == "authorization_code":
            if self._take_grant(form) is None:
                return _json(400, {"error": "invalid_grant"})
        elif form.get("grant_type") == "refresh_token":
            with self.lock:
                if form.get("refresh_token") not in self.refresh_tokens:
                    return _json(400, {"error": "invalid_grant"})
                self.refresh_tokens.discard(form["refresh_token"])
        else:
            return _json(400, {"error": "unsupported_grant_type"})
        refresh_token = "qb-" + secrets.token_urlsafe(24)
        with self.lock:
            self.refresh_tokens.add(refresh_token)
        return _json(
            200,
            {
                "token_type": "bearer",
                "expires_in": 3600,
                "refresh_token": refresh_token,
                "x_refresh_token_expires_in": 8726400,
                "access_token": "eyJlbmMiOiJBMTI4Q0JDLUhTMjU2" + secrets.token_urlsafe(32),
            },
        )

    def intuit_revoke(self, seen: Seen) -> tuple[int, dict[str, str], bytes]:
        if seen.basic_auth() != (CLIENT_ID, CLIENT_SECRET):
            return _json(401, {"error": "invalid_client"})
        if not seen.headers.get("content-type", "").startswith("application/json"):
            return _json(400, {"error": "invalid_request"})
        body = json.loads(seen.body)
        if set(body) != {"token"}:
            return _json(400, {"error": "invalid_request"})
        with self.lock:
            self.refresh_tokens.discard(body["token"])
            self.revoked.add(body["token"])
        return 200, {}, b""

    def salesforce_revoke(self, seen: Seen) -> tuple[int, dict[str, str], bytes]:
        token = seen.form().get("token", "")
        with self.lock:
            self.refresh_tokens.discard(token)
            self.revoked.add(token)
        return 200, {}, b""

    def landing(self, seen: Seen) -> tuple[int, dict[str, str], bytes]:
        return 200, {"Content-Type": "text/plain"}, b"connected"

    def route(self, seen: Seen) -> tuple[int, dict[str, str], bytes]:
        routes = {
            ("GET", "/services/oauth2/authorize"): lambda s: self.authorize(s, realm=False),
            ("POST", "/services/oauth2/token"): self.salesforce_token,
            ("POST", "/services/oauth2/revoke"): self.salesforce_revoke,
            ("GET", "/connect/oauth2"): lambda s: self.authorize(s, realm=True),
            ("POST", "/oauth2/v1/tokens/bearer"): self.intuit_token,
            ("POST", "/v2/oauth2/tokens/revoke"): self.intuit_revoke,
            ("GET", "/landing"): self.landing,
        }
        handler = routes.get((seen.method, seen.path))
        if handler is None:
            return 404, {"Content-Type": "text/plain"}, b"not found"
        return handler(seen)


def _json(status: int, payload: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    headers = {"Content-Type": "application/json;charset=UTF-8", "Cache-Control": "no-store"}
    return status, headers, json.dumps(payload).encode()


def _error(code: str, description: str) -> tuple[int, dict[str, str], bytes]:
    return _json(400, {"error": code, "error_description": description})


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@contextlib.contextmanager
def running_emulator(redirect_uri: str) -> Iterator[Emulator]:
    emulator = Emulator(redirect_uri)

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("content-length") or 0)
            seen = Seen(
                self.command,
                parts.path,
                dict(parse_qsl(parts.query, keep_blank_values=True)),
                {k.lower(): v for k, v in self.headers.items()},
                self.rfile.read(length) if length else b"",
            )
            with emulator.lock:
                emulator.requests.append(seen)
            status, headers, body = emulator.route(seen)
            self.send_response(status)
            for name, value in {**headers, "Content-Length": str(len(body))}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _handle

        def log_message(self, format: str, *args: Any) -> None:
            pass  # requests are kept in ``emulator.requests``

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    emulator.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield emulator
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


# -- the vault side ------------------------------------------------------------------------------


@pytest.fixture
def emulator(live_server: LiveServer) -> Iterator[Emulator]:
    with running_emulator(callback_url(live_server)) as emulator:
        yield emulator


def create_from_template(
    server: LiveServer, template_id: str, overrides: dict[str, Any]
) -> dict[str, Any]:
    suffix = secrets.token_hex(3)
    with server.client() as http:
        response = http.post(
            "/v1/mgmt/outbound/app/create/bytemplate",
            json={
                "templateId": template_id,
                "id": f"{template_id}-{suffix}",
                "name": f"{template_id} {suffix}",
                "clientId": CLIENT_ID,
                "clientSecret": CLIENT_SECRET,
                "overrides": overrides,
            },
        )
    assert response.status_code == 200, response.text
    app: dict[str, Any] = response.json()["app"]
    assert app["templateId"] == template_id
    assert app["callbackUrl"] == callback_url(server)
    return app


def connect(server: LiveServer, app_id: str, user_id: str) -> httpx.URL:
    """Follow the connect link as the user's browser would; where it ends."""
    with server.client() as http:
        response = http.post(
            "/v1/mgmt/outbound/app/connect", json={"appId": app_id, "userId": user_id}
        )
    assert response.status_code == 200, response.text
    with httpx.Client(follow_redirects=True, timeout=30) as browser:
        started = press_continue(response.json()["url"], browser)
        landed = browser.get(started.url.join(started.headers["location"]))
    assert landed.status_code == 200, landed.text
    return landed.url


def fetch(server: LiveServer, app_id: str, user_id: str, **options: Any) -> dict[str, Any]:
    with server.client() as http:
        response = http.post(
            "/v1/mgmt/outbound/app/user/token/latest",
            json={"appId": app_id, "userId": user_id, "options": options or None},
        )
    assert response.status_code == 200, response.text
    token: dict[str, Any] = response.json()["token"]
    return token


def assert_not_logged(server: LiveServer, *values: str) -> None:
    log = server.log()
    assert not [value for value in values if value and value in log]


def test_salesforce_instance_url_is_kept_and_returned_with_the_token(
    live_server: LiveServer, emulator: Emulator
) -> None:
    app = create_from_template(
        live_server,
        "salesforce",
        {
            "authorizationUrl": f"{emulator.base_url}/services/oauth2/authorize",
            "tokenUrl": f"{emulator.base_url}/services/oauth2/token",
            "revocationUrl": f"{emulator.base_url}/services/oauth2/revoke",
            "defaultRedirectUrl": f"{emulator.base_url}/landing",
        },
    )
    user = "sf-user-" + secrets.token_hex(3)

    landed = connect(live_server, app["id"], user)

    assert landed.path == "/landing" and landed.params["status"] == "success"
    token = fetch(live_server, app["id"], user, withRefreshToken=True)
    assert token["extra"] == {"instance_url": INSTANCE_URL, "id": IDENTITY_URL}
    assert token["tokenSub"] == IDENTITY_URL
    assert token["scopes"] == ["refresh_token", "api"]
    # What the vault sent is what Salesforce documents: PKCE S256, client_secret_post.
    (authorize,) = [r for r in emulator.requests if r.path == "/services/oauth2/authorize"]
    assert authorize.query["code_challenge_method"] == "S256"
    assert authorize.query["scope"] == "api refresh_token"
    exchange = [r for r in emulator.requests if r.path == "/services/oauth2/token"][-1]
    assert exchange.form()["grant_type"] == "authorization_code"
    assert "code_verifier" in exchange.form() and exchange.basic_auth() is None

    # A refresh answers with instance_url again but no refresh token: the old one stays, and
    # so do the extra fields.
    refreshed = fetch(live_server, app["id"], user, forceRefresh=True, withRefreshToken=True)
    assert refreshed["accessToken"] != token["accessToken"]
    assert refreshed["refreshToken"] == token["refreshToken"]
    assert refreshed["extra"] == {"instance_url": INSTANCE_URL, "id": IDENTITY_URL}
    assert fetch(live_server, app["id"], user)["extra"]["instance_url"] == INSTANCE_URL
    assert_not_logged(
        live_server,
        CLIENT_SECRET,
        token["accessToken"],
        token["refreshToken"],
        refreshed["accessToken"],
    )


def test_quickbooks_realm_id_is_kept_through_refreshes_and_revoked_in_intuits_format(
    live_server: LiveServer, emulator: Emulator
) -> None:
    app = create_from_template(
        live_server,
        "quickbooks",
        {
            "authorizationUrl": f"{emulator.base_url}/connect/oauth2",
            "tokenUrl": f"{emulator.base_url}/oauth2/v1/tokens/bearer",
            "revocationUrl": f"{emulator.base_url}/v2/oauth2/tokens/revoke",
            "defaultRedirectUrl": f"{emulator.base_url}/landing",
        },
    )
    user = "qb-user-" + secrets.token_hex(3)

    landed = connect(live_server, app["id"], user)

    assert landed.path == "/landing" and landed.params["status"] == "success"
    assert "realmId" not in landed.params  # the vault keeps it; the app's page is not told
    token = fetch(live_server, app["id"], user, withRefreshToken=True)
    assert token["extra"] == {"realmId": REALM_ID}
    assert token["scopes"] == ["com.intuit.quickbooks.accounting"]
    exchange = [r for r in emulator.requests if r.path == "/oauth2/v1/tokens/bearer"][-1]
    assert exchange.basic_auth() == (CLIENT_ID, CLIENT_SECRET)
    assert "client_secret" not in exchange.form()

    # Intuit rotates the refresh token; the realm id, which only the callback named, stays.
    refreshed = fetch(live_server, app["id"], user, forceRefresh=True, withRefreshToken=True)
    assert refreshed["accessToken"] != token["accessToken"]
    assert refreshed["refreshToken"] != token["refreshToken"]
    assert refreshed["extra"] == {"realmId": REALM_ID}

    # Deleting the token revokes both tokens at Intuit's endpoint, as JSON.
    with live_server.client() as http:
        response = http.delete("/v1/mgmt/outbound/token", params={"id": refreshed["id"]})
    assert response.status_code == 200, response.text
    revocations = [r for r in emulator.requests if r.path == "/v2/oauth2/tokens/revoke"]
    assert [json.loads(r.body) for r in revocations] == [
        {"token": refreshed["refreshToken"]},
        {"token": refreshed["accessToken"]},
    ]
    assert all(r.basic_auth() == (CLIENT_ID, CLIENT_SECRET) for r in revocations)
    assert refreshed["refreshToken"] not in emulator.refresh_tokens
    assert_not_logged(
        live_server,
        CLIENT_SECRET,
        token["accessToken"],
        token["refreshToken"],
        refreshed["accessToken"],
        refreshed["refreshToken"],
    )
