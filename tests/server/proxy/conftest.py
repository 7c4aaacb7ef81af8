"""Fixtures of the proxy's tests: a provider API (``tests/support/upstream_api.py``) in a process
of its own, and an app of the live server pointing at it."""

from __future__ import annotations

import secrets
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.support.server import LiveServer
from tests.support.upstream_api import Upstream, running_upstream


@pytest.fixture(scope="package")
def upstream() -> Iterator[Upstream]:
    with running_upstream() as api:
        yield api


@dataclass
class ProxyApp:
    """An API-key app of the live server whose apiBaseUrl is the upstream (under a path)."""

    server: LiveServer
    app_id: str
    user_id: str
    api_key: str

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Outbound-User-Id": self.user_id, **kwargs.pop("headers", {})}
        with self.server.client() as http:
            return http.request(
                method, f"/v1/outbound/proxy/{self.app_id}/{path}", headers=headers, **kwargs
            )


def new_proxy_app(server: LiveServer, base_url: str, **fields: Any) -> ProxyApp:
    app_id = "api-" + secrets.token_hex(3)
    user_id = "user-" + secrets.token_hex(3)
    api_key = "key-" + secrets.token_hex(8)
    with server.client() as http:
        created = http.post(
            "/v1/mgmt/outbound/app/create",
            json={
                "id": app_id,
                "name": app_id,
                "appType": "apikey",
                "apiBaseUrl": base_url,
                **fields,
            },
        )
        assert created.status_code == 200, created.text
        uploaded = http.post(
            "/v1/mgmt/outbound/app/user/apikey/upload",
            json={"appId": app_id, "userId": user_id, "apiKey": api_key},
        )
        assert uploaded.status_code == 200, uploaded.text
    return ProxyApp(server, app_id, user_id, api_key)


@pytest.fixture
def api(live_server: LiveServer, upstream: Upstream) -> ProxyApp:
    return new_proxy_app(live_server, upstream.base_url)


def raw_request(
    server: LiveServer, request_line_path: str, headers: dict[str, str]
) -> tuple[int, dict[str, str], bytes]:
    """Send ``GET <path>`` exactly as written (httpx would normalise dot segments), and read
    the answer: (status, headers, body)."""
    host, port = server.base_url.removeprefix("http://").split(":")
    lines = [f"GET {request_line_path} HTTP/1.1", f"Host: {host}:{port}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    answer_headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        answer_headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), answer_headers, body
