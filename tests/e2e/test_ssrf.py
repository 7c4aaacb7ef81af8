"""No server-side request forgery: a key holder cannot make the server talk to internal hosts.

The server here runs with the default network policy (no ``--provider-allow-networks``), as
in production. A loopback listener stands in for the internal service (a Redis, a metadata
endpoint, an admin page): every hostile provider URL below is refused when an app is created
with it, and again when an app that already holds it (stored before, or a name that resolves
differently now) is used — for discovery, code exchange, refresh, revocation and a session
issuer's JWKS — and the listener counts no connection at all.
"""

from __future__ import annotations

import json
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from tests.support.database import execute
from tests.support.server import LiveServer, Store, outbound_cli, running_server

# What the internal service would answer; it must never show up in an answer.
INTERNAL_BODY = b"internal-service-secret-" + secrets.token_hex(8).encode()


class Listener:
    """The internal service: a loopback TCP listener that counts connections and answers
    each with an HTTP page holding :data:`INTERNAL_BODY`."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("::", 0))  # every loopback spelling, IPv4 and IPv6, reaches it
        self.sock.listen(64)
        self.port: int = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            try:
                conn.settimeout(1)
                conn.recv(65536)
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                    + str(len(INTERNAL_BODY) + 12).encode()
                    + b'\r\n\r\n{"error": "'
                    + INTERNAL_BODY
                    + b'"}'
                )
            except OSError:
                pass
            finally:
                conn.close()

    def close(self) -> None:
        self._stop = True
        self.sock.close()


@pytest.fixture(scope="module")
def listener() -> Iterator[Listener]:
    listener = Listener()
    yield listener
    listener.close()


@pytest.fixture(scope="module")
def guarded(store: Store) -> Iterator[LiveServer]:
    """A server with the production default: public providers only."""
    with running_server(store, loopback_providers=False) as server:
        yield server


def hostile_urls(port: int) -> list[str]:
    """Provider URLs that lead to internal addresses, in every spelling (≥ 30)."""
    p = port
    return [
        f"http://127.0.0.1:{p}/token",
        f"https://127.0.0.1:{p}/token",
        f"http://127.0.0.1.:{p}/token",  # trailing dot
        f"http://127.0.0.2:{p}/token",  # all of 127/8 is loopback
        f"http://localhost:{p}/token",  # a name that resolves to loopback
        f"http://localhost.:{p}/token",
        f"http://LocalHost:{p}/token",
        f"https://sub.localhost:{p}/token",
        f"http://vm:{p}/token",  # a single-label name (from /etc/hosts or search domains)
        f"http://2130706433:{p}/token",  # decimal
        f"http://0x7f000001:{p}/token",  # hex
        f"http://0x7f.0.0.1:{p}/token",  # hex octet
        f"http://0177.0.0.1:{p}/token",  # octal
        f"http://017700000001:{p}/token",  # octal, whole
        f"http://127.1:{p}/token",  # short form
        f"http://127.0.1:{p}/token",
        f"http://0:{p}/token",  # 0.0.0.0 reaches this machine on Linux
        f"http://0.0.0.0:{p}/token",
        f"http://[::]:{p}/token",
        f"http://[::1]:{p}/token",
        f"http://[0:0:0:0:0:0:0:1]:{p}/token",
        f"http://[::ffff:127.0.0.1]:{p}/token",  # IPv4-mapped IPv6
        f"http://[::ffff:7f00:1]:{p}/token",
        f"https://[::127.0.0.1]:{p}/token",  # IPv4-compatible IPv6
        f"https://[64:ff9b::7f00:1]:{p}/token",  # NAT64 of 127.0.0.1
        f"https://[2002:7f00:1::]:{p}/token",  # 6to4 of 127.0.0.1
        f"http://user:pw@127.0.0.1:{p}/token",  # user-info
        "https://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "https://[::ffff:a9fe:a9fe]/latest/meta-data/",
        "https://[::ffff:169.254.169.254]/latest/meta-data/",
        "https://metadata.google.internal/computeMetadata/v1/",
        "https://metadata/computeMetadata/v1/",
        "https://10.0.0.1/token",
        "https://172.16.0.1/token",
        "https://192.168.0.1/token",
        "https://100.64.0.1/token",  # shared address space (CGNAT)
        "https://198.18.0.1/token",  # benchmarking
        "https://[fd00::1]/token",  # unique-local
        "https://[fe80::1]/token",  # link-local
        "https://[fec0::1]/token",  # site-local
        "https://224.0.0.1/token",  # multicast
        "https://[ff02::1]/token",
        "https://240.0.0.1/token",  # reserved
        "https://255.255.255.255/token",
    ]


FIELDS = ("tokenUrl", "discoveryUrl", "revocationUrl", "authorizationUrl")


def test_the_table_is_long_enough(listener: Listener) -> None:
    assert len(hostile_urls(listener.port)) >= 30


def test_hostile_provider_urls_are_refused_at_create(
    guarded: LiveServer, listener: Listener
) -> None:
    before = listener.connections
    with guarded.client() as http:
        for index, url in enumerate(hostile_urls(listener.port)):
            field = FIELDS[index % len(FIELDS)]
            app_id = f"ssrf-create-{index}"
            response = http.post(
                "/v1/mgmt/outbound/app/create",
                json={
                    "id": app_id,
                    "name": app_id,
                    "clientId": "c",
                    "clientSecret": "s",
                    field: url,
                },
            )
            assert response.status_code == 400, (url, response.text)
            error = response.json()
            assert error["errorCode"] == "E011003", (url, error)
            assert field in error["errorMessage"], (url, error)
            assert http.get(f"/v1/mgmt/outbound/app/{app_id}").status_code == 404
            # and by template: the same URL as an override
            response = http.post(
                "/v1/mgmt/outbound/app/create/bytemplate",
                json={"templateId": "google", "id": app_id, "overrides": {"tokenUrl": url}},
            )
            assert response.status_code == 400, (url, response.text)
            assert "tokenUrl" in response.json()["errorMessage"]
            # and by update of an app that is fine
            assert (
                http.post(
                    "/v1/mgmt/outbound/app/create",
                    json={"id": app_id, "name": app_id, "tokenUrl": "https://idp.example/t"},
                ).status_code
                == 200
            )
            response = http.post(
                "/v1/mgmt/outbound/app/update",
                json={"app": {"id": app_id, "name": app_id, field: url}},
            )
            assert response.status_code == 400, (url, response.text)
            assert f"app.{field}" in response.json()["errorMessage"]
            stored = http.get(f"/v1/mgmt/outbound/app/{app_id}").json()["app"]
            assert stored["tokenUrl"] == "https://idp.example/t"
            http.post("/v1/mgmt/outbound/app/delete", json={"id": app_id})
    assert listener.connections == before == 0


def _plant(server: LiveServer, app_id: str, config: dict[str, Any]) -> None:
    """Put URLs into a stored app behind the API's back: an app stored before this check
    existed, or whose host resolved to a public address when it was created."""
    rows = execute(
        server.store,
        "SELECT config FROM apps WHERE project_id = ? AND id = ?",
        (server.project_id, app_id),
    )
    stored = {**json.loads(rows[0][0]), **config}
    execute(
        server.store,
        "UPDATE apps SET config = ? WHERE project_id = ? AND id = ?",
        (json.dumps(stored), server.project_id, app_id),
    )


def _use(http: httpx.Client, app_id: str) -> list[httpx.Response]:
    """Everything that makes the server call an app's provider."""
    answers = []
    user = "u-" + secrets.token_hex(3)
    # refresh at the provider before storing (token endpoint, or discovery first)
    answers.append(
        http.post(
            "/v1/mgmt/outbound/app/user/oauthtoken/upload",
            json={"appId": app_id, "userId": user, "refreshToken": "rt", "verifyRefresh": True},
        )
    )
    # a stored, expired token: fetching refreshes it
    http.post(
        "/v1/mgmt/outbound/app/user/oauthtoken/upload",
        json={
            "appId": app_id,
            "userId": user,
            "refreshToken": "rt-stored",
            "accessToken": "at-stored",
            "accessTokenExpiry": int(time.time()) - 10,
        },
    )
    answers.append(
        http.post(
            "/v1/mgmt/outbound/app/user/token/latest",
            json={"appId": app_id, "userId": user, "options": {"forceRefresh": True}},
        )
    )
    # the browser opens a connect link (discovery)
    link = http.post("/v1/mgmt/outbound/app/connect", json={"appId": app_id, "userId": user})
    answers.append(link)
    if link.status_code == 200:
        answers.append(httpx.get(link.json()["url"], timeout=30))
    # deleting tokens revokes them at the provider
    answers.append(
        http.delete("/v1/mgmt/outbound/user/tokens", params={"appId": app_id, "userId": user})
    )
    return answers


