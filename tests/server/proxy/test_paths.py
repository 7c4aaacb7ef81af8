"""A proxied path never leaves the app's API base URL: every escape attempt is refused with 400
before anything is sent, and nothing reaches any other host."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from outbound.server.proxy.target import PathRefused, proxied_url, split_base
from tests.server.proxy.conftest import new_proxy_app, raw_request
from tests.support.server import LiveServer
from tests.support.upstream_api import Upstream, running_upstream

# {other} is the address of another listener: reaching it would be an escape.
ESCAPES = [
    "../admin",
    "..",
    "a/../../admin",
    "./x",
    "a/./b",
    "a/..",
    "%2e%2e/admin",
    "%2E%2E/admin",
    ".%2e/admin",
    "%2e./admin",
    "a/%2e%2e/%2e%2e/admin",
    "a%2f..%2f..%2fadmin",
    "a%2F..%2Fadmin",
    "..%2fadmin",
    "%252e%252e/admin",
    "%2e%2e%5cadmin",
    "a/.%2E",
    "/{other}/x",
    "//{other}/x",
    "\\\\{other}/x",
    "%5c%5c{other}/x",
    "a\\..\\b",
    "@{other}/x",
    "x@{other}/x",
    "%40{other}/x",
    "http://{other}/x",
    "http:/{other}/x",
    "http:%2f%2f{other}/x",
    "https:{other}",
    "javascript:alert(1)",
    "a//b",
    "a/%00/b",
    "a/%0d%0aHost:%20{other}/b",
    "a/%7f",
    "a/b%",
    "a/b%zz",
]
ALLOWED = [
    ("", "/api/v2"),
    ("users/@me", "/api/v2/users/@me"),
    ("a/b/", "/api/v2/a/b/"),
    ("a%20b/c;d=e", "/api/v2/a%20b/c;d=e"),
    ("~user/files.json", "/api/v2/~user/files.json"),
    ("a/.well-known/x", "/api/v2/a/.well-known/x"),
    ("a/...", "/api/v2/a/..."),
]


@pytest.fixture(scope="module")
def other_host() -> Iterator[Upstream]:
    with running_upstream() as other:
        yield other


@pytest.mark.parametrize("path", ESCAPES)
def test_an_escape_is_refused_by_the_path_rules(path: str) -> None:
    target = split_base("https://api.example.com/api/v2")
    with pytest.raises(PathRefused):
        proxied_url(target, path.format(other="127.0.0.1:1").encode("latin-1"), b"")


@pytest.mark.parametrize(("path", "expected"), ALLOWED)
def test_a_plain_path_goes_under_the_base(path: str, expected: str) -> None:
    target = split_base("https://api.example.com/api/v2/")
    url = proxied_url(target, path.encode(), b"q=1&r=%2F")
    assert (url.scheme, url.host, url.port) == ("https", "api.example.com", None)
    assert url.raw_path == (expected + "?q=1&r=%2F").encode()


def test_a_query_with_white_space_or_a_fragment_is_refused() -> None:
    target = split_base("https://api.example.com")
    for query in (b"a=b c", b"a=b#c", b"a=\x01", "a=é".encode()):
        with pytest.raises(PathRefused):
            proxied_url(target, b"x", query)


def test_twenty_escape_attempts_get_400_and_nothing_reaches_another_host(
    live_server: LiveServer, upstream: Upstream, other_host: Upstream
) -> None:
    app = new_proxy_app(live_server, upstream.base_url + "/echo/base")
    other = other_host.base_url.removeprefix("http://")
    upstream.reset()
    other_host.reset()
    headers = {**live_server.auth_header, "Outbound-User-Id": app.user_id}
    for path in ESCAPES:
        status, answer, body = raw_request(
            live_server, f"/v1/outbound/proxy/{app.app_id}/{path.format(other=other)}", headers
        )
        assert status == 400, (path, status, body[:300])
        if answer.get("content-type") == "application/json":
            code = json.loads(body)["errorCode"]
            # E131021: the proxy's path rule; E011003: the server's own check of the path
            # (a control character, decoded) before any route
            assert code in ("E131021", "E011003"), (path, code)
    assert upstream.hits()["total"] == 0
    assert other_host.hits()["total"] == 0

    # The same server proxies a plain path, with its query, under the base path.
    answer_ = app.call("GET", "users/@me?x=1")
    assert answer_.status_code == 200
    assert answer_.json()["rawPath"] == "/echo/base/users/@me"
    assert answer_.json()["query"] == "x=1"
    assert other_host.hits()["total"] == 0


def test_absolute_urls_are_refused_even_as_the_whole_path(
    live_server: LiveServer, upstream: Upstream, other_host: Upstream
) -> None:
    app = new_proxy_app(live_server, upstream.base_url)
    other_host.reset()
    for path in (f"{other_host.base_url}/x", f"//{other_host.base_url[7:]}/x"):
        answer = app.call("GET", path)
        assert answer.status_code == 400, path
        assert answer.headers["outbound-error"] == "1"
    assert other_host.hits()["total"] == 0
    assert httpx.get(other_host.base_url + "/__hits").json()["total"] == 0
