"""Audit checkpoints make truncation visible: a server publishes each project's chain position
(log line and signed ``audit.checkpoint`` webhook event), ``outbound audit checkpoint`` prints
it, and ``outbound audit verify --expect SEQ:HASH`` fails once the chain no longer holds it —
after the whole chain is deleted, or an older head restored with the later events deleted, both
of which plain ``audit verify`` takes as intact."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.support.database import execute
from tests.support.server import LiveServer, Store, outbound_cli, postgres_database, running_server
from tests.support.webhook_receiver import WebhookReceiver, wait_until


@pytest.fixture
def own_store(backend: str, tmp_path: Path) -> Iterator[Store]:
    if backend == "postgres":
        with postgres_database() as url:
            yield Store(tmp_path, url)
    else:
        yield Store(tmp_path)


def _create_app(server: LiveServer, name: str) -> None:
    with server.client() as http:
        response = http.post("/v1/mgmt/outbound/app/create", json={"id": name, "name": name})
    assert response.status_code == 200, response.text


def _verify(store: Store, project_id: str, *expect: str) -> tuple[int, dict[str, Any]]:
    args = ["audit", "verify", "--project", project_id, *store.args]
    for item in expect:
        args += ["--expect", item]
    result = subprocess.run(
        [sys.executable, "-m", "outbound", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **store.env},
    )
    return result.returncode, json.loads(result.stdout)


def _checkpoint(store: Store, project_id: str) -> dict[str, Any]:
    out = outbound_cli("audit", "checkpoint", "--project", project_id, *store.args, env=store.env)
    found: dict[str, Any] = json.loads(out)
    return found


def test_checkpoints_are_published_and_verify_expect_catches_truncation(
    own_store: Store,
) -> None:
    with (
        WebhookReceiver() as receiver,
        running_server(own_store, extra_args=["--audit-checkpoint-interval", "0.5"]) as server,
    ):
        with server.client() as http:
            created = http.post(
                "/v1/mgmt/outbound/webhooks",
                json={"url": receiver.url, "events": ["audit.checkpoint"]},
            )
        assert created.status_code == 200, created.text
        receiver.secrets.append(created.json()["secret"])
        _create_app(server, "first")

        def published_at_least(seq: int) -> dict[str, Any] | None:
            for received in reversed(receiver.events("audit.checkpoint")):
                if received.event["data"]["seq"] >= seq:
                    return dict(received.event["data"])
            return None

        head = _checkpoint(own_store, server.project_id)
        first = wait_until(lambda: published_at_least(head["seq"]), 20, "no checkpoint event")
        assert first == {"seq": head["seq"], "hash": head["hash"]}
        assert head["projectId"] == server.project_id and len(head["hash"]) == 64
        assert receiver.rejected == []  # signed like every event
        wait_until(
            lambda: f"seq={head['seq']} hash={head['hash']}" in server.log() or None,
            20,
            "the checkpoint was not logged",
        )
        held = execute(
            own_store,
            "SELECT seq, mac, key_id, tag FROM audit_heads WHERE project_id = ?",
            (server.project_id,),
        )[0]
        for name in ("second", "third"):
            _create_app(server, name)
        later = _checkpoint(own_store, server.project_id)
        assert later["seq"] > head["seq"]
        wait_until(lambda: published_at_least(later["seq"]), 20, "no second checkpoint event")

    project = server.project_id
    early, late = f"{head['seq']}:{head['hash']}", f"{later['seq']}:{later['hash']}"
    code, report = _verify(own_store, project, early, late)
    assert (code, report["ok"]) == (0, True), report

    # An older head restored, the later events deleted: the chain alone looks intact…
    execute(
        own_store,
        "DELETE FROM audit_events WHERE project_id = ? AND seq > ?",
        (project, head["seq"]),
    )
    execute(
        own_store,
        "UPDATE audit_heads SET seq = ?, mac = ?, key_id = ?, tag = ? WHERE project_id = ?",
        (*held, project),
    )
    assert _verify(own_store, project)[1]["ok"] is True
    # …but not against the later checkpoint; the earlier one is still there
    code, report = _verify(own_store, project, late)
    assert code == 1 and report["problem"]["kind"] == "truncated", report
    assert report["problem"]["seq"] == later["seq"]
    assert _verify(own_store, project, early)[0] == 0

    # The whole chain deleted: intact by itself, not against any checkpoint.
    execute(own_store, "DELETE FROM audit_events WHERE project_id = ?", (project,))
    execute(own_store, "DELETE FROM audit_heads WHERE project_id = ?", (project,))
    assert _verify(own_store, project)[1]["ok"] is True
    code, report = _verify(own_store, project, early)
    assert code == 1 and report["problem"]["kind"] == "truncated", report


def test_verify_refuses_a_malformed_expectation(tmp_path: Path) -> None:
    store = Store(tmp_path)
    project, _ = store.new_project()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "outbound",
            "audit",
            "verify",
            "--project",
            project,
            "--expect",
            "12:not-hex",
            *store.args,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **store.env},
    )
    assert result.returncode == 2
    assert "SEQ:HASH" in result.stderr or "hex" in result.stderr
    assert "Traceback" not in result.stderr
