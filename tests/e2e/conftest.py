"""End to end: real ``outbound serve`` processes, a real authorization server (npm
``oidc-provider``) and a real browser (Debian's chromium), on loopback.

Every test connects its own user, so tests share the servers but never a token.
"""

from __future__ import annotations

import contextlib
import html
import re
import secrets
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import httpx
import pytest
from tests.conftest import PerBackend
from tests.support.browser import CallbackCatcher, drive_consent
from tests.support.database import execute
from tests.support.oidc_server import OidcClient, OidcServer
from tests.support.server import (
    LiveServer,
    Store,
    free_port,
    postgres_database,
    running_server,
    start_server,
    stop_server,
)

# A provider that stops answering must turn into a prompt error: tests run the servers with a
# short provider timeout so that "prompt" is measurable.
PROVIDER_TIMEOUT = 2.0
SERVER_ARGS = ["--provider-timeout", str(PROVIDER_TIMEOUT)]
CALLBACK_PATH = "/v1/outbound/oauth/callback"


def callback_url(server: LiveServer, base: str | None = None) -> str:
    """The redirect URI of the apps of ``server``'s project (one callback per project)."""
    return f"{base or server.base_url}{CALLBACK_PATH}/{quote(server.project_id, safe='')}"


@pytest.fixture(scope="session")
def idp() -> Iterator[OidcServer]:
    with OidcServer() as server:
        yield server


@pytest.fixture(scope="session")
def catcher() -> Iterator[CallbackCatcher]:
    """The app's own page that browsers land on after connecting."""
    with CallbackCatcher() as catcher:
        yield catcher


@dataclass
class Vault:
    """One ``outbound serve`` with an OAuth app that points at the test provider."""

    server: LiveServer
    idp: OidcServer
    oauth_client: OidcClient
    catcher: CallbackCatcher
    app_id: str
    # every secret a test saw go by: none may appear in the server's log
    seen: set[str] = field(default_factory=set)

    @property
    def http(self) -> httpx.Client:
        return self.server.client()

    def new_user(self) -> str:
        return "user-" + secrets.token_hex(4)

    def link(self, user_id: str, **options: Any) -> str:
        body = {"appId": self.app_id, "userId": user_id, "options": options or None}
        with self.http as http:
            response = http.post("/v1/mgmt/outbound/app/connect", json=body)
        assert response.status_code == 200, response.text
        url: str = response.json()["url"]
        self.seen.add(httpx.URL(url).params["link"])
        return url

    def connect(self, user_id: str, *, approve: bool = True, **options: Any) -> dict[str, str]:
        """Send the user's browser through the whole flow; the query the app's page got."""
        final = drive_consent(
            self.link(user_id, **options), stop_at=self.catcher.url, login=user_id, approve=approve
        )
        return dict(parse_qsl(urlsplit(final).query))

    def connect_quickly(self, user_id: str, **options: Any) -> dict[str, str]:
        """The same flow without starting a browser: for tests about what happens after
        connecting (the flow itself is tested in chromium)."""
        final = scripted_consent(self.link(user_id, **options), self.catcher.url, user_id)
        return dict(parse_qsl(urlsplit(final).query))

    def fetch(self, user_id: str, **options: Any) -> httpx.Response:
        body = {"appId": self.app_id, "userId": user_id, "options": options or None}
        with self.http as http:
            return http.post("/v1/mgmt/outbound/app/user/token/latest", json=body)

    def token(self, user_id: str, **options: Any) -> dict[str, Any]:
        response = self.fetch(user_id, **options)
        assert response.status_code == 200, response.text
        token: dict[str, Any] = response.json()["token"]
        self.seen.update(t for t in (token["accessToken"], token.get("refreshToken")) if t)
        return token

    def expire(self, user_id: str, *, seconds_left: int = -1) -> None:
        """Age the stored token as the clock would: obtained an hour (its lifetime) ago,
        ``seconds_left`` to live. The provider's token itself stays valid."""
        import time

        expiry = int(time.time()) + seconds_left
        execute(
            self.server.store,
            "UPDATE tokens SET access_token_expiry = ?, last_refresh_time = ?"
            " WHERE app_id = ? AND user_id = ?",
            (expiry, expiry - 3600, self.app_id, user_id),
        )

    def row_version(self, user_id: str) -> int:
        rows = execute(
            self.server.store,
            "SELECT version FROM tokens WHERE app_id = ? AND user_id = ?",
            (self.app_id, user_id),
        )
        return int(rows[0][0])


