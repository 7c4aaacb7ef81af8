"""The console tells the truth about every action it performs: refresh, delete (a connection, an
app), retry a delivery, delete a webhook — on failure with the error code and the
provider's or the store's reason, never a success notice for something that did not happen.

Over HTTP with a signed-in console session, against a real ``outbound serve`` and the real
oidc-provider (the walk-through in a browser is tests/e2e/test_console.py).
"""

from __future__ import annotations

import html
import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from tests.api.test_verify_connection import FakeGitea
from tests.e2e.conftest import Vault, create_app
from tests.e2e.test_console import http_sign_in
from tests.support.oidc_server import OidcServer
from tests.support.server import free_port

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
_STATUS = re.compile(r'<p class="notice" role="status">(.*?)</p>', re.S)
_ALERT = re.compile(r'<p class="error" role="alert">(.*?)</p>', re.S)


@pytest.fixture
def console(vault: Vault, idp: OidcServer) -> Iterator[httpx.Client]:
    idp.reset()
    client = http_sign_in(vault.server)
    try:
        yield client
    finally:
        client.close()
    idp.reset()


def _act(client: httpx.Client, page: str, action: str, **fields: str) -> tuple[str, str]:
    """Post a console form as its page would (with the page's CSRF token) and follow the
    redirect: the (notice, alert) the operator reads."""
    csrf = _CSRF.search(client.get(page).text)
    assert csrf is not None
    answer = client.post(action, data={"csrf": csrf.group(1), **fields})
    assert answer.status_code == 303, answer.text[:500]
    shown = client.get(answer.headers["location"]).text
    notices = _STATUS.findall(shown)
    alerts = _ALERT.findall(shown)
    return html.unescape(" ".join(notices)), html.unescape(" ".join(alerts))


def _connections(app_id: str) -> str:
    return f"/console/connections?app={app_id}"


def _token_id(vault: Vault, user: str, app_id: str | None = None) -> str:
    with vault.http as http:
        answer = http.post(
            "/v1/mgmt/outbound/app/user/token/latest",
            json={"appId": app_id or vault.app_id, "userId": user},
        )
    assert answer.status_code == 200, answer.text
    token: dict[str, Any] = answer.json()["token"]
    vault.seen.add(token["accessToken"])
    return str(token["id"])


def _connected(vault: Vault) -> tuple[str, str]:
    user = vault.new_user()
    assert vault.connect_quickly(user)["status"] == "success"
    return user, _token_id(vault, user)


def test_refresh_now_reports_a_failed_refresh_with_its_code(
    vault: Vault, idp: OidcServer, console: httpx.Client
) -> None:
    """The token is still alive, so a fetch would serve it through the provider's failure;
    "Refresh now" asked the provider, and says it failed."""
    user, token_id = _connected(vault)
    idp.fault("status", status=503, seconds=60)

    notice, alert = _act(
        console,
        _connections(vault.app_id),
        "/console/connections/refresh",
        token=token_id,
        app=vault.app_id,
    )

    assert "Refreshed" not in notice
    assert "The refresh failed (E131011)" in alert
    assert "HTTP 503" in alert

    idp.heal()
    notice, alert = _act(
        console,
        _connections(vault.app_id),
        "/console/connections/refresh",
        token=token_id,
        app=vault.app_id,
    )
    assert (notice, alert) == ("Refreshed at the provider.", "")
    assert idp.successful_grants("refresh_token") == 1

    # Consent withdrawn at the provider: the code says reconnect.
    assert idp.revoke_account(user) >= 1
    notice, alert = _act(
        console,
        _connections(vault.app_id),
        "/console/connections/refresh",
        token=token_id,
        app=vault.app_id,
    )
    assert notice == ""
    assert "The refresh failed (E131010)" in alert


