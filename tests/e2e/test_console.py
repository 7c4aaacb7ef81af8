"""The operator console in a real browser (Debian's chromium through playwright-core), against
a real ``outbound serve`` and the real oidc-provider, on both storage backends.

The walk-through test is what an operator does on a working day: sign in, create an app from
the catalog, hand a user a connect link, watch the connection, refresh it, see it break when
the user withdraws consent at the provider, delete it (revoking at the provider), add a
webhook and retry its failed delivery, make and revoke a key, sign out. Every page it visits
is checked by axe-core and photographed at 1280 and 375 px: into a directory of artifacts
(``OUTBOUND_SCREENSHOT_DIR``, by default ``outbound-console-screenshots`` under the system's
temporary directory), and into docs/console/ only when asked (``OUTBOUND_UPDATE_SCREENSHOTS=1``,
docs/testing.md) — a test run leaves the repository as it found it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest
from tests.conftest import new_store
from tests.e2e.conftest import SERVER_ARGS
from tests.e2e.conftest import callback_url as project_callback_url
from tests.support.browser import CallbackCatcher, drive_consent
from tests.support.console_browser import ConsoleBrowser
from tests.support.database import execute
from tests.support.oidc_server import OidcServer
from tests.support.server import LiveServer, Store, outbound_cli, running_server

pytestmark = pytest.mark.browser

DOC_SHOTS = Path(__file__).resolve().parents[2] / "docs" / "console"


def shots_dir() -> Path:
    """Where the pages are photographed: docs/console/ when asked to update it, else an
    artifacts directory."""
    if os.environ.get("OUTBOUND_UPDATE_SCREENSHOTS") == "1":
        return DOC_SHOTS
    default = Path(tempfile.gettempdir()) / "outbound-console-screenshots"
    return Path(os.environ.get("OUTBOUND_SCREENSHOT_DIR") or default)


# Deliveries to a receiver that refuses them fail at once, so the retry button shows.
CONSOLE_ARGS = [*SERVER_ARGS, "--webhook-retry-base", "0.05", "--webhook-retry-for", "0"]
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture(scope="module")
def server(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    # A store of its own: another test's server on the shared store would send this module's
    # webhook deliveries too, on the default retry schedule, and none would have failed yet.
    with (
        new_store(backend, tmp_path_factory) as store,
        running_server(store, extra_args=CONSOLE_ARGS) as server,
    ):
        yield server


@pytest.fixture
def browser() -> Iterator[ConsoleBrowser]:
    with ConsoleBrowser() as browser:
        yield browser


def check_page(browser: ConsoleBrowser, name: str, backend: str) -> None:
    """No serious or critical axe-core finding, no CSP complaint, no sideways scrolling at
    375 px; screenshots at both widths (from the SQLite run: the pages are the same)."""
    assert browser.axe() == [], name
    assert browser.csp_errors() == [], name
    assert browser.scroll_width(375) <= 375, f"{name} scrolls sideways at 375 px"
    if backend == "sqlite":
        shots = shots_dir()
        shots.mkdir(parents=True, exist_ok=True)
        for width in (1280, 375):
            browser.screenshot(str(shots / f"{name}-{width}.png"), width)


def sign_in(browser: ConsoleBrowser, server: LiveServer) -> None:
    browser.goto(server.base_url + "/console/")
    assert browser.url.endswith("/console/sign-in")
    browser.fill("#projectId", server.project_id)
    browser.fill("#managementKey", server.management_key)
    assert browser.click("#sign-in").endswith("/console/")


def http_sign_in(server: LiveServer, key: str | None = None) -> httpx.Client:
    """A signed-in client without a browser (for the refusals a browser never shows)."""
    client = httpx.Client(base_url=server.base_url, timeout=30)
    page = client.get("/console/sign-in")
    csrf = _CSRF.search(page.text)
    assert csrf is not None
    answer = client.post(
        "/console/sign-in",
        data={
            "csrf": csrf.group(1),
            "projectId": server.project_id,
            "managementKey": key or server.management_key,
        },
    )
    assert answer.status_code == 303, answer.text[:500]
    return client


def console_link(server: LiveServer) -> str:
    """A one-time sign-in link of ``outbound console-link`` (an operator with the store)."""
    return outbound_cli(
        "console-link",
        "--project",
        server.project_id,
        "--public-url",
        server.base_url,
        *server.store.args,
        env=server.store.env,
    ).strip()


def link_sign_in(server: LiveServer) -> httpx.Client:
    """A client signed in through ``outbound console-link``, without a browser."""
    url = console_link(server)
    client = httpx.Client(base_url=server.base_url, timeout=30)
    page = client.get(url)
    csrf = _CSRF.search(page.text)
    assert csrf is not None
    token = dict(parse_qsl(urlsplit(url).query))["token"]
    answer = client.post("/console/link", data={"csrf": csrf.group(1), "token": token})
    assert answer.status_code == 303, answer.text[:500]
    return client


def list_keys(server: LiveServer) -> list[dict[str, object]]:
    lines = outbound_cli(
        "keys", "list", "--project", server.project_id, *server.store.args, env=server.store.env
    ).splitlines()
    return [json.loads(line) for line in lines]


def row(user: str) -> str:
    return f'tr[data-user="{user}"]'


def test_an_operator_runs_a_connection_from_the_console(
    server: LiveServer,
    browser: ConsoleBrowser,
    idp: OidcServer,
    catcher: CallbackCatcher,
    backend: str,
) -> None:
    browser.goto(server.base_url + "/console/sign-in")
    check_page(browser, "sign-in", backend)
    # The keyboard reaches the skip link, home, the two fields and the button, in that order.
    order = [stop.split(":")[0] for stop in browser.focus_order(5)]
    assert order == ["a", "a", "input#projectId", "input#managementKey", "button#sign-in"]
    sign_in(browser, server)
    check_page(browser, "overview", backend)

    # A webhook first, so the connection's events are delivered (and refused) later.
    browser.goto(server.base_url + "/console/webhooks")
    check_page(browser, "webhooks", backend)
    browser.fill("#url", catcher.url.replace("/callback", "/hooks"))
    browser.click("#add-webhook")
    secret = browser.value("#webhook-secret")
    assert secret.startswith("whsec_")
    check_page(browser, "webhook-created", backend)
    browser.goto(server.base_url + "/console/webhooks")
    assert secret not in browser.content()

    # An app from the catalog: the picker filters, the form shows the callback URL to copy.
    browser.goto(server.base_url + "/console/apps")
    check_page(browser, "apps-empty", backend)
    browser.click("text=New app from the catalog")
    browser.fill("#q", "openid")
    assert browser.step("visibleCount", selector="#templates li") < 5
    check_page(browser, "template-picker", backend)
    browser.click('a[href="/console/apps/new/template?id=oidc"]')
    callback_url = browser.value("#callback-url")
    assert callback_url == project_callback_url(server)
    browser.click("button[data-copy='callback-url']", navigate=False)
    assert browser.clipboard() == callback_url
    check_page(browser, "template-form", backend)

    oauth_client = idp.add_client([callback_url])
    browser.fill("#name", "Test IdP")
    browser.fill("#clientId", oauth_client.client_id)
    browser.fill("#clientSecret", oauth_client.client_secret)
    browser.fill("[id='value.issuer']", "https://idp.example.com")
    browser.fill("#defaultRedirectUrl", catcher.url)
    browser.click("summary", navigate=False)
    browser.fill("#discoveryUrl", idp.discovery_url)
    edit_url = browser.click("#create")
    assert "/console/apps/edit?" in edit_url, browser.text("main")
    assert browser.text("#secret-state") == "set"
    assert oauth_client.client_secret not in browser.content()
    check_page(browser, "app-edit", backend)
    app_id = dict(parse_qsl(urlsplit(edit_url).query))["id"]
    connections_url = f"{server.base_url}/console/connections?{urlencode({'app': app_id})}"

    # A connect link, copied and completed by the user at the real provider.
    browser.goto(connections_url)
    check_page(browser, "connections-empty", backend)
    user, other = "ann-console", "bob-console"
    links = {}
    for someone in (user, other):
        browser.goto(connections_url)
        browser.fill("#link-user", someone)
        browser.click("#make-link")
        browser.click("#copy-link", navigate=False)
        links[someone] = browser.clipboard()
        assert links[someone] == browser.value("#connect-link")
        if someone == user:
            check_page(browser, "connect-link", backend)
    for someone, link in links.items():
        final = drive_consent(link, stop_at=catcher.url, login=someone)
        assert dict(parse_qsl(urlsplit(final).query))["status"] == "success"

    browser.goto(connections_url)
    assert browser.text(f"{row(user)} [data-status]") == "active"
    check_page(browser, "connections", backend)

    # Refresh now: one more refresh grant at the provider.
    before = idp.successful_grants("refresh_token")
    browser.click(f"{row(user)} button:has-text('Refresh now')")
    assert "Refreshed at the provider" in browser.text("main")
    assert idp.successful_grants("refresh_token") == before + 1

    # The user withdraws consent at the provider: the next refresh says reconnect.
    assert idp.revoke_account(user) >= 1
    browser.click(f"{row(user)} button:has-text('Refresh now')")
    assert "The refresh failed" in browser.text("[role=alert]")
    assert browser.text(f"{row(user)} [data-status]") == "reconnect_required"
    browser.goto(connections_url + "&status=reconnect_required")
    assert browser.count("#connections tbody tr") == 1
    browser.goto(connections_url + "&" + urlencode({"user": other}))
    assert browser.count("#connections tbody tr") == 1

    # Delete the other connection: its tokens are revoked at the provider.
    with server.client() as http:
        token = http.post(
            "/v1/mgmt/outbound/app/user/token/latest",
            json={"appId": app_id, "userId": other, "options": {"withRefreshToken": True}},
        ).json()["token"]
    assert idp.introspect(token["refreshToken"], oauth_client)["active"] is True
    browser.goto(connections_url)
    browser.click(f"{row(other)} button:has-text('Delete')")
    assert "revoked at the provider" in browser.text("[role=status]")
    assert browser.count(row(other)) == 0
    assert idp.introspect(token["refreshToken"], oauth_client) == {"active": False}
    assert idp.introspect(token["accessToken"], oauth_client) == {"active": False}

    # The audit page (once the audit log is part of the build) lists what happened.
    browser.goto(server.base_url + "/console/audit")
    check_page(browser, "audit", backend)
    with_audit = browser.count("#audit-unavailable") == 0
    if with_audit:
        text = browser.text("#audit")
        assert "token.delete" in text and "app.create" in text

    # The refused deliveries fail (no retries configured) and can be sent again.
    browser.goto(server.base_url + "/console/")
    assert int(browser.text("#failed-deliveries")) >= 1
    # the refreshes above, as a chart drawn on the server (from the audit log)
    assert browser.count("#refresh-chart" if with_audit else "#chart-unavailable") == 1
    check_page(browser, "overview-later", backend)
    browser.goto(server.base_url + "/console/webhooks")
    browser.click("text=Deliveries")
    check_page(browser, "deliveries", backend)
    browser.click("button:has-text('Retry')")
    assert "queued to be sent again" in browser.text("[role=status]")

    # Keys: a session signed in with a key lists them but cannot make or revoke any (as the
    # API cannot); a session of outbound console-link (store access) can. A new key is shown
    # once, then only its id; it is revoked from the list.
    browser.goto(server.base_url + "/console/keys")
    assert browser.count("#create-key") == 0
    assert browser.count("#keys-need-store-access") == 1
    with ConsoleBrowser() as operator:
        operator.goto(console_link(server))
        assert operator.click("#continue").endswith("/console/")
        operator.goto(server.base_url + "/console/keys")
        check_page(operator, "keys", backend)
        operator.fill("#key-name", "ci")
        operator.click("#create-key")
        key = operator.value("#new-key")
        assert key.startswith("obk_")
        check_page(operator, "key-created", backend)
        operator.goto(server.base_url + "/console/keys")
        assert key not in operator.content()
        key_id = key.removeprefix("obk_").split("_")[0]
        operator.click(f"button[aria-label='Revoke key {key_id}']")
    assert httpx.get(
        server.base_url + "/v1/mgmt/outbound/apps",
        headers={"Authorization": f"Bearer {server.project_id}:{key}"},
    ).status_code in (401, 429)

    # Delete the app, after a confirmation page.
    browser.goto(f"{server.base_url}/console/apps/delete?{urlencode({'id': app_id})}")
    check_page(browser, "app-delete", backend)
    browser.click("#confirm-delete")
    assert "App deleted" in browser.text("[role=status]")

    # The session cookie's flags, and signing out ends the session on the server.
    cookie = next(c for c in browser.cookies() if c["name"] == "outbound_console")
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Strict"
    assert cookie["path"] == "/console"
    assert cookie["secure"] is False  # plain http on loopback; see the https test below
    replay = httpx.Client(base_url=server.base_url, cookies={cookie["name"]: cookie["value"]})
    assert replay.get("/console/keys").status_code == 200
    assert browser.click("#sign-out").endswith("/console/sign-in")
    assert replay.get("/console/keys").status_code == 303
    replay.close()

    log = server.log()
    for value in (secret, key, oauth_client.client_secret, cookie["value"], token["accessToken"]):
        assert value not in log


def test_a_form_posted_without_its_csrf_token_changes_nothing(server: LiveServer) -> None:
    client = http_sign_in(server)
    with contextlib.closing(client):
        form = {"name": "no-csrf", "clientId": "x", "value.issuer": "https://idp.example.com"}
        answer = client.post("/console/apps/new/template?id=oidc", data=form)
        assert answer.status_code == 403
        assert "nothing was changed" in answer.text
        wrong = client.post(
            "/console/apps/new/template?id=oidc", data={**form, "csrf": "not-the-token"}
        )
        assert wrong.status_code == 403
        assert client.post("/console/keys", data={"name": "no-csrf"}).status_code == 403
        # the sign-in form has a token of its own
        assert client.post("/console/sign-in", data={"projectId": "p"}).status_code == 403
    with server.client() as http:
        names = [app["name"] for app in http.get("/v1/mgmt/outbound/apps").json()["apps"]]
        keys = json.loads(
            "["
            + ",".join(
                outbound_cli(
                    "keys",
                    "list",
                    "--project",
                    server.project_id,
                    *server.store.args,
                    env=server.store.env,
                ).splitlines()
            )
            + "]"
        )
    assert "no-csrf" not in names
    assert "no-csrf" not in [k["name"] for k in keys]


def test_a_session_signed_in_with_a_key_cannot_create_or_revoke_keys(
    server: LiveServer,
) -> None:
    """A leaked management key must not become permanent access through the console: its
    session cannot mint a key nor revoke the operator's (the API has no such route either).
    Only a session of ``outbound console-link`` (store access) manages keys."""
    before = list_keys(server)
    operator_key_id = server.management_key.removeprefix("obk_").split("_")[0]
    leaked = http_sign_in(server)
    with contextlib.closing(leaked):
        page = leaked.get("/console/keys")
        csrf = _CSRF.search(page.text)
        assert csrf is not None
        made = leaked.post("/console/keys", data={"csrf": csrf.group(1), "name": "stolen"})
        assert made.status_code == 403 and "obk_" not in made.text
        assert "outbound console-link" in made.text
        revoked = leaked.post(
            "/console/keys/revoke", data={"csrf": csrf.group(1), "id": operator_key_id}
        )
        assert revoked.status_code == 403
        # and the page offers neither form
        assert 'action="/console/keys"' not in page.text
        assert 'action="/console/keys/revoke"' not in page.text
    assert list_keys(server) == before
    with server.client() as http:
        assert http.get("/v1/mgmt/outbound/apps").status_code == 200

    operator = link_sign_in(server)
    with contextlib.closing(operator):
        csrf = _CSRF.search(operator.get("/console/keys").text)
        assert csrf is not None
        made = operator.post("/console/keys", data={"csrf": csrf.group(1), "name": "by-link"})
        assert made.status_code == 200
        key = re.search(r'id="new-key" value="(obk_[^"]+)"', made.text)
        assert key is not None
        key_id = key.group(1).removeprefix("obk_").split("_")[0]
        answer = operator.post("/console/keys/revoke", data={"csrf": csrf.group(1), "id": key_id})
        assert answer.status_code == 303
    after = {k["id"]: k for k in list_keys(server)}
    assert after[key_id]["name"] == "by-link" and after[key_id]["revoked"] is True


def test_a_fetch_only_key_cannot_sign_in(server: LiveServer) -> None:
    created = outbound_cli(
        "keys",
        "create",
        "--project",
        server.project_id,
        "--fetch-only",
        *server.store.args,
        env=server.store.env,
    )
    fetch_only = json.loads(created)["managementKey"]
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        csrf = _CSRF.search(client.get("/console/sign-in").text)
        assert csrf is not None
        answer = client.post(
            "/console/sign-in",
            data={
                "csrf": csrf.group(1),
                "projectId": server.project_id,
                "managementKey": fetch_only,
            },
        )
        assert answer.status_code == 403
        assert "cannot sign in" in answer.text
        assert "outbound_console" not in client.cookies
        assert client.get("/console/").headers["location"] == "/console/sign-in"


def test_failed_sign_ins_are_rate_limited(store: Store) -> None:
    with (
        running_server(store, extra_args=["--auth-failure-limit", "3"]) as server,
        httpx.Client(base_url=server.base_url, timeout=30) as client,
    ):
        csrf = _CSRF.search(client.get("/console/sign-in").text)
        assert csrf is not None
        statuses = [
            client.post(
                "/console/sign-in",
                data={
                    "csrf": csrf.group(1),
                    "projectId": server.project_id,
                    "managementKey": f"obk_wrong{i}",
                },
            ).status_code
            for i in range(5)
        ]
        assert statuses[:3] == [401, 401, 401]
        assert statuses[3:] == [429, 429]
        # a right key still signs in: failures never lock the real operator out
        answer = client.post(
            "/console/sign-in",
            data={
                "csrf": csrf.group(1),
                "projectId": server.project_id,
                "managementKey": server.management_key,
            },
        )
        assert answer.status_code == 303


def test_a_console_link_signs_in_once_within_five_minutes(server: LiveServer) -> None:
    url = outbound_cli(
        "console-link",
        "--project",
        server.project_id,
        "--public-url",
        server.base_url,
        *server.store.args,
        env=server.store.env,
    ).strip()
    assert url.startswith(server.base_url + "/console/link?token=")
    with httpx.Client(timeout=30) as client:
        page = client.get(url)
        assert page.status_code == 200 and 'id="continue"' in page.text
        csrf = _CSRF.search(page.text)
        assert csrf is not None
        token = dict(parse_qsl(urlsplit(url).query))["token"]
        answer = client.post(
            server.base_url + "/console/link", data={"csrf": csrf.group(1), "token": token}
        )
        assert answer.status_code == 303
        assert client.get(server.base_url + "/console/apps").status_code == 200
    with httpx.Client(timeout=30) as again:
        assert again.get(url).status_code == 400  # used up


def test_the_session_cookie_is_secure_behind_https(store: Store) -> None:
    public = "https://console.example.test"
    with running_server(store, extra_args=["--public-url", public]) as server:
        headers = {"Host": "console.example.test"}
        with httpx.Client(base_url=server.base_url, headers=headers, timeout=30) as client:
            page = client.get("/console/sign-in")
            pre = page.headers["set-cookie"]
            assert "Secure" in pre
            csrf = _CSRF.search(page.text)
            assert csrf is not None
            # (httpx keeps a Secure cookie off plain http, as a browser would: sent by hand)
            answer = client.post(
                "/console/sign-in",
                headers={"Cookie": pre.split(";")[0]},
                data={
                    "csrf": csrf.group(1),
                    "projectId": server.project_id,
                    "managementKey": server.management_key,
                },
            )
        cookie = answer.headers["set-cookie"]
        assert answer.status_code == 303
        assert all(flag in cookie for flag in ("HttpOnly", "Secure", "SameSite=strict"))


def test_a_session_ends_when_idle_or_when_its_key_is_revoked(server: LiveServer) -> None:
    idle = http_sign_in(server)
    with contextlib.closing(idle):
        assert idle.get("/console/apps").status_code == 200
        # 31 minutes without a page view (the idle limit is 30)
        execute(
            server.store,
            "UPDATE console_sessions SET last_seen_at = last_seen_at - 1860"
            " WHERE kind = 'session' AND ended_at IS NULL",
        )
        assert idle.get("/console/apps").headers["location"] == "/console/sign-in"

    created = outbound_cli(
        "keys", "create", "--project", server.project_id,
        *server.store.args, env=server.store.env,
    )  # fmt: skip
    key = json.loads(created)["managementKey"]
    signed_in = http_sign_in(server, key)
    with contextlib.closing(signed_in):
        assert signed_in.get("/console/apps").status_code == 200
        key_id = key.removeprefix("obk_").split("_")[0]
        outbound_cli(
            "keys", "revoke", "--project", server.project_id, key_id,
            *server.store.args, env=server.store.env,
        )  # fmt: skip
        assert signed_in.get("/console/apps").headers["location"] == "/console/sign-in"


def test_every_console_page_carries_the_strict_headers(server: LiveServer) -> None:
    client = http_sign_in(server)
    with contextlib.closing(client):
        for path in ("/console/sign-in", "/console/", "/console/apps", "/console/keys"):
            headers = client.get(path).headers
            csp = headers["content-security-policy"]
            assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp, path
            assert "script-src 'self'" in csp and "style-src 'self'" in csp, path
            assert "unsafe-inline" not in csp, path
            assert headers["x-frame-options"] == "DENY", path
            assert headers["referrer-policy"] == "no-referrer", path
            assert headers["x-content-type-options"] == "nosniff", path
            assert headers["cache-control"] == "no-store", path
        sheet = client.get("/console/static/console.css")
        assert sheet.status_code == 200
        assert sheet.headers["content-type"].startswith("text/css")
        assert sheet.headers["x-content-type-options"] == "nosniff"
        page = client.get("/console/").text
        assert "<script>" not in page and "style=" not in page
