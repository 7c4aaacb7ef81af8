"""kill -9 of the server while it completes a connection (the browser is back at the callback,
the code exchange is under way): afterwards nothing is half-done — the callback, replayed, is
refused as used up, no token was stored — and the user starts again from the app and
connects."""

from __future__ import annotations

import contextlib
import threading
import time

import httpx
from tests.e2e.conftest import CALLBACK_PATH, SERVER_ARGS, Vault, create_app, scripted_consent
from tests.support.browser import CallbackCatcher
from tests.support.database import execute
from tests.support.oidc_server import OidcServer
from tests.support.server import Store, start_server, stop_server


def test_a_server_killed_during_the_callback(
    store: Store, idp: OidcServer, catcher: CallbackCatcher
) -> None:
    # The browser: its cookie binds the flow to it (the callback needs it).
    agent = httpx.Client(timeout=30)
    try:
        _kill_during_the_callback_then_connect(store, idp, catcher, agent)
    finally:
        agent.close()


def _kill_during_the_callback_then_connect(
    store: Store, idp: OidcServer, catcher: CallbackCatcher, agent: httpx.Client
) -> None:
    server = start_server(store, extra_args=SERVER_ARGS)
    project = (server.project_id, server.management_key)
    port = int(server.base_url.rsplit(":", 1)[1])
    try:
        oauth_client, app_id = create_app(server, idp, catcher)
        vault = Vault(server, idp, oauth_client, catcher, app_id)
        user = vault.new_user()
        callback = scripted_consent(
            vault.link(user), server.base_url + CALLBACK_PATH, user, agent=agent
        )
        idp.reset()
        idp.fault("delay", seconds=30)  # the code exchange is held at the provider

        def browser_returns() -> None:
            with contextlib.suppress(httpx.TransportError):  # the server dies under it
                agent.get(callback)

        browser = threading.Thread(target=browser_returns)
        browser.start()
        deadline = time.monotonic() + 10
        while idp.grants()["tokenRequests"] < 1:
            assert time.monotonic() < deadline, "the callback never reached the provider"
            time.sleep(0.01)
        server.process.kill()
        server.process.wait()
        browser.join(10)
        idp.reset()
    finally:
        stop_server(server)

    server = start_server(store, port=port, project=project, extra_args=SERVER_ARGS)
    try:
        vault = Vault(server, idp, oauth_client, catcher, app_id)
        # Nothing half-done: no token, and the used-up callback cannot complete it later.
        assert vault.fetch(user).status_code == 404
        replayed = agent.get(callback)
        assert replayed.status_code == 400
        assert "already used" in replayed.text
        assert vault.fetch(user).status_code == 404
        completed = execute(
            store,
            "SELECT COUNT(*) FROM connect_sessions WHERE user_id = ? AND completed_at IS NOT NULL",
            (user,),
        )
        assert completed[0][0] == 1
        # The user starts again from the app, and connects.
        assert vault.connect_quickly(user)["status"] == "success"
        token = vault.token(user, withRefreshToken=True)
        assert idp.introspect(token["accessToken"])["active"] is True
        assert idp.is_active(token["refreshToken"])
    finally:
        stop_server(server)