_FORM = re.compile(r'<form[^>]*action="([^"]+)"[^>]*method="post"', re.I)
_HIDDEN = re.compile(r'<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"', re.I)


def scripted_consent(url: str, stop_at: str, login: str, agent: httpx.Client | None = None) -> str:
    """Press the connect page's button, sign in at the test provider and approve, posting
    their forms as a browser would; returns the first URL starting with ``stop_at`` that the
    flow redirects to. ``agent`` (kept open) holds the browser's cookies."""
    with contextlib.ExitStack() as stack:
        if agent is None:
            agent = stack.enter_context(httpx.Client(timeout=30))
        response = agent.get(url)
        for _ in range(20):
            if response.is_redirect:
                url = str(response.url.join(response.headers["location"]))
                if url.startswith(stop_at):
                    return url
                response = agent.get(url)
                continue
            form = _FORM.search(response.text)
            assert response.status_code == 200 and form, response.text[:500]
            fields = dict(_HIDDEN.findall(response.text))
            if fields.get("prompt") == "login":
                fields.update(login=login, password="correct-horse")
            response = agent.post(response.url.join(html.unescape(form.group(1))), data=fields)
    raise AssertionError(f"the flow never reached {stop_at}")


def create_app(
    server: LiveServer,
    idp: OidcServer,
    catcher: CallbackCatcher,
    callback_base: str | None = None,
    **fields: Any,
) -> tuple[OidcClient, str]:
    """Register the server's callback at the provider and create an app for it."""
    oauth_client = idp.add_client([callback_url(server, callback_base)])
    app_id = "idp-" + secrets.token_hex(3)
    with server.client() as http:
        response = http.post(
            "/v1/mgmt/outbound/app/create",
            json={
                "id": app_id,
                "name": app_id,
                "clientId": oauth_client.client_id,
                "clientSecret": oauth_client.client_secret,
                "discoveryUrl": idp.discovery_url,
                "defaultScopes": ["openid", "email", "read"],
                "defaultRedirectUrl": catcher.url,
                **fields,
            },
        )
    assert response.status_code == 200, response.text
    return oauth_client, app_id


@contextlib.contextmanager
def running_vault(store: Store, idp: OidcServer, catcher: CallbackCatcher) -> Iterator[Vault]:
    with running_server(store, extra_args=SERVER_ARGS) as server:
        oauth_client, app_id = create_app(server, idp, catcher)
        vault = Vault(server, idp, oauth_client, catcher, app_id)
        yield vault
        log = server.log()
        leaked = [s for s in {*vault.seen, oauth_client.client_secret} if s in log]
        assert not leaked, f"{len(leaked)} secrets in the server log"


@pytest.fixture(scope="session")
def vault(
    backend: str, store: Store, idp: OidcServer, catcher: CallbackCatcher, per_backend: PerBackend
) -> Vault:
    return per_backend.get("vault", backend, lambda: running_vault(store, idp, catcher))


@pytest.fixture
def fresh_idp(idp: OidcServer) -> Iterator[OidcServer]:
    """The provider with its counters at zero and no fault, and healed afterwards."""
    idp.reset()
    yield idp
    idp.reset()


@pytest.fixture(params=[pytest.param("postgres", marks=pytest.mark.postgres), "sqlite"])
def shared_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A store of the test's own on each backend, for several servers to share."""
    if request.param == "postgres":
        with postgres_database() as url:
            yield Store(tmp_path, url)
    else:
        yield Store(tmp_path)


@contextlib.contextmanager
def server_cluster(
    store: Store,
    idp: OidcServer,
    catcher: CallbackCatcher,
    args: Sequence[str],
    *,
    servers: int = 2,
    env: Mapping[str, str] | None = None,
) -> Iterator[list[Vault]]:
    """``servers`` servers on one database and one project, behind one public URL (the
    first's), with one app at ``idp``: a vault per server."""
    ports = [free_port() for _ in range(servers)]
    public_url = f"http://127.0.0.1:{ports[0]}"
    project = store.new_project()
    started: list[LiveServer] = []
    try:
        for port in ports:
            started.append(
                start_server(
                    store,
                    port=port,
                    project=project,
                    extra_args=[*SERVER_ARGS, "--public-url", public_url, *args],
                    env=dict(env or {}),
                )
            )
        oauth_client, app_id = create_app(started[0], idp, catcher, callback_base=public_url)
        yield [Vault(server, idp, oauth_client, catcher, app_id) for server in started]
    finally:
        for server in started:
            stop_server(server)
