"""Write the stores that ``test_upgrade.py`` opens: run this with a release's code to keep
what that release wrote (SQLite file and PostgreSQL dump) as a fixture.

    .venv/bin/python -m tests.upgrade.make_fixture 0.1.0

To keep what the code of a commit before a migration wrote, run it with that commit's
``src`` first on the path (the servers it starts are subprocesses, and inherit it):

    git archive COMMIT src | tar -x -C /tmp/old
    PYTHONPATH=/tmp/old/src .venv/bin/python -m tests.upgrade.make_fixture 0.1.0-0011

Everything in a fixture is made up for it — the master key, the management key and every
token are random test values that guard nothing — so it can be committed; the manifest lists
what the store must still answer after an upgrade.
"""

from __future__ import annotations

import json
import secrets
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx

from outbound import __version__
from tests.support.server import Store, postgres_database, running_server
from tests.support.webhook_receiver import WebhookReceiver, wait_until

HERE = Path(__file__).parent
FAR_FUTURE = 4102444800  # 2100-01-01: the fixture's tokens never need a refresh


def populate(client: httpx.Client) -> dict[str, Any]:
    """Apps and tokens of every kind the release can store; returns what to expect back."""

    def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = client.post(path, json=body)
        response.raise_for_status()
        return dict(response.json())

    oauth_app = post(
        "/v1/mgmt/outbound/app/create",
        {
            "id": "legacy-oauth",
            "name": "Legacy OAuth",
            "description": "written by the previous release",
            "clientId": "legacy-client",
            "clientSecret": "fixture-client-secret-" + secrets.token_hex(8),
            "authorizationUrl": "https://provider.example.com/authorize",
            "authorizationUrlParams": [{"key": "access_type", "value": "offline"}],
            "tokenUrl": "https://provider.example.com/token",
            "revocationUrl": "https://provider.example.com/revoke",
            "defaultScopes": ["read", "write"],
            "defaultRedirectUrl": "https://app.example.com/connected",
            "pkce": True,
            "accessType": "offline",
            "prompt": ["consent"],
        },
    )["app"]
    key_app = post("/v1/mgmt/outbound/app/create", {"id": "legacy-keys", "name": "Legacy keys"})[
        "app"
    ]
    tokens: list[dict[str, Any]] = []
    for n in range(3):
        user = f"user-{n}"
        body = {
            "appId": oauth_app["id"],
            "userId": user,
            "accessToken": f"fixture-access-{n}-" + secrets.token_hex(8),
            "refreshToken": f"fixture-refresh-{n}-" + secrets.token_hex(8),
            "idToken": f"fixture-id-{n}-" + secrets.token_hex(8),
            "accessTokenExpiry": FAR_FUTURE,
            "scopes": ["read", "write"],
            "externalIdentifier": f"ext-{n}",
        }
        post("/v1/mgmt/outbound/app/user/oauthtoken/upload", body)
        tokens.append({"kind": "user", **body})
    tenant_body = {
        "appId": oauth_app["id"],
        "tenantId": "tenant-a",
        "accessToken": "fixture-tenant-access-" + secrets.token_hex(8),
        "refreshToken": "fixture-tenant-refresh-" + secrets.token_hex(8),
        "accessTokenExpiry": FAR_FUTURE,
        "scopes": ["read"],
    }
    post("/v1/mgmt/outbound/app/tenant/oauthtoken/upload", tenant_body)
    tokens.append({"kind": "tenant", **tenant_body})
    api_key = {
        "appId": key_app["id"],
        "userId": "user-0",
        "apiKey": "fixture-apikey-" + secrets.token_hex(8),
    }
    post("/v1/mgmt/outbound/app/user/apikey/upload", api_key)
    tokens.append({"kind": "apikey", **api_key})
    return {"apps": [oauth_app, key_app], "tokens": tokens}


def populate_webhooks(client: httpx.Client) -> dict[str, Any]:
    """Webhooks and their deliveries, for a release that has them: one delivered, one still
    pending after failed attempts (its receiver refuses connections); returns what to expect
    back (empty for a release without webhooks)."""
    if client.get("/v1/mgmt/outbound/webhooks").status_code != 200:
        return {}

    def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = client.post(path, json=body)
        response.raise_for_status()
        return dict(response.json())

    with WebhookReceiver() as receiver:
        answered = post("/v1/mgmt/outbound/webhooks", {"url": receiver.url})
        receiver.secrets.append(answered["secret"])
        refused = post(
            "/v1/mgmt/outbound/webhooks",
            {"url": "http://127.0.0.1:9/hooks", "events": ["connection.created"]},
        )
        key_app = post("/v1/mgmt/outbound/app/create", {"name": "Legacy webhooks"})["app"]
        post(
            "/v1/mgmt/outbound/app/user/apikey/upload",
            {"appId": key_app["id"], "userId": "hooked", "apiKey": "k-" + secrets.token_hex(8)},
        )

        def listed(webhook_id: str) -> list[dict[str, Any]]:
            response = client.get(f"/v1/mgmt/outbound/webhooks/{webhook_id}/deliveries")
            response.raise_for_status()
            return list(response.json()["deliveries"])

        wait_until(
            lambda: (
                [d["status"] for d in listed(answered["webhook"]["id"])] == ["delivered"]
                and all(d["attemptCount"] for d in listed(refused["webhook"]["id"]))
            ),
            60,
            "the fixture's deliveries did not settle",
        )
    webhooks = []
    for webhook in (answered["webhook"], refused["webhook"]):
        deliveries = [
            {k: d[k] for k in ("id", "eventId", "type", "status", "attemptCount", "payload")}
            for d in listed(webhook["id"])
        ]
        webhooks.append(
            {
                "id": webhook["id"],
                "url": webhook["url"],
                "events": webhook["events"],
                "deliveries": deliveries,
            }
        )
    return {"webhooks": webhooks}


def main(release: str) -> None:
    out = HERE / f"v{release}"
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    master_key = secrets.token_urlsafe(32).rstrip("=")[:43]
    manifest: dict[str, Any] = {
        "release": release,
        "writtenBy": __version__,
        "masterKey": master_key,
    }
    with tempfile.TemporaryDirectory() as tmp:
        # SQLite: the database file is the fixture.
        sqlite_store = Store(Path(tmp) / "sqlite", master_key=master_key)
        with running_server(sqlite_store) as server, server.client() as client:
            manifest["sqlite"] = {
                "projectId": server.project_id,
                "managementKey": server.management_key,
                **populate(client),
                **populate_webhooks(client),
            }
        # A checkpoint folds the WAL into the one file kept.
        db = sqlite3.connect(sqlite_store.data_dir / "outbound.db")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.close()
        shutil.copy(sqlite_store.data_dir / "outbound.db", out / "outbound.db")
        # PostgreSQL: a plain pg_dump.
        with postgres_database() as url:
            pg_store = Store(Path(tmp) / "pg", url, master_key=master_key)
            with running_server(pg_store) as server, server.client() as client:
                manifest["postgres"] = {
                    "projectId": server.project_id,
                    "managementKey": server.management_key,
                    **populate(client),
                    **populate_webhooks(client),
                }
            dump = subprocess.run(
                ["pg_dump", "--no-owner", "--no-privileges", url],
                capture_output=True,
                check=True,
            ).stdout
            (out / "postgres.sql").write_bytes(dump)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else __version__)
