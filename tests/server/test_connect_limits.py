"""Connect links behind https and under a project cap: the browser cookie is Secure, and a
project with as many links in progress as allowed gets 429 E130429 with Retry-After."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from tests.support.server import LiveServer, Store, running_server

PUBLIC = "https://vault.example.com"
CAP = 3


@pytest.fixture(scope="module")
def server(store: Store) -> Iterator[LiveServer]:
    args = ["--public-url", PUBLIC, "--connect-pending-per-project", str(CAP)]
    with running_server(store, extra_args=args) as server:
        with server.client() as http:
            created = http.post(
                "/v1/mgmt/outbound/app/create",
                json={
                    "id": "cl-app",
                    "name": "cl-app",
                    "clientId": "cl-client",
                    "authorizationUrl": "https://provider.example/authorize",
                    "tokenUrl": "https://provider.example/token",
                    "defaultRedirectUrl": "https://app.example/done",
                },
            )
            assert created.status_code == 200, created.text
        yield server


def link(server: LiveServer, user: str) -> httpx.Response:
    with server.client() as http:
        return http.post("/v1/mgmt/outbound/app/connect", json={"appId": "cl-app", "userId": user})


def local(server: LiveServer, url: str) -> str:
    """The link as the test reaches it: the public https origin is this loopback server."""
    assert url.startswith(PUBLIC)
    return server.base_url + url[len(PUBLIC) :]


def test_behind_https_the_browser_cookie_is_secure(server: LiveServer) -> None:
    made = link(server, "secure-user")
    assert made.status_code == 200, made.text
    url = local(server, made.json()["url"])
    with httpx.Client(timeout=30, headers={"Host": "vault.example.com"}) as browser:
        page = browser.get(url)
        # the link page's form-token cookie is Secure too (link_guard.py)
        form_cookie = page.headers["set-cookie"]
        assert "; secure" in form_cookie.lower() and "samesite=strict" in form_cookie.lower()
        token = re.search(r'name="form" value="([^"]+)"', page.text)
        assert token is not None
        # (httpx keeps a Secure cookie off plain http, as a browser would: sent by hand)
        started = browser.post(
            url.split("?")[0],
            data={"link": httpx.URL(url).params["link"], "form": token.group(1)},
            headers={"Cookie": form_cookie.split(";")[0]},
        )
    assert started.status_code == 302
    assert started.headers["location"].startswith("https://provider.example/authorize?")
    cookie = started.headers["set-cookie"].lower()
    assert "; secure" in cookie and "; httponly" in cookie and "samesite=lax" in cookie


def test_connect_pages_carry_the_consoles_strict_csp(server: LiveServer) -> None:
    """The link page and an error page: Jinja2-rendered, styled by this server's stylesheet
    only — no inline style, nothing else loads, no framing."""
    made = link(server, "csp-user")
    assert made.status_code == 200, made.text
    with httpx.Client(timeout=30, headers={"Host": "vault.example.com"}) as browser:
        for url in (
            local(server, made.json()["url"]),
            server.base_url + "/v1/outbound/oauth/start",
        ):
            page = browser.get(url)
            csp = page.headers["content-security-policy"]
            assert "default-src 'none'" in csp and "style-src 'self'" in csp, url
            assert "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp, url
            assert "style=" not in page.text and "<script" not in page.text, url
            stylesheet = re.search(r'<link rel="stylesheet" href="([^"]+)"', page.text)
            assert stylesheet is not None, url
            css = browser.get(server.base_url + stylesheet.group(1))
            assert css.status_code == 200 and ".connect-page" in css.text


def test_a_project_with_as_many_links_in_progress_as_allowed_gets_429(
    server: LiveServer,
) -> None:
    statuses = [link(server, f"cap-user-{i}").status_code for i in range(CAP + 2)]
    # the test before may have made one already: the cap counts every link in progress
    assert statuses.count(200) <= CAP
    assert statuses[-1] == 429
    refused = link(server, "one-more")
    assert refused.json()["errorCode"] == "E130429"
    assert "project" in refused.json()["errorMessage"]
    assert 1 <= int(refused.headers["retry-after"]) <= 601
