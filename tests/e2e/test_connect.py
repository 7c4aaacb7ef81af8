"""Connecting a user through the provider's consent page in a real browser."""

from __future__ import annotations

import dataclasses
import html
import re
import secrets
import socket
import time

import httpx
import pytest
from tests.e2e.conftest import (
    CALLBACK_PATH,
    PROVIDER_TIMEOUT,
    Vault,
    callback_url,
    create_app,
    scripted_consent,
)
from tests.support.browser import drive_consent, press_continue
from tests.support.console_browser import ConsoleBrowser
from tests.support.database import execute, raw_dump
from tests.support.oidc_server import OidcServer
from tests.support.other_site import OtherSite

pytestmark = pytest.mark.browser


def test_connect_stores_a_working_token(vault: Vault, idp: OidcServer) -> None:
    user = vault.new_user()

    outcome = vault.connect(user)

    assert outcome == {"status": "success"}
    token = vault.token(user, withRefreshToken=True)
    assert token["userId"] == user
    assert token["tokenSub"] == user  # from the id token
    assert token["scopes"] == ["openid", "email", "read"]  # as the provider granted them
    assert token["hasRefreshToken"] is True
    assert int(token["accessTokenExpiry"]) > int(token["lastRefreshTime"])
    # The provider itself says the access token works, for this user.
    introspection = idp.introspect(token["accessToken"])
    assert introspection["active"] is True
    assert introspection["sub"] == user
    assert idp.is_active(token["refreshToken"])
    # Nothing of it is readable in the database.
    dump = raw_dump(vault.server.store)
    assert token["accessToken"].encode() not in dump
    assert token["refreshToken"].encode() not in dump
    log = vault.server.log()
    assert token["accessToken"] not in log
    assert token["refreshToken"] not in log


def test_declined_consent_lands_on_the_app_with_the_error_and_stores_nothing(
    vault: Vault,
) -> None:
    user = vault.new_user()

    outcome = vault.connect(user, approve=False)

    assert outcome["error"] == "access_denied"
    assert "status" not in outcome
    response = vault.fetch(user)
    assert response.status_code == 404
    assert response.json()["errorCode"] == "E111504"


def test_a_replayed_callback_is_rejected_and_the_code_exchanged_once(
    vault: Vault, idp: OidcServer
) -> None:
    user = vault.new_user()
    callback = vault.server.base_url + "/v1/outbound/oauth/callback"
    idp.reset()

    # Stop the browser where the provider sends it back, and replay that request ourselves
    # (from the same browser: its cookie binds the flow).
    with httpx.Client(timeout=30) as browser:
        callback_url = scripted_consent(vault.link(user), callback, user, agent=browser)
        assert "code=" in callback_url and "state=" in callback_url
        answers = [browser.get(callback_url) for _ in range(2)]

    # The first request completed the connection; every later one is refused with a page that
    # says why, and the code was exchanged once.
    assert answers[0].status_code == 302
    assert answers[-1].status_code == 400
    assert "does not belong to a connection in progress" in answers[-1].text
    assert answers[-1].headers["cache-control"] == "no-store"
    assert vault.token(user)["userId"] == user
    grants = idp.grants()
    assert grants["success"].get("authorization_code") == 1
    assert grants["error"] == {}
    # Neither the code nor the state reached the server's log or its database.
    params = httpx.URL(callback_url).params
    log, dump = vault.server.log(), raw_dump(vault.server.store)
    for secret in (params["code"], params["state"]):
        assert secret not in log
        assert secret.encode() not in dump


def test_an_unknown_state_is_rejected(vault: Vault) -> None:
    response = httpx.get(
        vault.server.base_url + "/v1/outbound/oauth/callback",
        params={"code": "made-up", "state": "made-up-state"},
    )
    assert response.status_code == 400
    assert "does not belong to a connection in progress" in response.text


