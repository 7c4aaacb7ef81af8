"""Upgrades keep every token: a store written by an earlier release (kept as a fixture by
``make_fixture.py``) opens under this one, migrations and all, with everything readable."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.server import LiveServer, Store, postgres_database, running_server

HERE = Path(__file__).parent
RELEASES = sorted(path.name for path in HERE.glob("v*") if (path / "manifest.json").exists())
# Fields the server derives from where it runs, not from what was stored.
DERIVED = {"callbackUrl"}
# A fixture's ended deliveries are older than any retention: kept, so they can be compared.
SERVER_ARGS = ["--webhook-retention", "0"]


def manifest(release: str) -> dict[str, Any]:
    return dict(json.loads((HERE / release / "manifest.json").read_text()))


@pytest.fixture(scope="module", params=RELEASES)
def release(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def upgraded(
    backend: str, release: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[LiveServer, dict[str, Any]]]:
    """A server of this release on a copy of the old release's store."""
    tmp_path = tmp_path_factory.mktemp(f"upgrade-{backend}")
    written = manifest(release)
    expected = written[backend]
    project = (expected["projectId"], expected["managementKey"])
    if backend == "postgres":
        with postgres_database() as url:
            subprocess.run(
                [
                    "psql",
                    "-q",
                    "-v",
                    "ON_ERROR_STOP=1",
                    "-f",
                    str(HERE / release / "postgres.sql"),
                    url,
                ],
                check=True,
                capture_output=True,
            )
            store = Store(tmp_path, url, master_key=written["masterKey"])
            with running_server(store, project=project, extra_args=SERVER_ARGS) as server:
                yield server, expected
    else:
        shutil.copy(HERE / release / "outbound.db", tmp_path / "outbound.db")
        store = Store(tmp_path, master_key=written["masterKey"])
        with running_server(store, project=project, extra_args=SERVER_ARGS) as server:
            yield server, expected


def test_every_app_loads_as_it_was_written(upgraded: tuple[LiveServer, dict[str, Any]]) -> None:
    server, expected = upgraded
    with server.client() as client:
        for app in expected["apps"]:
            response = client.get(f"/v1/mgmt/outbound/app/{app['id']}")
            assert response.status_code == 200, response.text
            loaded = response.json()["app"]
            for field, value in app.items():
                if field not in DERIVED:
                    assert loaded.get(field) == value, field


def test_every_secret_opens_after_the_upgrade(upgraded: tuple[LiveServer, dict[str, Any]]) -> None:
    server, expected = upgraded
    with server.client() as client:
        for token in expected["tokens"]:
            if token["kind"] == "tenant":
                path, owner = (
                    "/v1/mgmt/outbound/app/tenant/token/latest",
                    {"tenantId": token["tenantId"]},
                )
            else:
                path, owner = "/v1/mgmt/outbound/app/user/token/latest", {"userId": token["userId"]}
            response = client.post(
                path, json={"appId": token["appId"], **owner, "options": {"withRefreshToken": True}}
            )
            assert response.status_code == 200, response.text
            got = response.json()["token"]
            if token["kind"] == "apikey":
                assert got["accessToken"] == token["apiKey"]
                continue
            assert got["accessToken"] == token["accessToken"]
            assert got["refreshToken"] == token["refreshToken"]
            assert got["accessTokenExpiry"] == str(token["accessTokenExpiry"])
            assert got["scopes"] == token["scopes"]


def test_the_upgraded_store_takes_new_writes(upgraded: tuple[LiveServer, dict[str, Any]]) -> None:
    server, expected = upgraded
    app_id = expected["apps"][0]["id"]
    with server.client() as client:
        response = client.post(
            "/v1/mgmt/outbound/app/user/oauthtoken/upload",
            json={"appId": app_id, "userId": "after-upgrade", "accessToken": "new-access"},
        )
        assert response.status_code == 200, response.text
        response = client.post(
            "/v1/mgmt/outbound/app/user/token/latest",
            json={"appId": app_id, "userId": "after-upgrade"},
        )
        assert response.json()["token"]["accessToken"] == "new-access"


def test_the_upgrade_says_which_migrations_ran(upgraded: tuple[LiveServer, dict[str, Any]]) -> None:
    """Migrating an existing store is news (its lines are at info); a new or current store's
    alembic lines are not (tests/cli/test_first_run.py)."""
    server, _ = upgraded
    log = server.log()
    assert "migrating the store from revision" in log
    assert "Running upgrade" in log


def test_every_webhook_and_delivery_reads_after_the_upgrade(
    upgraded: tuple[LiveServer, dict[str, Any]],
) -> None:
    """Webhooks, their deliveries (payloads moved to one stored event each by migration
    0014) and their attempts, as the old release listed them; a pending one is still sent."""
    server, expected = upgraded
    with server.client() as client:
        listed = {w["id"]: w for w in client.get("/v1/mgmt/outbound/webhooks").json()["webhooks"]}
        for webhook in expected.get("webhooks", []):
            assert listed[webhook["id"]]["url"] == webhook["url"]
            assert listed[webhook["id"]]["events"] == webhook["events"]
            response = client.get(f"/v1/mgmt/outbound/webhooks/{webhook['id']}/deliveries")
            assert response.status_code == 200, response.text
            found = {d["id"]: d for d in response.json()["deliveries"]}
            for delivery in webhook["deliveries"]:
                now = found[delivery["id"]]
                for field in ("eventId", "type", "payload"):
                    assert now[field] == delivery[field], field
                assert len(now["attempts"]) == now["attemptCount"] >= delivery["attemptCount"]
                if delivery["status"] == "delivered":
                    assert now["status"] == "delivered"
                    assert now["attemptCount"] == delivery["attemptCount"]


def test_apps_stored_before_keep_the_shared_callback_and_new_ones_get_their_projects(
    upgraded: tuple[LiveServer, dict[str, Any]],
) -> None:
    """Their redirect URI is registered at their provider already (issue 25, item 14)."""
    server, expected = upgraded
    shared = server.base_url + "/v1/outbound/oauth/callback"
    with server.client() as client:
        for app in expected["apps"]:
            loaded = client.get(f"/v1/mgmt/outbound/app/{app['id']}").json()["app"]
            assert loaded["callbackUrl"] == shared
        created = client.post(
            "/v1/mgmt/outbound/app/create",
            json={"name": "after the upgrade", "tokenUrl": "https://p.example/token"},
        )
        assert created.status_code == 200, created.text
        assert created.json()["app"]["callbackUrl"] == f"{shared}/{server.project_id}"
