"""Issue 12: the audit log, metrics and JSON logs of a real server, on both backends.

One server runs with ``--metrics-port``, ``--log-format json`` and a short audit flush; tests
drive it through the management API, the real provider and the CLI, and read what a user would:
``GET …/audit``, ``outbound audit verify``, ``/metrics`` (with ``prometheus_client.parser`` and
``promtool``) and the log lines.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from tests.e2e.conftest import SERVER_ARGS, Vault, create_app
from tests.support.browser import CallbackCatcher
from tests.support.oidc_server import OidcServer
from tests.support.server import (
    LiveServer,
    Store,
    free_port,
    outbound_cli,
    running_server,
    start_server,
    stop_server,
)

from outbound.storage.keys import split_key

FLUSH = 0.2


@pytest.fixture(scope="module")
def metrics_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def observed(
    store: Store, idp: OidcServer, catcher: CallbackCatcher, metrics_port: int
) -> Iterator[Vault]:
    args = [
        *SERVER_ARGS,
        "--metrics-port",
        str(metrics_port),
        "--log-format",
        "json",
        "--audit-flush-interval",
        str(FLUSH),
    ]
    with running_server(store, extra_args=args) as server:
        oauth_client, app_id = create_app(server, idp, catcher)
        yield Vault(server, idp, oauth_client, catcher, app_id)


def events(server: LiveServer, project: tuple[str, str] | None = None, **query: Any) -> list[Any]:
    """Every audit event of the project, through the API, once every batched fetch event has
    been written: read until two reads a few flush intervals apart agree (a fixed sleep would
    pass or fail with the machine's load)."""
    deadline = time.monotonic() + 30
    found = _read_events(server, project, **query)
    while True:
        time.sleep(FLUSH * 2)
        again = _read_events(server, project, **query)
        if again == found:
            return found
        assert time.monotonic() < deadline, "the audit log kept changing"
        found = again


def _read_events(server: LiveServer, project: tuple[str, str] | None, **query: Any) -> list[Any]:
    project_id, key = project or (server.project_id, server.management_key)
    found: list[Any] = []
    params: dict[str, Any] = {"limit": 7, **query}
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        while True:
            response = http.get(
                "/v1/mgmt/outbound/audit",
                params=params,
                headers={"Authorization": f"Bearer {project_id}:{key}"},
            )
            assert response.status_code == 200, response.text
            page = response.json()
            found += page["events"]
            if not page["nextCursor"]:
                return found
            params["cursor"] = page["nextCursor"]


def verify(store: Store, project_id: str) -> tuple[int, dict[str, Any]]:
    result = subprocess.run(
        [sys.executable, "-m", "outbound", "audit", "verify", "--project", project_id, *store.args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **store.env},
    )
    return result.returncode, json.loads(result.stdout)


def sql(store: Store, statement: str) -> None:
    """Run SQL as an operator (or attacker) with the database would: sqlite3 or psql."""
    if store.database_url:
        command = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", store.database_url, "-c", statement]
    else:
        command = ["sqlite3", str(store.data_dir / "outbound.db"), statement]
    result = subprocess.run(command, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr


def scrape(port: int) -> str:
    response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
    assert response.status_code == 200
    return response.text


def test_every_audited_action_is_recorded_by_whom_and_the_chain_verifies(
    observed: Vault, idp: OidcServer
) -> None:
    server = observed.server
    key_id = server.management_key.split("_")[1]
    user = observed.new_user()
    # connect (link + completed), fetch, forced refresh, refresh on expiry
    assert observed.connect_quickly(user)["status"] == "success"
    observed.token(user)
    observed.token(user, forceRefresh=True)
    observed.expire(user)
    observed.token(user)
    # a transient refusal, then a permanent one
    idp.fault("status", seconds=60, status=503)
    observed.expire(user)
    assert observed.fetch(user).json()["errorCode"] == "E131011"
    idp.heal()
    assert idp.revoke_account(user) == 1
    assert observed.fetch(user).json()["errorCode"] == "E131010"
    # a connect the provider fails
    idp.fault("status", seconds=60, status=503)
    assert observed.connect_quickly(observed.new_user())["error"] == "temporarily_unavailable"
    idp.heal()
    # upload, fetch of nothing, delete, app create / update / delete
    with server.client() as http:
        other = http.post(
            "/v1/mgmt/outbound/app/create",
            json={"id": "audited-app", "name": "audited", "tokenUrl": "https://p.example/t"},
        )
        assert other.status_code == 200, other.text
        app = {"id": "audited-app", "name": "audited 2", "tokenUrl": "https://p.example/t"}
        updated = http.post("/v1/mgmt/outbound/app/update", json={"app": app})
        assert updated.status_code == 200, updated.text
        uploaded = http.post(
            "/v1/mgmt/outbound/app/user/apikey/upload",
            json={"appId": "audited-app", "userId": "u1", "apiKey": "k-" + secrets.token_hex(8)},
        )
        assert uploaded.status_code == 200, uploaded.text
        missing = http.post(
            "/v1/mgmt/outbound/app/user/token/latest",
            json={"appId": "audited-app", "userId": "nobody"},
        )
        assert missing.json()["errorCode"] == "E111504"
        assert (
            http.delete("/v1/mgmt/outbound/user/tokens", params={"userId": "u1"}).status_code == 200
        )
        assert (
            http.post("/v1/mgmt/outbound/app/delete", json={"id": "audited-app"}).status_code == 200
        )
    # keys, by the operator's CLI
    created = json.loads(
        outbound_cli(
            "keys",
            "create",
            "--project",
            server.project_id,
            *server.store.args,
            env=server.store.env,
        )
    )
    new_key_id = created["managementKey"].split("_")[1]
    outbound_cli(
        "keys",
        "revoke",
        "--project",
        server.project_id,
        new_key_id,
        *server.store.args,
        env=server.store.env,
    )

    found = events(server)

    seen = {(e["action"], e["outcome"], e["errorCode"], e["detail"]) for e in found}
    by_key = f"key:{key_id}"
    mine = [e for e in found if e["userId"] == user]
    assert [e["seq"] for e in found] == sorted(e["seq"] for e in found)
    assert {"connect.link", "connect.completed", "token.fetch", "token.refresh"} <= {
        e["action"] for e in mine
    }
    refreshes = [(e["detail"], e["errorCode"]) for e in mine if e["action"] == "token.refresh"]
    assert refreshes == [
        ("forceRefresh", ""),
        ("fetch", ""),
        ("fetch", "E131011"),
        ("fetch", "E131010"),
    ]
    assert all(e["actor"] == by_key for e in mine if e["action"] in ("token.fetch", "connect.link"))
    assert ("connect.failed", "error", "temporarily_unavailable", "") in seen
    for action in ("app.create", "app.update", "app.delete", "token.upload", "token.delete"):
        assert any(e["action"] == action and e["actor"] == by_key for e in found), action
    assert ("token.fetch", "error", "E111504", "") in seen
    assert ("key.create", "ok", "", new_key_id) in seen
    assert ("key.revoke", "ok", "", new_key_id) in seen
    assert all(e["clientAddress"] == "127.0.0.1" for e in found if e["actor"] == by_key)
    assert all(e["requestId"] for e in found if e["actor"] == by_key)
    # the filters
    only = events(server, action="token.refresh", userId=user)
    assert [e["seq"] for e in only] == [e["seq"] for e in mine if e["action"] == "token.refresh"]

    code, report = verify(server.store, server.project_id)
    assert (code, report["ok"]) == (0, True), report
    assert report["events"] == len(found)


@pytest.mark.parametrize("tamper", ["edit", "delete", "insert"])
def test_verify_names_the_edited_deleted_or_inserted_event(observed: Vault, tamper: str) -> None:
    server = observed.server
    project_id, key = server.store.new_project()
    headers = {"Authorization": f"Bearer {project_id}:{key}"}
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=30) as http:
        for i in range(5):
            body = {"id": f"a{i}", "name": f"a{i}", "tokenUrl": "https://p.example/t"}
            assert http.post("/v1/mgmt/outbound/app/create", json=body).status_code == 200
    code, report = verify(server.store, project_id)
    assert (code, report["ok"], report["events"]) == (0, True, 6), report
    where = f"project_id = '{project_id}'"
    # seq 1 is the project's first key (projects create); the apps are seq 2..6
    if tamper == "edit":
        sql(server.store, f"UPDATE audit_events SET app_id = 'other' WHERE {where} AND seq = 4")
        expected = ("edited", 4)
    elif tamper == "delete":
        sql(server.store, f"DELETE FROM audit_events WHERE {where} AND seq = 4")
        expected = ("deleted", 4)
    else:
        columns = (
            "project_id, time_ms, actor, action, app_id, user_id, tenant_id, token_id, outcome,"
            " error_code, client, request_id, detail, key_id, mac"
        )
        sql(
            server.store,
            f"INSERT INTO audit_events (seq, {columns}) SELECT 7, {columns} FROM audit_events"
            f" WHERE {where} AND seq = 6",
        )
        expected = ("inserted", 7)

    code, report = verify(server.store, project_id)

    assert code == 1
    assert (report["problem"]["kind"], report["problem"]["seq"]) == expected, report


def test_no_secret_reaches_an_audit_event_a_metric_or_a_log_line(
    observed: Vault, metrics_port: int
) -> None:
    server = observed.server
    canary = {k: f"CANARY{k}{secrets.token_hex(10)}" for k in ("AT", "RT", "IDT", "KEY", "CS")}
    with server.client() as http:
        created = http.post(
            "/v1/mgmt/outbound/app/create",
            json={
                "id": "canary-app",
                "name": "canary-app",
                "clientId": "cid",
                "clientSecret": canary["CS"],
                "tokenUrl": "https://p.example/token",
            },
        )
        assert created.status_code == 200, created.text
        for path, body in (
            (
                "/v1/mgmt/outbound/app/user/oauthtoken/upload",
                {
                    "appId": "canary-app",
                    "userId": "canary-user",
                    "accessToken": canary["AT"],
                    "refreshToken": canary["RT"],
                    "idToken": canary["IDT"],
                    "accessTokenExpiry": int(time.time()) + 3600,
                },
            ),
            (
                "/v1/mgmt/outbound/app/tenant/apikey/upload",
                {"appId": "canary-app", "tenantId": "canary-tenant", "apiKey": canary["KEY"]},
            ),
        ):
            assert http.post(path, json=body).status_code == 200
        fetched = http.post(
            "/v1/mgmt/outbound/app/user/token/latest",
            json={
                "appId": "canary-app",
                "userId": "canary-user",
                "options": {"withRefreshToken": True},
            },
        )
        assert fetched.json()["token"]["refreshToken"] == canary["RT"]
    # and the secrets of the OAuth flow
    user = observed.new_user()
    assert observed.connect_quickly(user)["status"] == "success"
    observed.token(user, withRefreshToken=True)
    secrets_seen = [
        *canary.values(),
        *observed.seen,
        observed.oauth_client.client_secret,
        server.management_key,
        # the key's secret part alone (its id is public: events name it)
        split_key(server.management_key)[1],  # type: ignore[index]
        server.store.master_key,
    ]

    audit_text = json.dumps(events(server))
    metrics_text = scrape(metrics_port)
    log = server.log()

    assert "canary-app" in audit_text
    for secret in secrets_seen:
        assert secret not in audit_text
        assert secret not in metrics_text
        assert secret not in log


def test_json_logs_are_one_object_a_line_with_the_request(observed: Vault) -> None:
    server = observed.server
    with server.client() as http:
        fetched = http.post(
            "/v1/mgmt/outbound/app/user/token/latest",
            json={"appId": observed.app_id, "userId": "nobody-here"},
            headers={"X-Request-ID": "req-json-log-1"},
        )
        assert fetched.headers["x-request-id"] == "req-json-log-1"
        listed = http.get("/v1/mgmt/outbound/apps", headers={"X-Request-ID": "req-json-log-2"})
        assert listed.status_code == 200
    time.sleep(0.2)

    lines = [line for line in server.log().splitlines() if line.strip()]
    entries = [json.loads(line) for line in lines]  # every line is one JSON object

    assert all(isinstance(e, dict) and {"time", "level", "message"} <= e.keys() for e in entries)
    key_id = server.management_key.split("_")[1]
    by_id = {e.get("requestId"): e for e in entries if e.get("logger") == "outbound.access"}
    fetch_line = by_id["req-json-log-1"]
    assert fetch_line["route"] == "/v1/mgmt/outbound/app/user/token/latest"
    assert fetch_line["status"] == 404
    assert fetch_line["projectId"] == server.project_id
    assert fetch_line["keyId"] == key_id
    assert fetch_line["durationMs"] >= 0
    assert by_id["req-json-log-2"]["route"] == "/v1/mgmt/outbound/apps"
    assert by_id["req-json-log-2"]["status"] == 200


def test_metrics_parse_and_pass_promtool(observed: Vault, metrics_port: int) -> None:
    user = observed.new_user()
    assert observed.connect_quickly(user)["status"] == "success"
    observed.token(user)
    observed.token(user, forceRefresh=True)
    with observed.http as http:
        http.get("/v1/mgmt/outbound/app/some-app-id")
    deadline = time.monotonic() + 40  # the connections gauge is counted every 30 s
    while True:
        text = scrape(metrics_port)
        if 'outbound_connections{status="active"} 0.0' not in text:
            break
        assert time.monotonic() < deadline, "the connections gauge was never counted"
        time.sleep(1)

    families = {f.name: f for f in text_string_to_metric_families(text)}

    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in families.values()
        for s in f.samples
    }
    assert samples[("outbound_token_fetches_total", (("outcome", "ok"),))] >= 2
    assert any(
        name == "outbound_refreshes_total" and dict(labels)["outcome"] == "success"
        for name, labels in samples
    )
    assert "outbound_refresh_duration_seconds" in families
    assert "outbound_refresh_lease_wait_seconds" in families
    assert "outbound_audit_events_written" in families
    assert samples[("outbound_connections", (("status", "active"),))] >= 1
    routes = {
        dict(labels).get("route") for name, labels in samples if name.startswith("outbound_http")
    }
    assert "/v1/mgmt/outbound/app/{id:path}" in routes  # the template, never the raw path
    assert "/v1/mgmt/outbound/app/some-app-id" not in routes
    assert "/v1/mgmt/outbound/app/user/token/latest" in routes
    promtool = shutil.which("promtool")
    assert promtool, "scripts/test installs Debian's prometheus package (promtool)"
    checked = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_cli_lists_and_follows_the_audit_log(observed: Vault) -> None:
    server = observed.server
    project_id, key = server.store.new_project()
    env = {**os.environ, "OUTBOUND_MANAGEMENT_KEY": key}
    common = ["--url", server.base_url, "--project", project_id]
    follow = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "outbound",
            "audit",
            "tail",
            "--follow",
            "--interval",
            "0.2",
            *common,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        headers = {"Authorization": f"Bearer {project_id}:{key}"}
        with httpx.Client(base_url=server.base_url, headers=headers, timeout=30) as http:
            for name in ("cli-1", "cli-2"):
                body = {"id": name, "name": name, "tokenUrl": "https://p.example/t"}
                assert http.post("/v1/mgmt/outbound/app/create", json=body).status_code == 200

        listed = subprocess.run(
            [sys.executable, "-m", "outbound", "audit", "list", *common, "--action", "app.create"],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )

        assert listed.returncode == 0, listed.stderr
        assert [json.loads(line)["appId"] for line in listed.stdout.splitlines()] == [
            "cli-1",
            "cli-2",
        ]
        assert follow.stdout is not None
        followed = [json.loads(follow.stdout.readline()) for _ in range(3)]
        assert [(e["action"], e["appId"]) for e in followed] == [
            ("key.create", ""),
            ("app.create", "cli-1"),
            ("app.create", "cli-2"),
        ]
    finally:
        follow.kill()
        follow.wait()
        assert follow.stdout is not None
        follow.stdout.close()