def test_a_link_opens_once(vault: Vault, idp: OidcServer) -> None:
    link = vault.link(vault.new_user())

    first = press_continue(link)
    # Pressing the button of a page still open in another tab, and opening the link again.
    start = link.split("?")[0]
    second = httpx.post(start, data={"link": httpx.URL(link).params["link"]})
    reopened = httpx.get(link)

    assert first.status_code == 302
    authorize = httpx.URL(first.headers["location"])
    assert str(authorize).startswith(idp.issuer + "/auth")
    assert authorize.params["code_challenge_method"] == "S256"
    assert len(authorize.params["state"]) >= 22  # at least 128 bits, base64url
    assert "link" not in str(authorize)
    assert second.status_code == 400
    assert "already used" in second.text
    assert reopened.status_code == 400
    assert "already used" in reopened.text


def test_the_link_page_names_the_app_and_account_and_opening_it_uses_nothing_up(
    vault: Vault,
) -> None:
    user = vault.new_user()
    link = vault.link(user)
    # Chat and mail previewers fetch links (GET, HEAD); none of that uses the link up.
    for _ in range(3):
        page = httpx.get(link, timeout=30)
        assert page.status_code == 200
        assert vault.app_id in page.text and user in page.text
        assert 'id="continue"' in page.text
        assert page.headers["cache-control"] == "no-store"
        # the link's URL goes to no other site (same-origin: the form's POST, to this
        # server, carries its true Origin)
        assert page.headers["referrer-policy"] == "same-origin"
        # only the form token's cookie (link_guard.py), not the flow's: nothing is started
        assert page.headers["set-cookie"].startswith("outbound_link_")
    httpx.head(link, timeout=30)

    final = drive_consent(link, stop_at=vault.catcher.url, login=user)

    assert httpx.URL(final).params["status"] == "success"
    assert vault.token(user)["userId"] == user


def test_pressing_continue_sets_a_private_cookie_bound_to_the_flow(vault: Vault) -> None:
    response = press_continue(vault.link(vault.new_user()))
    cookie = response.headers["set-cookie"]
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"httponly", "samesite", "path", "max-age"} <= attributes
    assert "samesite=lax" in cookie.lower()
    assert "secure" not in attributes  # http on loopback; behind https it is Secure


def test_a_consent_finished_in_another_browser_fails_cleanly(vault: Vault, idp: OidcServer) -> None:
    """A link minted for one user, started in that user's browser, and completed in someone
    else's (a forwarded authorization URL): the callback is refused, nothing is stored, and
    the state is not used up by the wrong browser."""
    user = vault.new_user()
    callback = vault.server.base_url + "/v1/outbound/oauth/callback"
    idp.reset()
    with httpx.Client(timeout=30) as owner, httpx.Client(timeout=30) as other:
        started = press_continue(vault.link(user), owner)
        assert started.status_code == 302
        authorize = started.headers["location"]
        # The other browser signs in at the provider and approves...
        callback_url = scripted_consent(authorize, callback, user, agent=other)
        refused = other.get(callback_url)
        assert refused.status_code == 400
        assert "started in another browser" in refused.text
        assert vault.fetch(user).status_code == 404
        assert idp.grants()["success"].get("authorization_code") is None
        # ... while the browser that pressed continue still completes it.
        completed = owner.get(callback_url)
    assert completed.status_code == 302
    assert httpx.URL(completed.headers["location"]).params["status"] == "success"
    assert vault.token(user)["userId"] == user


def test_pending_links_are_capped_per_user_with_retry_after(vault: Vault) -> None:
    user = vault.new_user()
    with vault.http as http:
        body = {"appId": vault.app_id, "userId": user}
        made = [http.post("/v1/mgmt/outbound/app/connect", json=body) for _ in range(10)]
        assert all(r.status_code == 200 for r in made)
        refused = http.post("/v1/mgmt/outbound/app/connect", json=body)
        assert refused.status_code == 429
        assert refused.json()["errorCode"] == "E130429"
        assert 0 < int(refused.headers["retry-after"]) <= 601
        # Another user is not affected.
        assert http.post(
            "/v1/mgmt/outbound/app/connect", json={**body, "userId": vault.new_user()}
        ).is_success


