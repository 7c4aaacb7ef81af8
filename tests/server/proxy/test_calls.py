"""Proxied calls against a provider API we run: who may call, which headers cross, the
answer relayed as it came, the vault's own errors marked, retries of 429/5xx, one event."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx

from outbound.server.proxy.headers import FORWARDED
from tests.api.test_fetch_only_keys import new_key
from tests.server.proxy.conftest import ProxyApp, new_proxy_app
from tests.support.server import LiveServer, Store, running_server
from tests.support.upstream_api import Upstream


def _received(answer: httpx.Response) -> dict[str, str]:
    assert answer.status_code == 200, answer.text
    return {name: value for name, value in answer.json()["headers"]}


def test_every_method_and_the_query_reach_the_provider(api: ProxyApp) -> None:
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"):
        answer = api.call(method, "echo/x/y?a=1&b=%2F&a=2", content=b"body" * 3)
        assert answer.status_code == 200, (method, answer.text)
        seen = answer.json()
        assert seen["method"] == method
        assert (seen["rawPath"], seen["query"]) == ("/echo/x/y", "a=1&b=%2F&a=2")
        assert seen["size"] == 12
    head = api.call("HEAD", "bytes?n=1234")
    assert head.status_code == 200
    assert head.headers["content-length"] == "1234" and head.content == b""


def test_the_callers_credentials_and_hop_by_hop_headers_never_cross(api: ProxyApp) -> None:
    sent = {
        "Cookie": "session=caller",
        "Proxy-Authorization": "Basic Y2FsbGVyOnNlY3JldA==",
        "Connection": "keep-alive, X-Hop",
        "X-Hop": "named by Connection",
        "Keep-Alive": "timeout=5",
        "TE": "trailers",
        "Upgrade": "websocket",
        "Forwarded": "for=10.0.0.1",
        "X-Forwarded-For": "10.0.0.1",
        "X-Real-IP": "10.0.0.1",
        "X-HTTP-Method-Override": "DELETE",
        "Outbound-Retries": "1",
        "Origin": "https://caller.example",
        "Referer": "https://caller.example/page",
        # passed on
        "Accept": "application/json",
        "Accept-Language": "fr",
        "If-None-Match": '"v1"',
        "Range": "bytes=0-1",
        "Notion-Version": "2022-06-28",
        "X-Custom-Thing": "kept",
        "Content-Type": "text/plain",
    }
    received = _received(api.call("POST", "echo", headers=sent, content=b"hello"))
    # The caller's Authorization held the vault's key; the provider sees the connection's.
    assert received["authorization"] == f"Bearer {api.api_key}"
    assert api.server.management_key not in json.dumps(received)
    for name in ("cookie", "proxy-authorization", "x-hop", "keep-alive", "te", "upgrade",
                 "forwarded", "x-forwarded-for", "x-real-ip", "x-http-method-override",
                 "outbound-retries", "outbound-user-id", "origin", "referer"):  # fmt: skip
        assert name not in received, name
    assert received["connection"] == "keep-alive"  # the vault's own connection to the provider
    for name in ("accept", "accept-language", "if-none-match", "range", "notion-version",
                 "x-custom-thing", "content-type"):  # fmt: skip
        assert received[name] == sent[next(k for k in sent if k.lower() == name)], name
    assert {n.encode() for n in ("accept", "range", "notion-version")} <= FORWARDED


def test_a_callers_header_cannot_stand_in_for_the_credential(api: ProxyApp) -> None:
    received = _received(api.call("GET", "echo", headers={"X-Api-Key": "caller's own"}))
    assert received["authorization"] == f"Bearer {api.api_key}"
    assert received["x-api-key"] == "caller's own"  # the caller's header, not a credential


def test_the_answer_is_relayed_without_hop_by_hop_headers_or_cookies(api: ProxyApp) -> None:
    answer = api.call("GET", "headers")
    assert answer.status_code == 200
    assert answer.headers["x-provider-thing"] == "kept"
    assert answer.headers["cache-control"] == "max-age=60"
    for name in ("set-cookie", "keep-alive", "x-hop-named"):
        assert name not in answer.headers, name
    assert answer.headers["outbound-request-id"]
    assert "outbound-error" not in answer.headers
    # the provider's own statuses pass through as they are
    missing = api.call("GET", "no/such/path")
    assert missing.status_code == 404 and missing.json() == {"error": "no such path"}
    assert "outbound-error" not in missing.headers


def test_the_vaults_own_errors_are_marked(api: ProxyApp, live_server: LiveServer) -> None:
    cases = [
        ({"Outbound-User-Id": "nobody-" + api.user_id}, 404, "E111504"),
        ({"Outbound-Tenant-Id": "t1"}, 400, "E011002"),  # both headers
        ({"Outbound-Retries": "many"}, 400, "E011003"),
    ]
    for headers, status, code in cases:
        answer = api.call("GET", "echo", headers=headers)
        assert (answer.status_code, answer.json()["errorCode"]) == (status, code), headers
        assert answer.headers["outbound-error"] == "1"
        assert answer.headers["outbound-request-id"]
    with httpx.Client(base_url=live_server.base_url) as anonymous:
        answer = anonymous.get(f"/v1/outbound/proxy/{api.app_id}/echo")
    assert (answer.status_code, answer.json()["errorCode"]) == (401, "E130401")
    assert answer.headers["outbound-error"] == "1"
    neither = api.call("GET", "echo", headers={"Outbound-User-Id": ""})
    assert neither.json()["errorCode"] in ("E011002", "E011003")


def test_a_fetch_only_key_reaches_only_its_apps(
    live_server: LiveServer, upstream: Upstream
) -> None:
    mine = new_proxy_app(live_server, upstream.base_url)
    other = new_proxy_app(live_server, upstream.base_url)
    key = new_key(live_server, "--fetch-only", "--app", mine.app_id)
    headers = {"Authorization": f"Bearer {live_server.project_id}:{key}"}
    with httpx.Client(base_url=live_server.base_url, headers=headers) as http:
        ok = http.get(f"/v1/outbound/proxy/{mine.app_id}/echo",
                      headers={"Outbound-User-Id": mine.user_id})  # fmt: skip
        refused = http.get(f"/v1/outbound/proxy/{other.app_id}/echo",
                           headers={"Outbound-User-Id": other.user_id})  # fmt: skip
        unknown = http.get("/v1/outbound/proxy/no-such-app/echo",
                           headers={"Outbound-User-Id": other.user_id})  # fmt: skip
    assert ok.status_code == 200
    assert (refused.status_code, refused.json()["errorCode"]) == (403, "E130403")
    assert unknown.json() == refused.json() | {"errorMessage": unknown.json()["errorMessage"]}


def test_an_app_without_an_api_base_url_is_e131020(live_server: LiveServer) -> None:
    app = new_proxy_app(live_server, "")
    answer = app.call("GET", "x")
    assert (answer.status_code, answer.json()["errorCode"]) == (409, "E131020")


def _script(api: ProxyApp, method: str, statuses: str, **kwargs: object) -> httpx.Response:
    key = f"{method}-{statuses}-{time.monotonic_ns()}"
    return api.call(method, f"script/{key}?statuses={statuses}", **kwargs)


def test_429_with_retry_after_1_is_retried(api: ProxyApp) -> None:
    started = time.monotonic()
    answer = _script(api, "GET", "429,200&retry_after=1")
    assert answer.status_code == 200 and answer.json()["call"] == 2
    assert time.monotonic() - started >= 1


def test_a_retry_after_beyond_the_maximum_is_returned_at_once(api: ProxyApp) -> None:
    started = time.monotonic()
    answer = api.call("GET", f"script/long-{time.monotonic_ns()}?statuses=429,200&retry_after=3600")
    assert answer.status_code == 429 and answer.json()["call"] == 1
    assert answer.headers["retry-after"] == "3600"
    assert "outbound-error" not in answer.headers
    assert time.monotonic() - started < 1


def test_503_twice_then_200_is_retried_for_get_but_not_post(api: ProxyApp) -> None:
    got = _script(api, "GET", "503,503,200")
    assert got.status_code == 200 and got.json()["call"] == 3
    posted = _script(api, "POST", "503,503,200", content=b"{}")
    assert posted.status_code == 503 and posted.json()["call"] == 1
    allowed = _script(api, "POST", "503,503,200", content=b"{}", headers={"Outbound-Retries": "2"})
    assert allowed.status_code == 200 and allowed.json()["call"] == 3
    gave_up = _script(api, "GET", "503,503,503,200")  # default: 2 retries
    assert gave_up.status_code == 503 and gave_up.json()["call"] == 3
    none = _script(api, "GET", "502,200", headers={"Outbound-Retries": "0"})
    assert none.status_code == 502 and none.json()["call"] == 1


def test_the_proxy_timeout_bounds_retries(tmp_path: Path, upstream: Upstream) -> None:
    args = ["--proxy-timeout", "2", "--proxy-max-retry-after", "10"]
    with running_server(Store(tmp_path), extra_args=args) as server:
        app = new_proxy_app(server, upstream.base_url)
        started = time.monotonic()
        # Retry-After 3 is within the maximum, but not within the 2 s the call may take.
        answer = app.call("GET", f"script/t-{time.monotonic_ns()}?statuses=503,200&retry_after=3")
        assert answer.status_code == 503 and answer.json()["call"] == 1
        assert time.monotonic() - started < 2


def test_each_call_is_one_audit_event_without_query_values(api: ProxyApp) -> None:
    answer = api.call("GET", "echo/audited?secret=hunter2&page=2")
    assert answer.status_code == 200
    time.sleep(1.5)  # fetch-like events are written in batches every second
    with api.server.client() as http:
        events = http.get(
            "/v1/mgmt/outbound/audit", params={"action": "proxy.call", "appId": api.app_id}
        ).json()["events"]
    (event,) = [e for e in events if "audited" in e["detail"]]
    assert event["userId"] == api.user_id and event["outcome"] == "ok"
    assert event["detail"].startswith("GET 127.0.0.1 /echo/audited?secret=…&page=… 200 ")
    assert "hunter2" not in json.dumps(events) and api.api_key not in json.dumps(events)


def test_the_cli_calls_through_the_proxy(api: ProxyApp) -> None:
    import os
    import subprocess
    import sys

    server = api.server
    env = {**os.environ, "OUTBOUND_MANAGEMENT_KEY": server.management_key}
    args = ["--url", server.base_url, "--project", server.project_id, "--app", api.app_id]
    done = subprocess.run(
        [sys.executable, "-m", "outbound", "proxy", "POST", "echo/cli?x=1", *args,
         "--user", api.user_id, "--data", "hello", "-H", "X-Thing: t"],
        capture_output=True, env=env, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert (seen["method"], seen["rawPath"], seen["query"], seen["size"]) == (
        "POST", "/echo/cli", "x=1", 5,
    )  # fmt: skip
    assert dict(seen["headers"])["x-thing"] == "t"
    assert done.stderr.decode().startswith("HTTP 200")
    failed = subprocess.run(
        [sys.executable, "-m", "outbound", "proxy", "GET", "echo", *args, "--user", "nobody"],
        capture_output=True, env=env, timeout=60,
    )  # fmt: skip
    assert failed.returncode == 1
    assert b"vault's own error" in failed.stderr and b"E111504" in failed.stdout
