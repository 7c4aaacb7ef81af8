"""Secrets never print: client and result reprs, errors, and debug logs of every layer."""

from __future__ import annotations

import logging

import pytest

from outbound import AsyncClient, Client, NotFoundError
from tests.support.server import LiveServer

from .conftest import OAUTH_APP, Twin, new_secret, unique


def test_client_reprs_hide_the_management_key(live_server: LiveServer) -> None:
    key = live_server.management_key
    for cls in (Client, AsyncClient):
        client = cls(live_server.project_id, key, live_server.base_url)
        texts = [
            repr(client),
            str(client),
            repr(client.mgmt.outbound_application),
            repr(client._config),
            repr(client._http_headers),
        ]
        assert all(key not in text for text in texts), texts
        assert "management_key='**********'" in repr(client)
        if isinstance(client, Client):
            client.close()


async def test_debug_logs_and_results_never_show_secrets(
    twin: Twin, caplog: pytest.LogCaptureFixture, live_server: LiveServer
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger: ours, httpx, httpcore, asyncio
    client_secret, access, refresh, id_token, api_key = (new_secret() for _ in range(5))
    secrets = [client_secret, access, refresh, id_token, api_key, live_server.management_key]

    app = await twin.call(
        "create_application", unique("app"), client_secret=client_secret, **OAUTH_APP
    )
    app_id = app["app"]["id"]
    user = unique("user")
    await twin.call(
        "upload_user_token",
        app_id,
        user,
        access_token=access,
        refresh_token=refresh,
        id_token=id_token,
    )
    await twin.call(
        "batch_upload_user_tokens",
        [{"appId": app_id, "userId": unique("u"), "accessToken": access}],
    )
    token = await twin.call("fetch_token", app_id, user, None, {"withRefreshToken": True})
    keys_app = await twin.call("create_application", unique("keys"))
    await twin.call("upload_user_api_key", keys_app["app"]["id"], user, api_key)
    key_token = await twin.call("fetch_token", keys_app["app"]["id"], user)
    with pytest.raises(NotFoundError) as caught:
        await twin.call("fetch_token", app_id, unique("nobody"))

    assert token["token"]["refreshToken"] == refresh  # the values are there to read…
    shown = "\n".join(
        [
            caplog.text,
            repr(token),
            str(token),
            repr(key_token),
            repr(caught.value),
            str(caught.value),
        ]
    )
    for secret in secrets:  # …and nowhere in what prints
        assert secret not in shown
    # the debug log did record the exchanges, with stars where the secrets were
    assert "-> POST /v1/mgmt/outbound/app/user/oauthtoken/upload" in caplog.text
    assert "<- POST /v1/mgmt/outbound/app/user/token/latest 200" in caplog.text
    assert "'refreshToken': '**********'" in caplog.text