def test_an_app_can_turn_pkce_off(vault: Vault, idp: OidcServer) -> None:
    _, app_id = create_app(vault.server, idp, vault.catcher, pkce=False)
    plain = Vault(vault.server, idp, vault.oauth_client, vault.catcher, app_id)
    user = plain.new_user()

    authorize = httpx.URL(press_continue(plain.link(user)).headers["location"])
    assert "code_challenge" not in authorize.params
    assert plain.connect_quickly(user)["status"] == "success"
    assert idp.introspect(plain.token(user)["accessToken"])["active"] is True


def test_a_redirect_url_of_another_origin_is_refused(vault: Vault) -> None:
    user = vault.new_user()
    body = {"appId": vault.app_id, "userId": user}
    same_origin = vault.catcher.url.replace("/callback", "/elsewhere?x=1")
    with vault.http as http:
        for evil in (
            "https://evil.example/callback",
            vault.catcher.url.replace("127.0.0.1", "localhost"),
            vault.catcher.url.replace("http://", "https://"),
            "http://127.0.0.1:1/callback",
        ):
            response = http.post(
                "/v1/mgmt/outbound/app/connect", json={**body, "options": {"redirectUrl": evil}}
            )
            assert response.status_code == 400, evil
            assert response.json()["errorCode"] == "E011004"
            assert "origin" in response.json()["errorMessage"]
        allowed = http.post(
            "/v1/mgmt/outbound/app/connect",
            json={**body, "options": {"redirectUrl": same_origin}},
        )
    assert allowed.status_code == 200

    # ... and the browser lands on that URL, its own query kept.
    final = drive_consent(allowed.json()["url"], stop_at=same_origin.split("?")[0], login=user)
    assert httpx.URL(final).params == httpx.QueryParams({"x": "1", "status": "success"})


def test_connecting_again_asks_for_granted_and_new_scopes(vault: Vault) -> None:
    user = vault.new_user()
    assert vault.connect(user)["status"] == "success"
    first = vault.token(user, withRefreshToken=True)

    link = vault.link(user, scopes=["write"])
    authorize = httpx.URL(press_continue(link).headers["location"])
    assert set(authorize.params["scope"].split()) == {"openid", "email", "read", "write"}

    assert vault.connect(user, scopes=["write"])["status"] == "success"
    second = vault.token(user, withRefreshToken=True)
    assert second["id"] == first["id"]  # the connection was replaced, not duplicated
    assert set(second["scopes"]) == {"openid", "email", "read", "write"}
    assert second["accessToken"] != first["accessToken"]
    with vault.http as http:
        by_scope = http.post(
            "/v1/mgmt/outbound/app/user/token",
            json={"appId": vault.app_id, "userId": user, "scopes": ["write"]},
        )
    assert by_scope.status_code == 200


def test_a_callback_naming_another_issuer_is_refused(vault: Vault, idp: OidcServer) -> None:
    """RFC 9207: a response that says it comes from another authorization server (mix-up)
    is not exchanged."""
    user = vault.new_user()
    callback = vault.server.base_url + "/v1/outbound/oauth/callback"
    idp.reset()
    # Sign in and consent, but stop where the provider sends the browser back.
    with httpx.Client(timeout=30) as browser:
        callback_url = httpx.URL(scripted_consent(vault.link(user), callback, user, browser))
        assert callback_url.params["iss"] == idp.issuer
        forged = callback_url.copy_set_param("iss", "https://attacker.example")

        answer = browser.get(str(forged))

        assert answer.status_code == 302
        assert httpx.URL(answer.headers["location"]).params["error"] == "issuer_mismatch"
        assert idp.grants()["success"].get("authorization_code") is None
        assert vault.fetch(user).status_code == 404
        # The state was used up: the genuine response cannot be completed afterwards either.
        assert browser.get(str(callback_url)).status_code == 400


