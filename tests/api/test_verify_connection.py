"""Verify a connection: the vault calls the template's whoami request with the stored token,
through the network guard, and answers whose account it is — never the token.

The provider is a local fake answering ``GET /api/v1/user`` as Gitea documents it (its
``User`` object: ``id``, ``login``, ``email``, …), reached over loopback, which the test
servers allow."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from outbound.catalog import get_template
from outbound.net import NetworkPolicy
from outbound.server.tokens.verify import _call, account_field
from tests.support.server import LiveServer, free_port

UPLOAD = "/v1/mgmt/outbound/app/user/oauthtoken/upload"


class FakeGitea:
    """``GET /api/v1/user``: the user of a known token (Gitea's answer), 401 otherwise."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.tokens: dict[str, dict[str, Any]] = {}
        self.seen: list[tuple[str, str, str]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                auth = self.headers.get("Authorization", "")
                fake.seen.append((self.command, self.path, auth))
                user = fake.tokens.get(auth.removeprefix("Bearer "))
                if self.path == "/api/v1/user" and user is not None:
                    self._answer(200, user)
                else:
                    self._answer(401, {"message": "user does not exist [uid: 0, name: ]"})

            def _answer(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeGitea:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def gitea() -> Iterator[FakeGitea]:
    with FakeGitea() as fake:
        yield fake


def _app(http: httpx.Client, provider: str, **fields: Any) -> str:
    response = http.post(
        "/v1/mgmt/outbound/app/create",
        json={
            "name": "verify-" + secrets.token_hex(4),
            "templateId": "gitea",
            "authorizationUrl": f"{provider}/login/oauth/authorize",
            "tokenUrl": f"{provider}/login/oauth/access_token",
            **fields,
        },
    )
    assert response.status_code == 200, response.text
    return str(response.json()["app"]["id"])


def _connection(http: httpx.Client, app_id: str, user: str, token: str) -> str:
    response = http.post(UPLOAD, json={"appId": app_id, "userId": user, "accessToken": token})
    assert response.status_code == 200, response.text
    found = http.get("/v1/mgmt/outbound/connections", params={"appId": app_id, "userId": user})
    (connection,) = found.json()["connections"]
    return str(connection["id"])


def _verify(http: httpx.Client, connection_id: str) -> dict[str, Any]:
    response = http.post(f"/v1/mgmt/outbound/connections/{connection_id}/verify")
    assert response.status_code == 200, response.text
    assert set(response.json()) == {"verification"}
    verification: dict[str, Any] = response.json()["verification"]
    return verification


def test_a_connection_is_verified_with_its_token_and_names_the_account(
    live_server: LiveServer, gitea: FakeGitea
) -> None:
    token = "gitea-token-" + secrets.token_hex(8)
    gitea.tokens[token] = {"id": 7, "login": "octocat", "email": "octocat@example.com"}
    with live_server.client() as http:
        connection_id = _connection(http, _app(http, gitea.url), "alice", token)
        verification = _verify(http, connection_id)
    assert verification == {
        "ok": True,
        "account": "octocat",
        "accountId": "7",
        "status": 200,
        "error": None,
        "url": f"{gitea.url}/api/v1/user",
    }
    # The provider got the token as a bearer credential; the answer never shows it.
    assert gitea.seen == [("GET", "/api/v1/user", f"Bearer {token}")]
    assert token not in json.dumps(verification)


def test_a_refused_token_is_reported_not_raised(live_server: LiveServer, gitea: FakeGitea) -> None:
    token = "revoked-" + secrets.token_hex(8)
    with live_server.client() as http:
        connection_id = _connection(http, _app(http, gitea.url), "bob", token)
        verification = _verify(http, connection_id)
    assert verification["ok"] is False and verification["status"] == 401
    assert "user does not exist" in verification["error"]
    assert token not in json.dumps(verification)


def test_an_app_without_a_whoami_and_an_unknown_connection(live_server: LiveServer) -> None:
    with live_server.client() as http:
        response = http.post(
            "/v1/mgmt/outbound/app/create",
            json={"name": "plain-" + secrets.token_hex(4), "tokenUrl": "https://p.example/t"},
        )
        app_id = response.json()["app"]["id"]
        connection_id = _connection(http, app_id, "carol", "tok-" + secrets.token_hex(6))
        verification = _verify(http, connection_id)
        assert verification["ok"] is False and "names no whoami" in verification["error"]
        missing = http.post("/v1/mgmt/outbound/connections/nope/verify")
    assert missing.status_code == 404 and missing.json()["errorCode"] == "E111504"


async def test_the_network_guard_still_decides(gitea: FakeGitea) -> None:
    """Under the default policy (public addresses, https) the loopback fake is refused before
    anything is sent."""
    template = get_template("gitea")
    assert template is not None
    vault: Any = SimpleNamespace(network=NetworkPolicy())
    verification = await _call(vault, template, f"{gitea.url}/api/v1/user", "t-secret")
    assert verification.ok is False and "network guard" in (verification.error or "")
    assert gitea.seen == []


def test_account_fields_follow_dotted_paths_and_list_indexes() -> None:
    answer = {"data": [{"login": "a", "id": 3}], "user": {"email": "e@x"}}
    assert account_field(answer, "data.0.login") == "a"
    assert account_field(answer, "data.0.id") == "3"
    assert account_field(answer, "user.email") == "e@x"
    assert account_field(answer, "data.1.login") is None
    assert account_field(answer, "user") is None
    assert account_field([{"tenantName": "Acme"}], "0.tenantName") == "Acme"


def test_values_are_read_back_from_the_apps_urls() -> None:
    zendesk = get_template("zendesk")
    assert zendesk is not None
    assert zendesk.values_from_app(
        {"authorizationUrl": "https://acme.zendesk.com/oauth/authorizations/new"}
    ) == {"subdomain": "acme"}


def test_outbound_connections_verify_prints_the_verification(
    live_server: LiveServer, gitea: FakeGitea
) -> None:
    token = "gitea-cli-" + secrets.token_hex(8)
    gitea.tokens[token] = {"id": 9, "login": "monalisa", "email": "m@example.com"}
    with live_server.client() as http:
        good = _connection(http, _app(http, gitea.url), "erin", token)
        bad = _connection(http, _app(http, gitea.url), "frank", "unknown-" + secrets.token_hex(6))
    args = ("--url", live_server.base_url, "--project", live_server.project_id)
    env = {**os.environ, "OUTBOUND_MANAGEMENT_KEY": live_server.management_key}
    ran = subprocess.run(
        [sys.executable, "-m", "outbound", "connections", "verify", good, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    printed = json.loads(ran.stdout)
    assert printed["ok"] is True and printed["account"] == "monalisa"
    assert token not in ran.stdout + ran.stderr
    ran = subprocess.run(
        [sys.executable, "-m", "outbound", "connections", "verify", bad, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert ran.returncode == 1 and json.loads(ran.stdout)["status"] == 401