def test_deleting_a_connection_says_whether_the_provider_revoked_it(
    vault: Vault, idp: OidcServer, console: httpx.Client
) -> None:
    user, token_id = _connected(vault)
    with vault.http as http:
        refresh_token = http.post(
            "/v1/mgmt/outbound/app/user/token/latest",
            json={"appId": vault.app_id, "userId": user, "options": {"withRefreshToken": True}},
        ).json()["token"]["refreshToken"]
    vault.seen.add(refresh_token)

    notice, alert = _act(
        console,
        _connections(vault.app_id),
        "/console/connections/delete",
        token=token_id,
        app=vault.app_id,
    )

    assert (notice, alert) == ("Connection deleted; its tokens were revoked at the provider.", "")
    assert not idp.is_active(refresh_token)


def _app_with_revocation(vault: Vault, idp: OidcServer, revocation_url: str) -> str:
    """An app without discovery whose revocation endpoint is ``revocation_url`` ("" for
    none), with an uploaded token for a new user; the user."""
    _, app_id = create_app(
        vault.server,
        idp,
        vault.catcher,
        discoveryUrl="",
        authorizationUrl=f"{idp.issuer}/auth",
        tokenUrl=f"{idp.issuer}/token",
        revocationUrl=revocation_url,
    )
    user = vault.new_user()
    with vault.http as http:
        uploaded = http.post(
            "/v1/mgmt/outbound/app/user/oauthtoken/upload",
            json={
                "appId": app_id,
                "userId": user,
                "accessToken": "uploaded-access-token",
                "refreshToken": "uploaded-refresh-token",
                "accessTokenExpiry": int(time.time()) + 3600,
            },
        )
    assert uploaded.status_code == 200, uploaded.text
    return app_id


def test_a_failed_revocation_is_reported_not_hidden(
    vault: Vault, idp: OidcServer, console: httpx.Client
) -> None:
    nobody_listens = f"http://127.0.0.1:{free_port()}/revoke"
    app_id = _app_with_revocation(vault, idp, nobody_listens)
    (connection,) = _connection_ids(vault, app_id)

    notice, alert = _act(
        console, _connections(app_id), "/console/connections/delete", token=connection, app=app_id
    )

    assert notice == ""
    assert alert.startswith("Deleted here, but revoking at the provider failed: ")
    assert "stay valid there" in alert
    assert _connection_ids(vault, app_id) == []


def test_a_provider_without_revocation_is_said_so(
    vault: Vault, idp: OidcServer, console: httpx.Client
) -> None:
    app_id = _app_with_revocation(vault, idp, "")
    (connection,) = _connection_ids(vault, app_id)

    notice, alert = _act(
        console, _connections(app_id), "/console/connections/delete", token=connection, app=app_id
    )

    assert alert == ""
    assert "no revocation endpoint" in notice
    assert "were revoked" not in notice

    # Deleting the whole app says the same, not "revoked".
    other = _app_with_revocation(vault, idp, "")
    notice, alert = _act(
        console, f"/console/apps/delete?id={other}", f"/console/apps/delete?id={other}"
    )
    assert alert == ""
    assert notice.startswith("App deleted. The provider has no revocation endpoint")


def test_deleting_an_app_whose_revocation_fails_says_so(
    vault: Vault, idp: OidcServer, console: httpx.Client
) -> None:
    app_id = _app_with_revocation(vault, idp, f"http://127.0.0.1:{free_port()}/revoke")
    page = f"/console/apps/delete?id={app_id}"

    notice, alert = _act(console, page, page)

    assert notice == ""
    assert alert.startswith("Deleted here, but revoking at the provider failed: ")


def _connection_ids(vault: Vault, app_id: str) -> list[str]:
    with vault.http as http:
        listed = http.get("/v1/mgmt/outbound/connections", params={"appId": app_id})
    assert listed.status_code == 200, listed.text
    return [c["id"] for c in listed.json()["connections"]]