def test_a_tenant_connects_at_tenant_level(vault: Vault, idp: OidcServer) -> None:
    tenant = "tenant-" + vault.new_user()
    with vault.http as http:
        link = http.post(
            "/v1/mgmt/outbound/app/connect",
            json={"appId": vault.app_id, "tenantId": tenant, "tenantLevel": True},
        ).json()["url"]
        final = drive_consent(link, stop_at=vault.catcher.url, login="admin-of-" + tenant)
        assert httpx.URL(final).params["status"] == "success"
        token = http.post(
            "/v1/mgmt/outbound/app/tenant/token/latest",
            json={"appId": vault.app_id, "tenantId": tenant},
        ).json()["token"]
    assert token["tenantId"] == tenant
    assert token["userId"] == ""
    assert idp.introspect(token["accessToken"])["sub"] == "admin-of-" + tenant


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"appId": "nope", "userId": "u"}, 404, "E131001"),
        ({"appId": None, "userId": "u"}, 400, "E011002"),
        ({"userId": None}, 400, "E011002"),  # no userId
        ({"tenantLevel": True}, 400, "E011002"),  # no tenantId
        ({"userId": "u", "options": {"redirectUrl": "javascript:alert(1)"}}, 400, "E011003"),
    ],
)
def test_connect_requests_that_cannot_work_are_refused(
    vault: Vault, body: dict[str, object], status: int, code: str
) -> None:
    with vault.http as http:
        response = http.post("/v1/mgmt/outbound/app/connect", json={"appId": vault.app_id, **body})
    assert response.status_code == status, response.text
    assert response.json()["errorCode"] == code


def test_an_app_that_holds_api_keys_cannot_connect(vault: Vault) -> None:
    with vault.http as http:
        http.post("/v1/mgmt/outbound/app/create", json={"id": "keys-only", "name": "keys-only"})
        response = http.post(
            "/v1/mgmt/outbound/app/connect", json={"appId": "keys-only", "userId": "u"}
        )
    assert response.status_code == 400
    assert "API keys" in response.json()["errorMessage"]


def test_an_unreachable_provider_shows_a_retry_page_and_keeps_the_link(
    vault: Vault, idp: OidcServer
) -> None:
    with socket.socket() as black_hole:
        black_hole.bind(("127.0.0.1", 0))
        black_hole.listen(16)
        port = black_hole.getsockname()[1]
        _, app_id = create_app(
            vault.server,
            idp,
            vault.catcher,
            discoveryUrl=f"http://127.0.0.1:{port}/.well-known/openid-configuration",
        )
        unreachable = Vault(vault.server, idp, vault.oauth_client, vault.catcher, app_id)
        link = unreachable.link(unreachable.new_user())

        started = time.monotonic()
        first = press_continue(link)
        assert time.monotonic() - started < PROVIDER_TIMEOUT + 2
    assert first.status_code == 503
    assert "press Continue again" in first.text
    assert press_continue(link).status_code == 503  # not used up: still worth a retry


def test_a_provider_configuration_that_cannot_work_ends_on_the_app_with_an_error(
    vault: Vault, idp: OidcServer
) -> None:
    _, app_id = create_app(
        vault.server, idp, vault.catcher, discoveryUrl=idp.issuer + "/no/such/metadata"
    )
    broken = Vault(vault.server, idp, vault.oauth_client, vault.catcher, app_id)

    response = press_continue(broken.link(broken.new_user()))

    assert response.status_code == 302
    landing = httpx.URL(response.headers["location"])
    assert str(landing).startswith(vault.catcher.url)
    assert landing.params["error"] == "server_error"


