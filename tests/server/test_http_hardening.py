"""What the listener and the outermost layer refuse before any handler runs: foreign Host
headers, Host-reflecting redirects, oversized or endless headers, idle half-open connections;
and the headers every answer carries."""

from __future__ import annotations

import socket
import stat
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.server import LiveServer, Store, outbound_cli, running_server

HEADER_TIMEOUT = 2.0


@pytest.fixture(scope="module")
def server(store: Store) -> Iterator[LiveServer]:
    with running_server(
        store,
        extra_args=[
            "--header-timeout",
            str(HEADER_TIMEOUT),
            "--allowed-hosts",
            "vault.example.com",
        ],
    ) as server:
        with server.client() as http:
            http.post("/v1/mgmt/outbound/app/create", json={"id": "hh-app", "name": "hh-app"})
            http.post(
                "/v1/mgmt/outbound/app/user/apikey/upload",
                json={"appId": "hh-app", "userId": "u", "apiKey": "hh-secret"},
            )
        yield server


def fetch(server: LiveServer, **headers: str) -> httpx.Response:
    return httpx.post(
        server.base_url + "/v1/mgmt/outbound/app/user/token/latest",
        json={"appId": "hh-app", "userId": "u"},
        headers={**server.auth_header, **headers},
        timeout=10,
    )


@pytest.mark.parametrize(
    "host", ["evil.example", "evil.example:80", "127.0.0.1.evil.example", "vault.example.com.evil"]
)
def test_only_configured_hosts_are_served(server: LiveServer, host: str) -> None:
    for response in (
        fetch(server, Host=host),
        httpx.get(
            server.base_url + "/v1/mgmt/outbound/apps", headers={**server.auth_header, "Host": host}
        ),
    ):
        assert response.status_code == 421, response.text
        assert response.json()["errorCode"] == "E130421"
        assert "hh-secret" not in response.text
        assert host not in response.text


@pytest.mark.parametrize(
    "host", ["localhost", "127.0.0.1", "vault.example.com", "VAULT.example.com."]
)
def test_configured_and_loopback_hosts_are_served(server: LiveServer, host: str) -> None:
    response = fetch(server, Host=host)
    assert response.status_code == 200, response.text
    assert response.json()["token"]["token"] == "hh-secret"


def test_health_answers_any_host(server: LiveServer) -> None:
    assert httpx.get(server.base_url + "/health", headers={"Host": "10.1.2.3"}).status_code == 200


def test_no_redirect_reflects_the_host_header(server: LiveServer) -> None:
    for path in ("/v1/mgmt/outbound/apps/", "/health/", "/v1/mgmt/outbound/app/hh-app/"):
        response = httpx.get(
            server.base_url + path, headers={**server.auth_header, "Host": "localhost"}
        )
        assert not response.is_redirect, (path, response.headers)
        assert "location" not in response.headers


def test_every_answer_says_nosniff_and_secrets_are_not_cached(server: LiveServer) -> None:
    answers = [
        fetch(server),  # the fast path
        httpx.get(server.base_url + "/v1/mgmt/outbound/apps", headers=server.auth_header),
        httpx.get(server.base_url + "/v1/mgmt/outbound/apps"),  # 401
        httpx.get(server.base_url + "/health"),
        httpx.get(server.base_url + "/nothing-here"),
        fetch(server, Host="evil.example"),
    ]
    for response in answers:
        assert response.headers["x-content-type-options"] == "nosniff", response.url
        assert response.headers["cache-control"] == "no-store", response.url


def test_too_many_or_too_large_headers_are_431(server: LiveServer) -> None:
    many = {f"x-h{i}": "v" for i in range(150)}
    response = fetch(server, **many)
    assert response.status_code == 431
    assert response.json()["errorCode"] == "E130431"
    response = fetch(server, **{"x-big": "v" * 40_000})
    assert response.status_code == 431
    assert fetch(server).status_code == 200


def test_idle_half_open_connections_neither_stop_fetches_nor_stay_open(
    server: LiveServer,
) -> None:
    port = int(server.base_url.rsplit(":", 1)[1])
    idle = []
    try:
        for i in range(200):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            if i % 2:  # half of them start a request and never finish its headers
                sock.sendall(b"POST /v1/mgmt/outbound/app/user/token/latest HTTP/1.1\r\nHost: x")
            idle.append(sock)
        opened = time.monotonic()
        # Fetches go through while all 200 hang.
        with httpx.Client(headers=server.auth_header, timeout=5) as http:
            for _ in range(20):
                response = http.post(
                    server.base_url + "/v1/mgmt/outbound/app/user/token/latest",
                    json={"appId": "hh-app", "userId": "u"},
                )
                assert response.status_code == 200, response.text
        # ... and the server closes every one of them once the header timeout has passed.
        closed = 0
        for sock in idle:
            sock.settimeout(max(0.1, opened + HEADER_TIMEOUT + 5 - time.monotonic()))
            try:
                if sock.recv(1024) == b"":
                    closed += 1
            except ConnectionResetError:
                closed += 1
            except TimeoutError:
                pass
        assert closed == len(idle)
    finally:
        for sock in idle:
            sock.close()


def test_the_data_dir_is_private(tmp_path: Path) -> None:
    store = Store(tmp_path / "fresh" / "data")
    store.master_key = ""  # the key file in the data dir
    with running_server(store) as server:
        assert httpx.get(server.base_url + "/health").status_code == 200
    data_dir = store.data_dir
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    files = [p for p in data_dir.iterdir() if p.name.startswith(("outbound.db", "master.key"))]
    assert {p.name for p in files} >= {"outbound.db", "master.key"}
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name


@pytest.mark.parametrize("mode", [0o755, 0o770, 0o707], ids=["0755", "0770", "0707"])
def test_an_existing_data_dir_open_to_others_is_made_private(tmp_path: Path, mode: int) -> None:
    """A data dir made by hand (or restored) with group or other access: the server takes
    that access away before it writes a secret there, and says so in its log."""
    store = Store(tmp_path / "shared")
    store.master_key = ""  # the key file in the data dir
    project = store.new_project()
    store.data_dir.chmod(mode)  # opened up after the first start, as a restore might
    with running_server(store, project=project) as server:
        assert stat.S_IMODE(store.data_dir.stat().st_mode) == 0o700
        assert f"was mode {mode:04o}" in server.log()
        assert "set to 0700" in server.log()


STRAY: list[Callable[[str], str]] = [
    lambda key: key + "!!",
    lambda key: f'"{key}"',  # quotes copied along from a config file
    lambda key: key[:10] + "*" + key[10:] + "==",
    lambda key: key[:20] + "." + key[20:] + "==",
    lambda key: key[:10] + "\n" + key[10:],
]


@pytest.mark.parametrize("mangle", STRAY, ids=["bangs", "quotes", "star", "dot", "newline"])
def test_a_master_key_with_stray_characters_is_refused(
    tmp_path: Path, mangle: Callable[[str], str]
) -> None:
    good = Store(tmp_path).master_key
    with pytest.raises(RuntimeError, match="OUTBOUND_MASTER_KEY"):
        outbound_cli("init", "--data-dir", str(tmp_path), env={"OUTBOUND_MASTER_KEY": mangle(good)})