def test_actions_on_things_that_are_gone_say_so(vault: Vault, console: httpx.Client) -> None:
    notice, alert = _act(
        console, "/console/webhooks", "/console/webhooks/delete", id="no-such-webhook"
    )
    assert notice == ""
    assert "does not exist" in alert

    with vault.http as http:
        created = http.post(
            "/v1/mgmt/outbound/webhooks", json={"url": "https://hooks.example.com/outbound"}
        )
    assert created.status_code == 200, created.text
    webhook_id = created.json()["webhook"]["id"]
    notice, alert = _act(
        console,
        f"/console/webhooks/deliveries?id={webhook_id}",
        "/console/webhooks/retry",
        webhook=webhook_id,
        delivery="no-such-delivery",
    )
    assert notice == ""
    assert "Not retried" in alert
    with vault.http as http:
        http.delete(f"/v1/mgmt/outbound/webhooks/{webhook_id}")


def test_rotating_a_webhook_secret_shows_the_new_one_once(
    vault: Vault, console: httpx.Client
) -> None:
    with vault.http as http:
        created = http.post(
            "/v1/mgmt/outbound/webhooks", json={"url": "https://hooks.example.com/rotate"}
        )
    assert created.status_code == 200, created.text
    webhook_id = created.json()["webhook"]["id"]
    old_secret = created.json()["secret"]
    try:
        csrf = _CSRF.search(console.get("/console/webhooks").text)
        assert csrf is not None
        page = console.post(
            "/console/webhooks/rotate", data={"csrf": csrf.group(1), "id": webhook_id}
        )
        assert page.status_code == 200, page.text[:500]
        assert "Secret rotated" in page.text
        new_secret = re.search(r'id="webhook-secret" value="([^"]+)"', page.text)
        assert new_secret is not None
        assert new_secret.group(1).startswith("whsec_")
        assert new_secret.group(1) != old_secret
        # Shown once: the list does not show it again.
        assert new_secret.group(1) not in console.get("/console/webhooks").text
    finally:
        with vault.http as http:
            http.delete(f"/v1/mgmt/outbound/webhooks/{webhook_id}")

    notice, alert = _act(console, "/console/webhooks", "/console/webhooks/rotate", id=webhook_id)
    assert notice == ""
    assert "Not rotated" in alert


def test_verify_names_the_account_or_says_why_not(vault: Vault, console: httpx.Client) -> None:
    """The Verify button: the provider's whoami answer (a fake Gitea, as its API documents
    the user), or the reason there is none — never the token."""
    user, token_id = _connected(vault)
    notice, alert = _act(
        console,
        _connections(vault.app_id),
        "/console/connections/verify",
        token=token_id,
        app=vault.app_id,
    )
    assert notice == "" and "Verification failed" in alert and "names no whoami" in alert

    with FakeGitea() as gitea, vault.http as http:
        token = "gitea-console-token"
        gitea.tokens[token] = {"id": 42, "login": "hubot", "email": "hubot@example.com"}
        created = http.post(
            "/v1/mgmt/outbound/app/create",
            json={
                "name": "verify-console",
                "templateId": "gitea",
                "authorizationUrl": f"{gitea.url}/login/oauth/authorize",
                "tokenUrl": f"{gitea.url}/login/oauth/access_token",
            },
        )
        assert created.status_code == 200, created.text
        app_id = created.json()["app"]["id"]
        uploaded = http.post(
            "/v1/mgmt/outbound/app/user/oauthtoken/upload",
            json={"appId": app_id, "userId": user, "accessToken": token},
        )
        assert uploaded.status_code == 200, uploaded.text
        (connection,) = http.get("/v1/mgmt/outbound/connections", params={"appId": app_id}).json()[
            "connections"
        ]
        page = console.get(_connections(app_id)).text
        assert 'action="/console/connections/verify"' in page
        notice, alert = _act(
            console,
            _connections(app_id),
            "/console/connections/verify",
            token=connection["id"],
            app=app_id,
        )
        http.post("/v1/mgmt/outbound/app/delete", json={"id": app_id})
    assert (notice, alert) == ("Verified with the provider: this connection is hubot (id 42).", "")
    assert token not in notice