def test_fetch_events_older_than_the_flush_interval_survive_a_kill(store: Store) -> None:
    """The documented guarantee: kill -9 loses at most the last flush interval of fetch events
    (here 0.2 s); changes are in the transaction that made them."""
    server = start_server(store, extra_args=["--audit-flush-interval", str(FLUSH)])
    try:
        with server.client() as http:
            body = {"id": "kill-app", "name": "kill-app", "tokenUrl": "https://p.example/t"}
            assert http.post("/v1/mgmt/outbound/app/create", json=body).status_code == 200
            upload = {"appId": "kill-app", "userId": "u", "apiKey": "k-" + secrets.token_hex(8)}
            assert (
                http.post("/v1/mgmt/outbound/app/user/apikey/upload", json=upload).status_code
                == 200
            )
            for _ in range(50):
                fetch = {"appId": "kill-app", "userId": "u"}
                assert (
                    http.post("/v1/mgmt/outbound/app/user/token/latest", json=fetch).status_code
                    == 200
                )
        deadline = time.monotonic() + 30  # the batch written: what the kill must not undo
        while sum(e["action"] == "token.fetch" for e in events(server)) < 50:
            assert time.monotonic() < deadline
        server.process.kill()  # SIGKILL: no clean stop, no final flush
        server.process.wait()
    finally:
        stop_server(server)

    with running_server(store, project=(server.project_id, server.management_key)) as again:
        found = events(again)
    assert sum(e["action"] == "token.fetch" for e in found) == 50
    assert [e["action"] for e in found if e["action"] != "token.fetch"] == [
        "key.create",
        "app.create",
        "token.upload",
    ]
    assert verify(store, server.project_id)[1]["ok"] is True