def test_ended_connect_sessions_are_purged_within_minutes(vault: Vault) -> None:
    """Links that expired (or were used) more than a minute ago are deleted the next time any
    link is made (and by each server every minute), not kept for a day."""
    now = int(time.time())
    store = vault.server.store
    project = vault.server.project_id
    for name, link_expires, state_expires, completed in (
        ("expired-unopened", now - 300, 0, None),
        ("expired-opened", now - 900, now - 300, None),
        ("completed", now - 300, now + 300, now - 120),
    ):
        execute(
            store,
            "INSERT INTO connect_sessions (link_hash, project_id, app_id, user_id, tenant_id,"
            " external_identifier, scopes, redirect_url, created_at, link_expires_at,"
            " state_expires_at, completed_at) VALUES (?, ?, ?, ?, '', '', '[]', '', ?, ?, ?, ?)",
            (name.ljust(64, "0"), project, vault.app_id, name, now - 1000, link_expires,
             state_expires, completed),
        )  # fmt: skip

    vault.link(vault.new_user())

    left = execute(
        store,
        "SELECT link_hash FROM connect_sessions WHERE user_id IN (?, ?, ?)",
        ("expired-unopened", "expired-opened", "completed"),
    )
    assert left == []


_FORM_TOKEN = re.compile(r'name="form" value="([^"]+)"')


def _form_token(page: str) -> str:
    found = _FORM_TOKEN.search(page)
    return found.group(1) if found else ""


def test_another_site_cannot_press_continue_for_the_user(vault: Vault, idp: OidcServer) -> None:
    """Login CSRF: an attacker makes a link for their own user id and has the victim's
    browser submit its Continue form from their site. The victim's account must not end up
    under the attacker's user id: the POST is refused and uses nothing up."""
    attacker = vault.new_user()
    link = vault.link(attacker)
    start = link.split("?")[0]
    link_id = httpx.URL(link).params["link"]
    # The attacker opens the page themselves for a form token: it binds their browser only.
    with httpx.Client(timeout=30) as own:
        token = _form_token(own.get(link).text)
    form = (
        f'<form method="post" action="{html.escape(start)}">'
        f'<input type="hidden" name="link" value="{html.escape(link_id)}">'
        f'<input type="hidden" name="form" value="{html.escape(token)}">'
        '<button id="go">Claim your prize</button></form>'
    )
    with OtherSite() as site, ConsoleBrowser() as victim:
        victim.goto(site.page("/prize", form))
        landed = victim.click("#go")
        assert landed.startswith(start), landed  # not on to the provider
        assert victim.text("h1") == "Not from this site"
        assert not [c for c in victim.cookies() if c["name"].startswith("outbound_connect_")]
        # Following the link from another site (a mail's link) and pressing Continue on the
        # server's own page works: the link was not used up by the refused POST.
        victim.goto(site.page("/mail", f'<a id="open" href="{html.escape(link)}">Connect</a>'))
        assert victim.click("#open").startswith(start)
        assert victim.click("#continue").startswith(idp.issuer)
    assert vault.fetch(attacker).status_code == 404


def test_continue_needs_this_sites_page_and_its_form_token(vault: Vault) -> None:
    link = vault.link(vault.new_user())
    start = link.split("?")[0]
    link_id = httpx.URL(link).params["link"]
    base = vault.server.base_url
    with httpx.Client(timeout=30) as browser, httpx.Client(timeout=30) as other_browser:
        page = browser.get(link)
        fields = {"link": link_id, "form": _form_token(page.text)}
        refused = [
            browser.post(start, data=fields, headers={"Sec-Fetch-Site": "cross-site"}),
            browser.post(start, data=fields, headers={"Origin": "https://attacker.example"}),
            browser.post(start, data=fields, headers={"Origin": "null"}),
            browser.post(start, data=fields, headers={"Origin": base.replace("127.0.0.1", "x")}),
            browser.post(start, data={"link": link_id}),  # no form token
            browser.post(start, data={**fields, "form": "A" * 43}),  # another token
            other_browser.post(start, data=fields),  # the token without this browser's cookie
        ]
        assert [r.status_code for r in refused] == [403] * len(refused)
        assert not [c for c in browser.cookies.jar if c.name.startswith("outbound_connect_")]
        assert fields["form"]
        # the form's POST carries its real Origin (no-referrer would make it "null")
        assert page.headers["referrer-policy"] == "same-origin"
        cookie = page.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie
        assert "path=/v1/outbound/oauth/start" in cookie
        # From this site's page, with its token: on to the provider.
        started = browser.post(
            start, data=fields, headers={"Origin": base, "Sec-Fetch-Site": "same-origin"}
        )
        assert started.status_code == 302, started.text[:300]


