"""What an application written against the official ``descope`` SDK sees: an app made with the
SDK, a user connected in a real browser, then fetch, forced refresh, a reconnect-needed error
and delete — all through the SDK, against the real provider."""

from __future__ import annotations

import secrets
import warnings
from collections.abc import Iterator

import httpx
import pytest
from descope import AuthException, DescopeClient
from descope.management.common import PromptType
from tests.e2e.conftest import Vault, callback_url
from tests.support.browser import CallbackCatcher, drive_consent
from tests.support.oidc_server import OidcServer
from tests.support.server import LiveServer

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def descope(vault_server: LiveServer) -> Iterator[DescopeClient]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the SDK's own start-up notes are not ours to judge
        client = DescopeClient(
            project_id=vault_server.project_id,
            management_key=vault_server.management_key,
            base_url=vault_server.base_url,
        )
    yield client


@pytest.fixture(scope="module")
def vault_server(vault: Vault) -> LiveServer:
    return vault.server


def test_the_sdk_sees_connect_refresh_and_delete(
    descope: DescopeClient, vault_server: LiveServer, idp: OidcServer, catcher: CallbackCatcher
) -> None:
    apps = descope.mgmt.outbound_application
    oauth_client = idp.add_client([callback_url(vault_server)])
    app = apps.create_application(
        name="calendar-" + secrets.token_hex(3),
        client_id=oauth_client.client_id,
        client_secret=oauth_client.client_secret,
        discovery_url=idp.discovery_url,
        default_scopes=["openid", "email", "read"],
        default_redirect_url=catcher.url,
        pkce=True,
        prompt=[PromptType.CONSENT],
    )["app"]
    assert app["callbackUrl"] == callback_url(vault_server)
    user = "sdk-user-" + secrets.token_hex(3)

    # The SDK has no connect call: the app's backend asks for the link over plain HTTP.
    with vault_server.client() as http:
        link = http.post(
            "/v1/mgmt/outbound/app/connect", json={"appId": app["id"], "userId": user}
        ).json()["url"]
    final = drive_consent(link, stop_at=catcher.url, login=user)
    assert httpx.URL(final).params["status"] == "success"

    token = apps.fetch_token(app["id"], user)["token"]
    assert idp.introspect(token["token"])["sub"] == user
    assert apps.list_apps_with_user_token(user)["appIds"] == [app["id"]]

    forced = apps.fetch_token(app["id"], user, options={"forceRefresh": True})["token"]
    assert forced["token"] != token["token"]
    assert idp.introspect(forced["token"])["active"] is True

    idp.revoke_account(user)
    with pytest.raises(AuthException) as refused:
        apps.fetch_token(app["id"], user, options={"forceRefresh": True})
    assert refused.value.status_code == 409
    assert "E131010" in str(refused.value)
    assert apps.list_apps_with_user_token(user)["appIds"] == []

    apps.delete_token(forced["id"])
    with pytest.raises(AuthException) as gone:
        apps.fetch_token(app["id"], user)
    assert gone.value.status_code == 404
