"""Device-flow connect (RFC 8628): against oidc-provider's device flow with Chromium entering
the user code, and against a local device endpoint that answers in RFC 8628's published
formats for ``slow_down``, ``expired_token``, ``access_denied`` and several servers racing."""

from __future__ import annotations

import itertools
import json
import secrets
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from tests.e2e.conftest import Vault
from tests.support.oidc_server import OIDC_DIR, ensure_installed
from tests.support.server import LiveServer, running_server

CONNECT = "/v1/mgmt/outbound/app/connect"
STATUS = "/v1/mgmt/outbound/connect"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


def _wait_status(
    http: httpx.Client, connect_id: str, until: set[str], timeout: float
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        answer = http.get(f"{STATUS}/{connect_id}")
        assert answer.status_code == 200, answer.text
        connect: dict[str, Any] = answer.json()["connect"]
        if connect["status"] in until or time.monotonic() > deadline:
            return connect
        time.sleep(0.25)


# -- against oidc-provider, with a browser --------------------------------------------------


def _enter_code(url: str, user_code: str, login: str, *, approve: bool = True) -> dict[str, Any]:
    ensure_installed()
    options = {"url": url, "userCode": user_code, "login": login, "approve": approve}
    result = subprocess.run(
        ["node", str(OIDC_DIR / "device_browser.mjs"), json.dumps(options)],
        cwd=OIDC_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    done: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return done


@pytest.mark.browser
def test_a_user_enters_the_code_in_chromium_and_the_connection_is_made(vault: Vault) -> None:
    user = vault.new_user()
    with vault.http as http:
        started = http.post(
            CONNECT,
            json={
                "appId": vault.app_id,
                "userId": user,
                "options": {"flow": "device", "metadata": {"via": "device"}},
            },
        )
        assert started.status_code == 200, started.text
        answer = started.json()
        assert set(answer) == {
            "id",
            "url",
            "user_code",
            "verification_uri",
            "verification_uri_complete",
            "expires_in",
            "interval",
        }
        assert answer["verification_uri"].startswith(vault.idp.issuer)
        assert answer["user_code"] in answer["verification_uri_complete"]
        assert answer["url"] == answer["verification_uri_complete"]
        assert answer["interval"] == 5 and 0 < answer["expires_in"] <= 600
        # pending until the user has approved
        status = http.get(f"{STATUS}/{answer['id']}").json()["connect"]
        assert (status["status"], status["connectionId"]) == ("pending", "")

        done = _enter_code(answer["verification_uri"], answer["user_code"], user)
        assert "Sign-in Success" in done["done"] or "success" in done["done"].lower()

        status = _wait_status(http, answer["id"], {"connected", "failed"}, timeout=30)
        assert status["status"] == "connected", status
        assert status["error"] == ""
        token = vault.token(user, withRefreshToken=True)
        assert token["id"] == status["connectionId"]
        assert token["scopes"] == ["openid", "email", "read"]
        assert token["hasRefreshToken"] is True
        introspection = vault.idp.introspect(token["accessToken"])
        assert introspection["active"] is True and introspection["sub"] == user
        listed = http.get(
            "/v1/mgmt/outbound/connections", params={"appId": vault.app_id, "userId": user}
        ).json()["connections"]
        assert [c["metadata"] for c in listed] == [{"via": "device"}]


@pytest.mark.browser
def test_a_user_who_aborts_on_the_providers_page_ends_failed_access_denied(vault: Vault) -> None:
    user = vault.new_user()
    with vault.http as http:
        answer = http.post(
            CONNECT, json={"appId": vault.app_id, "userId": user, "options": {"flow": "device"}}
        ).json()
        _enter_code(answer["verification_uri"], answer["user_code"], user, approve=False)
        status = _wait_status(http, answer["id"], {"connected", "failed"}, timeout=30)
        assert (status["status"], status["error"]) == ("failed", "access_denied")
    assert vault.fetch(user).status_code == 404


# -- against a local device endpoint speaking RFC 8628's formats -----------------------------


class DeviceProvider:
    """A device authorization endpoint and token endpoint answering as RFC 8628 §3.2 and §3.5
    show: the token endpoint answers ``script`` in order (the last answer repeats), and
    records each polling request's time and device code."""

    def __init__(self, script: list[str], *, interval: int = 1, expires_in: int = 1800) -> None:
        self.script = list(script)
        self.interval = interval
        self.expires_in = expires_in
        self.polls: list[tuple[float, str]] = []
        self.issued = 0
        self.lock = threading.Lock()
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                form = dict(parse_qsl(self.rfile.read(length).decode()))
                if self.path == "/device":
                    status, body = 200, provider.device_answer()
                else:
                    status, body = provider.token_answer(form)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Cache-Control", "no-store")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self.device_code = "GmRhmhcxhwAzkoEqiMEg_DnyEysNkuNhszIySk9eS"

    def device_answer(self) -> dict[str, Any]:
        # RFC 8628 §3.2's example response, with this endpoint's interval and lifetime
        return {
            "device_code": self.device_code,
            "user_code": "WDJB-MJHT",
            "verification_uri": "https://example.com/device",
            "verification_uri_complete": "https://example.com/device?user_code=WDJB-MJHT",
            "expires_in": self.expires_in,
            "interval": self.interval,
        }

    def token_answer(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        with self.lock:
            self.polls.append((time.monotonic(), form.get("device_code", "")))
            assert form.get("grant_type") == DEVICE_GRANT
            step = self.script.pop(0) if len(self.script) > 1 else self.script[0]
            if step == "tokens":
                self.issued += 1
                self.script = ["invalid_grant"]  # a device code is used once
                return 200, {
                    "access_token": "device-access-" + secrets.token_hex(8),
                    "token_type": "Bearer",
                    "expires_in": 3600,
                    "refresh_token": "device-refresh-" + secrets.token_hex(8),
                    "scope": "read",
                }
            return 400, {"error": step}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> DeviceProvider:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def _device_app(http: httpx.Client, provider: DeviceProvider) -> str:
    app_id = "dev-" + secrets.token_hex(3)
    response = http.post(
        "/v1/mgmt/outbound/app/create",
        json={
            "id": app_id,
            "name": app_id,
            "clientId": "device-client",
            "tokenUrl": provider.url + "/token",
            "deviceAuthorizationUrl": provider.url + "/device",
            "defaultScopes": ["read"],
        },
    )
    assert response.status_code == 200, response.text
    return app_id


def _start(http: httpx.Client, app_id: str, user: str) -> dict[str, Any]:
    started = http.post(
        CONNECT, json={"appId": app_id, "userId": user, "options": {"flow": "device"}}
    )
    assert started.status_code == 200, started.text
    answer: dict[str, Any] = started.json()
    assert answer["user_code"] == "WDJB-MJHT"
    assert answer["verification_uri"] == "https://example.com/device"
    return answer


def test_slow_down_adds_five_seconds_to_the_interval_for_good(live_server: LiveServer) -> None:
    with DeviceProvider(
        ["authorization_pending", "slow_down", "authorization_pending", "tokens"]
    ) as provider:
        with live_server.client() as http:
            app_id = _device_app(http, provider)
            answer = _start(http, app_id, "slow-user")
            assert answer["interval"] == 1
            status = _wait_status(http, answer["id"], {"connected", "failed"}, timeout=40)
            assert status["status"] == "connected", status
            assert status["interval"] == 6
            assert status["polls"] == 4
        times = [t for t, _ in provider.polls]
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert len(gaps) == 3
        assert gaps[0] >= 0.99  # the interval
        assert gaps[1] >= 5.99 and gaps[2] >= 5.99  # after slow_down: 1 + 5 s, and it stays
        assert {code for _, code in provider.polls} == {provider.device_code}
        assert provider.issued == 1


@pytest.mark.parametrize("error", ["expired_token", "access_denied"])
def test_expired_token_and_access_denied_end_the_flow_failed(
    live_server: LiveServer, error: str
) -> None:
    with DeviceProvider(["authorization_pending", error]) as provider, live_server.client() as http:
        app_id = _device_app(http, provider)
        answer = _start(http, app_id, "user-" + error)
        status = _wait_status(http, answer["id"], {"connected", "failed"}, timeout=20)
        assert (status["status"], status["error"]) == ("failed", error)
        time.sleep(2.5)
        assert len(provider.polls) == 2  # no poll after the end
        fetched = http.post(
            "/v1/mgmt/outbound/app/user/token/latest",
            json={"appId": app_id, "userId": "user-" + error},
        )
        assert fetched.status_code == 404


def test_a_device_code_that_expires_while_pending_ends_failed(live_server: LiveServer) -> None:
    with DeviceProvider(["authorization_pending"]) as provider:
        provider.expires_in = 3
        with live_server.client() as http:
            app_id = _device_app(http, provider)
            answer = _start(http, app_id, "user-late")
            assert answer["expires_in"] == 3
            status = _wait_status(http, answer["id"], {"connected", "failed"}, timeout=20)
            assert (status["status"], status["error"]) == ("failed", "expired_token")


def test_three_servers_poll_one_device_code_one_at_a_time(live_server: LiveServer) -> None:
    with DeviceProvider(["authorization_pending"] * 8 + ["tokens"]) as provider:
        project = (live_server.project_id, live_server.management_key)
        with (
            running_server(live_server.store, project=project) as second,
            running_server(live_server.store, project=project) as third,
        ):
            with live_server.client() as http:
                app_id = _device_app(http, provider)
                answer = _start(http, app_id, "raced-user")
                for server in (second, third):
                    with server.client() as other:
                        assert other.get(f"{STATUS}/{answer['id']}").status_code == 200
                status = _wait_status(http, answer["id"], {"connected", "failed"}, timeout=40)
                assert status["status"] == "connected", status
            time.sleep(2)
        times = [t for t, _ in provider.polls]
        gaps = [b - a for a, b in itertools.pairwise(times)]
        # three pollers, yet one poll per interval (1 s) at most, and one token issued
        assert len(times) == 9, len(times)
        assert min(gaps) >= 0.99, gaps
        assert provider.issued == 1


def test_an_app_whose_grant_type_is_device_code_connects_by_the_device_flow(
    live_server: LiveServer,
) -> None:
    with DeviceProvider(["authorization_pending"]) as provider, live_server.client() as http:
        app_id = _device_app(http, provider)
        updated = http.post(
            "/v1/mgmt/outbound/app/update",
            json={
                "app": {
                    "id": app_id,
                    "name": app_id,
                    "clientId": "device-client",
                    "tokenUrl": provider.url + "/token",
                    "grantType": "device_code",
                    "defaultRedirectUrl": "https://app.example/done",
                }
            },
        )
        assert updated.status_code == 200, updated.text
        assert updated.json()["app"]["deviceAuthorizationUrl"] == provider.url + "/device"
        started = http.post(CONNECT, json={"appId": app_id, "userId": "tv-user"})
        assert started.status_code == 200, started.text
        assert started.json()["user_code"] == "WDJB-MJHT"
        link = http.post(
            CONNECT, json={"appId": app_id, "userId": "tv-user", "options": {"flow": "redirect"}}
        )
        assert set(link.json()) == {"url"}


def test_a_device_connect_needs_a_device_endpoint(live_server: LiveServer) -> None:
    with live_server.client() as http:
        response = http.post(
            "/v1/mgmt/outbound/app/create",
            json={
                "name": "nodev-" + secrets.token_hex(3),
                "tokenUrl": "https://p.example/t",
                "authorizationUrl": "https://p.example/a",
                "clientId": "c",
            },
        )
        app_id = response.json()["app"]["id"]
        refused = http.post(
            CONNECT, json={"appId": app_id, "userId": "u", "options": {"flow": "device"}}
        )
        assert refused.status_code == 409, refused.text
        assert refused.json()["errorCode"] == "E131014"
        assert "deviceAuthorizationUrl" in refused.json()["errorMessage"]
        unknown = http.get(f"{STATUS}/dev_nope")
        assert unknown.status_code == 404


# -- our SDK and the CLI -------------------------------------------------------------------


def test_the_sdk_starts_a_device_connect_and_reads_its_status(live_server: LiveServer) -> None:
    from outbound import Client

    with DeviceProvider(["authorization_pending", "tokens"]) as provider:
        with live_server.client() as http:
            app_id = _device_app(http, provider)
        with Client(
            project_id=live_server.project_id,
            management_key=live_server.management_key,
            base_url=live_server.base_url,
        ) as client:
            apps = client.mgmt.outbound_application
            started = apps.connect_device(app_id, "sdk-user", metadata={"via": "sdk"})
            assert started["user_code"] == "WDJB-MJHT"
            assert apps.device_connect_status(started["id"])["connect"]["status"] == "pending"
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                status = apps.device_connect_status(started["id"])["connect"]
                if status["status"] != "pending":
                    break
                time.sleep(0.25)
            assert status["status"] == "connected", status
            token = apps.fetch_token(app_id, "sdk-user")["token"]
            assert token["id"] == status["connectionId"]
            listed = apps.list_connections(app_id=app_id, metadata=("via", "sdk"))
            assert [c["userId"] for c in listed["connections"]] == ["sdk-user"]


def test_the_cli_prints_the_code_and_waits_for_the_connection(live_server: LiveServer) -> None:
    import os
    import sys

    with DeviceProvider(["authorization_pending", "tokens"]) as provider:
        with live_server.client() as http:
            app_id = _device_app(http, provider)
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "outbound",
                "connections",
                "connect",
                "--app",
                app_id,
                "--user",
                "cli-user",
                "--device",
                "--url",
                live_server.base_url,
                "--project",
                live_server.project_id,
            ],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "OUTBOUND_MANAGEMENT_KEY": live_server.management_key},
        )
        assert result.returncode == 0, result.stderr
        assert "Open https://example.com/device and enter the code WDJB-MJHT" in result.stderr
        started, final = (json.loads(line) for line in result.stdout.splitlines())
        assert started["user_code"] == "WDJB-MJHT"
        assert (final["status"], final["id"]) == ("connected", started["id"])
        assert live_server.management_key not in result.stdout + result.stderr
