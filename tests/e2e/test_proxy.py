"""The proxy against the real authorization server the suite runs (oidc-provider): its
userinfo endpoint is the protected resource, called through the vault with the user's
stored token — refreshed once when expired, refreshed once when the provider answers 401,
and refreshed once however many calls race on however many servers."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
from tests.e2e.conftest import Vault, create_app
from tests.e2e.test_scale_out import cluster  # noqa: F401 - the three-server fixture
from tests.support.oidc_server import OidcServer

USERINFO = "me"  # oidc-provider's userinfo endpoint, under its issuer


def proxy_app(vault: Vault) -> Vault:
    """An app like the vault's whose apiBaseUrl is the provider itself."""
    oauth_client, app_id = create_app(
        vault.server, vault.idp, vault.catcher, apiBaseUrl=vault.idp.issuer
    )
    return Vault(vault.server, vault.idp, oauth_client, vault.catcher, app_id)


def call(vault: Vault, user: str, path: str = USERINFO) -> httpx.Response:
    with vault.http as http:
        return http.get(
            f"/v1/outbound/proxy/{vault.app_id}/{path}", headers={"Outbound-User-Id": user}
        )


def test_userinfo_through_the_proxy_with_the_stored_token(
    vault: Vault, fresh_idp: OidcServer
) -> None:
    app = proxy_app(vault)
    user = app.new_user()
    assert app.connect_quickly(user)["status"] == "success"
    answer = call(app, user)
    assert answer.status_code == 200, answer.text
    assert answer.json()["sub"] == user
    assert answer.headers["outbound-request-id"]


def test_an_expired_token_is_refreshed_once_then_the_call_succeeds(
    vault: Vault, fresh_idp: OidcServer
) -> None:
    app = proxy_app(vault)
    user = app.new_user()
    assert app.connect_quickly(user)["status"] == "success"
    fresh_idp.reset()
    app.expire(user)
    answer = call(app, user)
    assert answer.status_code == 200 and answer.json()["sub"] == user
    assert fresh_idp.grants()["success"] == {"refresh_token": 1}
    assert call(app, user).status_code == 200
    assert fresh_idp.grants()["success"] == {"refresh_token": 1}


def _upload(app: Vault, user: str, access_token: str, refresh_token: str) -> None:
    """Store an access token the provider does not know (its expiry far ahead) with the
    user's real refresh token: the provider answers the next call 401."""
    with app.http as http:
        response = http.post(
            "/v1/mgmt/outbound/app/user/oauthtoken/upload",
            json={"appId": app.app_id, "userId": user, "accessToken": access_token,
                  "refreshToken": refresh_token, "accessTokenExpiry": int(time.time()) + 3600,
                  "scopes": ["openid", "email", "read"]},
        )  # fmt: skip
    assert response.status_code == 200, response.text


def test_a_401_is_refreshed_once_and_retried(vault: Vault, fresh_idp: OidcServer) -> None:
    app = proxy_app(vault)
    user = app.new_user()
    assert app.connect_quickly(user)["status"] == "success"
    token = app.token(user, withRefreshToken=True)
    _upload(app, user, "not-a-token-the-provider-issued", token["refreshToken"])
    fresh_idp.reset()
    answer = call(app, user)
    assert answer.status_code == 200, answer.text
    assert answer.json()["sub"] == user
    assert fresh_idp.grants()["success"] == {"refresh_token": 1}


def test_a_401_whose_refresh_is_refused_answers_reconnect_required(
    vault: Vault, fresh_idp: OidcServer
) -> None:
    app = proxy_app(vault)
    user = app.new_user()
    assert app.connect_quickly(user)["status"] == "success"
    _upload(app, user, "not-a-token-the-provider-issued", "not-a-refresh-token-either")
    fresh_idp.reset()
    answer = call(app, user)
    assert (answer.status_code, answer.json()["errorCode"]) == (409, "E131010")
    assert answer.headers["outbound-error"] == "1"
    assert fresh_idp.grants()["error"] == {"refresh_token": 1}
    # the connection is marked as a failed refresh marks it: no second try at the provider
    assert call(app, user).json()["errorCode"] == "E131010"
    assert fresh_idp.grants()["error"] == {"refresh_token": 1}


async def _race(vaults: list[Vault], app_id: str, user: str, count: int) -> list[httpx.Response]:
    clients = [
        httpx.AsyncClient(
            base_url=v.server.base_url,
            headers={**v.server.auth_header, "Outbound-User-Id": user},
            timeout=60,
            limits=httpx.Limits(max_connections=count),
        )
        for v in vaults
    ]
    try:
        await asyncio.gather(*(clients[i % len(clients)].get("/health") for i in range(count)))
        return await asyncio.gather(
            *(
                clients[i % len(clients)].get(f"/v1/outbound/proxy/{app_id}/{USERINFO}")
                for i in range(count)
            )
        )
    finally:
        for client in clients:
            await client.aclose()


def _cluster_app(servers: list[Vault]) -> list[Vault]:
    first = servers[0]
    public_url = first.server.base_url
    oauth_client, app_id = create_app(
        first.server, first.idp, first.catcher, callback_base=public_url,
        apiBaseUrl=first.idp.issuer,
    )  # fmt: skip
    return [Vault(v.server, v.idp, oauth_client, v.catcher, app_id) for v in servers]


@pytest.mark.parametrize("how", ["expired", "401"])
def test_sixty_proxied_calls_on_three_servers_refresh_once(
    cluster: list[Vault],  # noqa: F811
    idp: OidcServer,
    how: str,
) -> None:
    vaults: Any = _cluster_app(cluster)
    first = vaults[0]
    user = first.new_user()
    assert first.connect_quickly(user)["status"] == "success"
    if how == "expired":
        first.expire(user)
    else:
        token = first.token(user, withRefreshToken=True)
        _upload(first, user, "not-a-token-the-provider-issued", token["refreshToken"])
    idp.reset()
    responses = asyncio.run(_race(vaults, first.app_id, user, 60))
    assert [r.status_code for r in responses] == [200] * 60, responses[0].text
    assert {r.json()["sub"] for r in responses} == {user}
    assert idp.grants() == {"tokenRequests": 1, "success": {"refresh_token": 1}, "error": {}}