def test_reconnecting_with_another_account_never_keeps_the_old_accounts_refresh_token(
    vault: Vault, fresh_idp: OidcServer
) -> None:
    """Issue 25, item 18: a provider that sends no refresh token on a second consent leaves
    the one held in place only for the same provider account."""
    user = vault.new_user()
    first, second = "first-" + user, "second-" + user
    scripted_consent(vault.link(user), vault.catcher.url, first)
    held = vault.token(user, withRefreshToken=True)
    assert held["tokenSub"] == first and held["refreshToken"]

    fresh_idp.withhold_refresh_tokens()
    scripted_consent(vault.link(user), vault.catcher.url, first)
    same = vault.token(user, withRefreshToken=True)
    assert same["refreshToken"] == held["refreshToken"]  # the same account keeps it

    scripted_consent(vault.link(user), vault.catcher.url, second)
    other = vault.token(user, withRefreshToken=True)
    assert other["tokenSub"] == second
    assert other["hasRefreshToken"] is False
    assert not other.get("refreshToken")
    with vault.http as http:
        connections = http.get(
            "/v1/mgmt/outbound/connections", params={"appId": vault.app_id, "userId": user}
        ).json()["connections"]
    assert "another provider account" in connections[0]["lastRefreshError"]
    # nothing refreshes under the second account's name with the first account's grant
    vault.expire(user)
    assert vault.fetch(user).json()["errorCode"] == "E131010"
    assert first not in fresh_idp.refreshes()


# -- one callback per project (issue 25, item 14) ----------------------------------------------


def _public_app(http: httpx.Client, idp: OidcServer, client_id: str, catcher_url: str) -> str:
    app_id = "public-" + secrets.token_hex(3)
    response = http.post(
        "/v1/mgmt/outbound/app/create",
        json={
            "id": app_id,
            "name": app_id,
            "clientId": client_id,
            "tokenEndpointAuthMethod": "none",
            "discoveryUrl": idp.discovery_url,
            "defaultScopes": ["openid", "email", "read"],
            "defaultRedirectUrl": catcher_url,
        },
    )
    assert response.status_code == 200, response.text
    return app_id


def test_another_project_cannot_borrow_a_public_client_through_the_callback(
    vault: Vault, idp: OidcServer
) -> None:
    """Project B registered a public client (PKCE, no secret) with its app's callback. Project
    A makes an app with B's client id: its authorization request carries A's own callback,
    which the provider refuses for B's client, so the user never consents to B's app on A's
    behalf and no token lands in A."""
    b_user = vault.new_user()
    with vault.http as b:
        b_app = _public_app(b, idp, "not-registered-yet", vault.catcher.url)
        loaded = b.get(f"/v1/mgmt/outbound/app/{b_app}").json()["app"]
        # B registers the callback its app names, as the console and the CLI tell owners to
        public = idp.add_client([loaded["callbackUrl"]], token_endpoint_auth_method="none")
        updated = {k: v for k, v in loaded.items() if k not in ("callbackUrl", "hasClientSecret")}
        updated["clientId"] = public.client_id
        assert b.post("/v1/mgmt/outbound/app/update", json={"app": updated}).status_code == 200
        link = b.post(
            "/v1/mgmt/outbound/app/connect", json={"appId": b_app, "userId": b_user}
        ).json()["url"]
    # B's own users connect through B's callback, in chromium
    final = drive_consent(link, stop_at=vault.catcher.url, login=b_user)
    assert "status=success" in final

    a_project, a_key = vault.server.new_project()
    a_server = dataclasses.replace(vault.server, project_id=a_project, management_key=a_key)
    with a_server.client() as a:
        a_app = _public_app(a, idp, public.client_id, vault.catcher.url)
        link = a.post(
            "/v1/mgmt/outbound/app/connect", json={"appId": a_app, "userId": "victim"}
        ).json()["url"]
        authorize = drive_consent(link, stop_at=idp.issuer + "/auth", login="victim")
        assert httpx.URL(authorize).params["client_id"] == public.client_id
        assert httpx.URL(authorize).params["redirect_uri"] == callback_url(a_server)
        refused = httpx.get(authorize)
        assert refused.status_code == 400
        assert "redirect_uri" in refused.text
        connections = a.get("/v1/mgmt/outbound/connections", params={"appId": a_app})
        assert connections.json()["connections"] == []


