"""What a provider sends back stays with the provider: its body is never echoed, its cookies
never kept, its URLs' query strings never logged.

The real test provider (``oidc-provider``) is made to answer its token endpoint with an HTTP
404 and a secret-looking body (as an internal service would), and to set a cookie on every
answer; the vault serves two projects from one process.
"""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from tests.e2e.conftest import Vault, create_app, scripted_consent
from tests.support.database import execute
from tests.support.oidc_server import OidcServer
from tests.support.server import LiveServer


def secret_bodies(secret: str) -> list[tuple[str, str]]:
    """(content type, body) of answers that are not well-formed OAuth errors, or are, but
    not with an OAuth error's status: none may be echoed."""
    return [
        ("text/html", f"<html><body><h1>Not Found</h1><p>db password: {secret}</p></body></html>"),
        ("application/json", f'{{"message": "{secret}"}}'),
        ("application/json", f'{{"error": {{"code": "x", "message": "{secret}"}}}}'),
        ("application/json", f'{{"error": "Not Found", "detail": "{secret}"}}'),
        ("application/json", f'{{"error": "{secret}"}}'),
        ("application/json", f'{{"error": "invalid_grant", "error_description": "{secret}"}}'),
        ("application/json", f'{{"object": "error", "code": "x", "message": "{secret}"}}'),
        ("text/plain", f"error={secret}&error_description={secret}"),
    ]


def stored_text(server: LiveServer) -> str:
    """Every plain-text column a provider's answer could end up in."""
    rows = execute(server.store, "SELECT last_refresh_error, extra FROM tokens")
    rows += execute(server.store, "SELECT config FROM apps")
    return repr(rows)


def assert_not_echoed(secret: str, *texts: str) -> None:
    for text in texts:
        assert secret not in text and secret not in unquote(text), text[:500]


@pytest.mark.parametrize("index", range(8))
def test_a_404_with_a_secret_body_is_never_echoed(
    vault: Vault, fresh_idp: OidcServer, index: int
) -> None:
    secret = "sk_live_" + secrets.token_hex(16)
    content_type, body = secret_bodies(secret)[index]
    user = vault.new_user()
    vault.connect_quickly(user)  # a real grant, before the provider breaks
    token = vault.token(user, withRefreshToken=True)
    fresh_idp.fault("status", status=404, body=body, content_type=content_type)
    answers: list[str] = []
    with vault.http as http:
        # refresh on fetch
        fetched = http.post(
            "/v1/mgmt/outbound/app/user/token/latest",
            json={"appId": vault.app_id, "userId": user, "options": {"forceRefresh": True}},
        )
        assert fetched.status_code >= 400, fetched.text
        answers.append(fetched.text)
        # the next fetch reports the stored lastRefreshError
        answers.append(
            http.post(
                "/v1/mgmt/outbound/app/user/token/latest",
                json={"appId": vault.app_id, "userId": user},
            ).text
        )
        # verifyRefresh on upload (E131015 carries the provider's reason)
        uploaded = http.post(
            "/v1/mgmt/outbound/app/user/oauthtoken/upload",
            json={
                "appId": vault.app_id,
                "userId": vault.new_user(),
                "refreshToken": token["refreshToken"],
                "verifyRefresh": True,
            },
        )
        assert uploaded.status_code >= 400, uploaded.text
        answers.append(uploaded.text)
    # code exchange at the end of connecting: the outcome in the app's redirect URL
    final = scripted_consent(vault.link(vault.new_user()), vault.catcher.url, vault.new_user())
    assert "error=" in final
    answers.append(final)
    assert_not_echoed(secret, *answers, stored_text(vault.server), vault.server.log())
    assert "HTTP 404, not an OAuth error" in fetched.json()["errorMessage"]


def test_a_well_formed_oauth_error_keeps_its_code_and_a_clean_description(
    vault: Vault, fresh_idp: OidcServer
) -> None:
    body = (
        '{"error": "invalid_grant", "error_description": "grant revoked\\n2026-01-01 INFO'
        ' forged log line <script>\\u202e"}'
    )
    fresh_idp.fault("status", status=400, body=body, content_type="application/json")
    user = vault.new_user()
    with vault.http as http:
        uploaded = http.post(
            "/v1/mgmt/outbound/app/user/oauthtoken/upload",
            json={
                "appId": vault.app_id,
                "userId": user,
                "refreshToken": "rt",
                "verifyRefresh": True,
            },
        )
    assert uploaded.status_code == 400
    message = uploaded.json()["errorMessage"]
    assert "invalid_grant: grant revoked 2026-01-01 INFO forged log line <script>" in message
    assert "\n" not in message and "\u202e" not in message
    assert "\nforged" not in vault.server.log() and "\n2026-01-01 INFO" not in vault.server.log()


def _outbound_requests_with_cookies(idp: OidcServer) -> list[dict[str, Any]]:
    return [s for s in idp.cookies_seen() if s["userAgent"].startswith("outbound/")]


def test_a_providers_cookie_never_rides_along(vault: Vault, fresh_idp: OidcServer) -> None:
    server = vault.server
    cookie = "sid=" + secrets.token_hex(12)
    marker = "q" + secrets.token_hex(8)
    fresh_idp.set_cookie(cookie)
    # project A connects and refreshes: the provider sets its cookie on every answer
    user_a = vault.new_user()
    vault.connect_quickly(user_a)
    vault.token(user_a, forceRefresh=True)
    # project B, same server, same provider; its token URL carries a query string
    project_b, key_b = server.new_project()
    b = LiveServer(server.store, server.base_url, project_b, key_b, server.process, server.log_path)
    client_b, app_b = create_app(
        b,
        fresh_idp,
        vault.catcher,
        tokenUrl=f"{fresh_idp.issuer}/token?audit={marker}",
        authorizationUrl=f"{fresh_idp.issuer}/auth",
    )
    vault_b = Vault(b, fresh_idp, client_b, vault.catcher, app_b)
    user_b = vault_b.new_user()
    assert vault_b.connect_quickly(user_b).get("status") == "success"
    vault_b.token(user_b, forceRefresh=True)
    vault.token(user_a, forceRefresh=True)

    grants = fresh_idp.grants()["success"]
    assert grants.get("refresh_token", 0) >= 3 and grants.get("authorization_code", 0) >= 2
    carried = _outbound_requests_with_cookies(fresh_idp)
    assert carried == [], carried  # neither project's calls carry any cookie
    # the browser did get (and send back) the cookie: the provider really set it
    assert any(cookie in s["cookie"] for s in fresh_idp.cookies_seen())
    log = server.log()
    assert "HTTP Request: POST" in log  # httpx's request line is there …
    assert marker not in log  # … without the query string
    assert cookie not in log


def test_a_client_that_keeps_cookies_would_be_seen(fresh_idp: OidcServer) -> None:
    """The provider side of the cookie test works: a client that keeps cookies sends them."""
    fresh_idp.set_cookie("sid=probe")
    with httpx.Client(headers={"User-Agent": "outbound/probe"}) as http:
        http.get(fresh_idp.discovery_url)
        http.get(fresh_idp.discovery_url)
    assert [s["cookie"] for s in _outbound_requests_with_cookies(fresh_idp)] == ["sid=probe"]