def test_hostile_provider_urls_are_refused_at_use(guarded: LiveServer, listener: Listener) -> None:
    with guarded.client() as http:
        for index, url in enumerate(hostile_urls(listener.port)):
            for variant, planted in (
                ("endpoints", {"tokenUrl": url, "revocationUrl": url}),
                ("discovery", {"discoveryUrl": url, "tokenUrl": "", "authorizationUrl": ""}),
            ):
                app_id = f"ssrf-use-{variant}-{index}"
                created = http.post(
                    "/v1/mgmt/outbound/app/create",
                    json={
                        "id": app_id,
                        "name": app_id,
                        "clientId": "cid",
                        "clientSecret": "the-client-secret",
                        "authorizationUrl": "https://idp.example/authorize",
                        "tokenUrl": "https://idp.example/token",
                        "revocationUrl": "https://idp.example/revoke",
                    },
                )
                assert created.status_code == 200, created.text
                _plant(guarded, app_id, planted)
                for answer in _use(http, app_id):
                    assert INTERNAL_BODY not in answer.content, (url, answer.text)
                    if answer.request.url.path.endswith(("/upload", "/latest")):
                        assert answer.status_code >= 400, (url, answer.text)
                assert listener.connections == 0, (url, variant)


def test_a_session_issuers_jwks_on_an_internal_host_is_refused(
    guarded: LiveServer, listener: Listener
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    issuer = "https://issuer.example"
    for jwks_url in (
        f"http://127.0.0.1:{listener.port}/jwks",
        f"http://[::ffff:127.0.0.1]:{listener.port}/jwks",
        f"http://2130706433:{listener.port}/jwks",
    ):
        outbound_cli(
            "projects",
            "set-session-issuer",
            *["--project", guarded.project_id, "--issuer", issuer, "--jwks-url", jwks_url],
            *["--audience", "outbound-tests"],
            *guarded.store.args,
            env=guarded.store.env,
        )
        now = int(time.time())
        token = jwt.encode(
            {"iss": issuer, "sub": "u", "iat": now, "exp": now + 300},
            key,
            algorithm="ES256",
            headers={"kid": "k-" + secrets.token_hex(3)},
        )
        response = httpx.post(
            guarded.base_url + "/v1/outbound/oauth/connect",
            json={"appId": "any"},
            headers={"Authorization": f"Bearer {guarded.project_id}:{token}"},
            timeout=30,
        )
        assert response.status_code == 401, response.text
        assert "refused" in response.json()["errorMessage"]
        assert INTERNAL_BODY not in response.content
    assert listener.connections == 0