@pytest.mark.parametrize("where", ["shared", "another project"])
def test_a_callback_at_another_address_than_the_flows_is_refused(vault: Vault, where: str) -> None:
    user = vault.new_user()
    with httpx.Client(timeout=30) as browser:
        url = httpx.URL(
            scripted_consent(vault.link(user), callback_url(vault.server), user, agent=browser)
        )
        path = CALLBACK_PATH if where == "shared" else CALLBACK_PATH + "/another-project"
        refused = browser.get(str(url.copy_with(path=path)))
        assert refused.status_code == 400
        assert "another address" in refused.text
        # used up: the right address does not take it afterwards either
        assert browser.get(str(url)).status_code == 400
    assert vault.fetch(user).status_code == 404


def test_an_app_created_before_per_project_callbacks_keeps_the_shared_one(
    vault: Vault, idp: OidcServer
) -> None:
    shared = vault.server.base_url + CALLBACK_PATH
    registered = idp.add_client([shared])
    old_user = vault.new_user()
    with vault.http as http:
        app_id = "legacy-" + secrets.token_hex(3)
        body = {
            "id": app_id,
            "name": app_id,
            "clientId": registered.client_id,
            "clientSecret": registered.client_secret,
            "discoveryUrl": idp.discovery_url,
            "defaultScopes": ["openid", "email", "read"],
            "defaultRedirectUrl": vault.catcher.url,
        }
        assert http.post("/v1/mgmt/outbound/app/create", json=body).status_code == 200
        # what migration 0013 does to every app stored before it
        execute(
            vault.server.store,
            "UPDATE apps SET shared_callback = 1 WHERE project_id = ? AND id = ?",
            (vault.server.project_id, app_id),
        )
        assert http.get(f"/v1/mgmt/outbound/app/{app_id}").json()["app"]["callbackUrl"] == shared
        link = http.post(
            "/v1/mgmt/outbound/app/connect", json={"appId": app_id, "userId": old_user}
        ).json()["url"]
        assert "status=success" in drive_consent(link, stop_at=vault.catcher.url, login=old_user)
        # a description changes nothing; a new client is a new registration: the project's
        described = http.post(
            "/v1/mgmt/outbound/app/update", json={"app": {**body, "description": "d"}}
        )
        assert described.json()["app"]["callbackUrl"] == shared
        moved = http.post(
            "/v1/mgmt/outbound/app/update",
            json={"app": {**body, "clientId": "another-client"}},
        )
        assert moved.json()["app"]["callbackUrl"] == callback_url(vault.server)


def test_connect_carries_metadata_to_the_connection_and_a_reconnect_without_keeps_it(
    vault: Vault,
) -> None:
    user = vault.new_user()
    metadata = {"plan": "pro", "workspace": {"id": 7}}
    assert vault.connect_quickly(user, metadata=metadata) == {"status": "success"}

    def listed() -> dict[str, object]:
        with vault.http as http:
            found = http.get(
                "/v1/mgmt/outbound/connections", params={"appId": vault.app_id, "userId": user}
            )
        (connection,) = found.json()["connections"]
        return dict(connection["metadata"])

    assert listed() == metadata
    # connecting again (more scopes, another consent) without metadata keeps what it has
    assert vault.connect_quickly(user) == {"status": "success"}
    assert listed() == metadata
    assert vault.connect_quickly(user, metadata={"plan": "free"}) == {"status": "success"}
    assert listed() == {"plan": "free"}