def test_a_background_refresh_is_audited_as_the_systems(observed: Vault, store: Store) -> None:
    server = observed.server
    user = observed.new_user()
    assert observed.connect_quickly(user)["status"] == "success"
    observed.expire(user, seconds_left=60)
    ahead = [*SERVER_ARGS, "--refresh-ahead", "600", "--refresh-ahead-interval", "1"]
    project = (server.project_id, server.management_key)
    with running_server(store, project=project, extra_args=ahead):
        deadline = time.monotonic() + 30
        while True:
            refreshes = [
                e for e in events(server, action="token.refresh", userId=user) if e["detail"]
            ]
            if refreshes or time.monotonic() > deadline:
                break
    assert [(e["actor"], e["detail"], e["outcome"]) for e in refreshes][:1] == [
        ("system", "background", "ok")
    ]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("limit", "0"),
        ("limit", "many"),
        ("since", "yesterday"),
        ("action", "token.steal"),
        ("cursor", "-1"),
        ("until", "2026-01-01T00:00:00"),
    ],
)
def test_bad_audit_queries_are_a_400_naming_the_parameter(
    observed: Vault, name: str, value: str
) -> None:
    with observed.http as http:
        response = http.get("/v1/mgmt/outbound/audit", params={name: value})
    assert response.status_code == 400
    assert response.json()["errorCode"] == "E011003"
    assert repr(name) in response.json()["errorMessage"]


def test_audit_needs_a_management_key(observed: Vault) -> None:
    response = httpx.get(observed.server.base_url + "/v1/mgmt/outbound/audit", timeout=10)
    assert response.status_code == 401
