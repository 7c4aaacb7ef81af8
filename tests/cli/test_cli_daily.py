"""What operators do daily from the command line: apps list/show/update/delete through the
running server, projects list from the store, and one spelling of the filters (--app, --user,
--tenant) on every command, the old ones still working with a warning."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.server import LiveServer, Store, outbound_cli


def _cli(
    server: LiveServer, *args: str, env: dict[str, str] | None = None
) -> list[dict[str, object]]:
    out = outbound_cli(
        *args,
        "--url",
        server.base_url,
        "--project",
        server.project_id,
        env={"OUTBOUND_MANAGEMENT_KEY": server.management_key, **(env or {})},
    )
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def _run(server: LiveServer, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "outbound",
            *args,
            "--url",
            server.base_url,
            "--project",
            server.project_id,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "OUTBOUND_MANAGEMENT_KEY": server.management_key},
    )


def test_apps_list_show_update_delete(live_server: LiveServer) -> None:
    with live_server.client() as http:
        created = http.post(
            "/v1/mgmt/outbound/app/create",
            json={
                "name": "cli-daily",
                "clientId": "client-1",
                "clientSecret": "cli-daily-secret-canary",
                "tokenUrl": "https://provider.example/token",
                "defaultScopes": ["read"],
            },
        ).json()["app"]
    app_id = str(created["id"])

    listed = _cli(live_server, "apps", "list")
    assert app_id in [a["id"] for a in listed]
    [shown] = _cli(live_server, "apps", "show", app_id)
    assert shown["name"] == "cli-daily"
    assert shown["callbackUrl"]
    assert "cli-daily-secret-canary" not in json.dumps([*listed, shown])

    [updated] = _cli(
        live_server,
        "apps",
        "update",
        app_id,
        "--name",
        "cli-daily renamed",
        "--scope",
        "read",
        "--scope",
        "write",
        "--client-secret-env",
        "NEW_SECRET",
        env={"NEW_SECRET": "cli-daily-new-secret"},
    )
    assert updated["name"] == "cli-daily renamed"
    assert updated["defaultScopes"] == ["read", "write"]
    # What was not named stays as it was.
    assert updated["clientId"] == "client-1"
    assert updated["tokenUrl"] == "https://provider.example/token"
    assert "cli-daily-new-secret" not in json.dumps(updated)

    nothing = _run(live_server, "apps", "update", app_id)
    assert nothing.returncode == 2
    assert "nothing to change" in nothing.stderr

    assert _cli(live_server, "apps", "delete", app_id, "--yes") == [{"deleted": app_id}]
    gone = _run(live_server, "apps", "show", app_id)
    assert gone.returncode == 1
    assert gone.stderr.startswith("Error: E")
    again = _run(live_server, "apps", "delete", app_id, "--yes")
    assert again.returncode == 1


def test_projects_list_names_every_project_and_no_key(tmp_path: Path) -> None:
    store = Store(tmp_path / "data")
    made = [store.new_project() for _ in range(2)]
    out = outbound_cli("projects", "list", *store.args, env=store.env)
    listed = [json.loads(line) for line in out.splitlines()]
    assert [p["projectId"] for p in listed] == [project for project, _ in made]
    assert not any(key in out for _, key in made)


def test_show_session_issuer_prints_what_was_set(tmp_path: Path) -> None:
    store = Store(tmp_path / "data")
    project, _ = store.new_project()
    outbound_cli(
        "projects",
        "set-session-issuer",
        "--project",
        project,
        "--issuer",
        "https://auth.example.com",
        "--jwks-url",
        "https://auth.example.com/jwks",
        "--audience",
        "my-app",
        *store.args,
        env=store.env,
    )
    out = outbound_cli(
        "projects", "show-session-issuer", "--project", project, *store.args, env=store.env
    )
    [shown] = [json.loads(line) for line in out.splitlines()]
    assert shown["issuer"] == "https://auth.example.com"
    assert shown["audience"] == "my-app"


@pytest.mark.parametrize(("old", "new"), [("--app-id", "--app"), ("--user-id", "--user")])
def test_old_filter_spellings_work_and_warn(live_server: LiveServer, old: str, new: str) -> None:
    with live_server.client() as http:
        app_id = http.post(
            "/v1/mgmt/outbound/app/create", json={"name": f"cli-filter{old}", "appType": "apikey"}
        ).json()["app"]["id"]
        http.post(
            "/v1/mgmt/outbound/app/user/apikey/upload",
            json={"appId": app_id, "userId": f"filter-user{old}", "apiKey": "k"},
        ).raise_for_status()
    value = app_id if new == "--app" else f"filter-user{old}"

    current = _run(live_server, "audit", "list", new, value)
    assert current.returncode == 0, current.stderr
    assert "deprecated" not in current.stderr
    events = [json.loads(line) for line in current.stdout.splitlines()]
    assert events

    former = _run(live_server, "audit", "list", old, value)
    assert former.returncode == 0, former.stderr
    assert f"{old} is deprecated; use {new}" in former.stderr
    assert [json.loads(line) for line in former.stdout.splitlines()] == events
    # Hidden: the help shows one spelling.
    assert old not in _run(live_server, "audit", "list", "--help").stdout
