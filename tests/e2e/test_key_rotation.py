"""A master-key rotation as docs/operations.md tells it (new key first, restart, ``outbound
rekey``, drop the old key) keeps everything: tokens, API keys, the client a ``useDcr`` app
registered, webhook signing secrets and the audit chain — on both backends. And a store given
keys that hold none of its key ids refuses to start, writing nothing.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.e2e.conftest import SERVER_ARGS, scripted_consent
from tests.support.browser import CallbackCatcher
from tests.support.database import execute, raw_dump
from tests.support.oidc_server import OidcServer
from tests.support.server import (
    LiveServer,
    Store,
    outbound_cli,
    postgres_database,
    running_server,
)
from tests.support.webhook_receiver import WebhookReceiver

from outbound.crypto import load_keyring
from outbound.storage.sealed import SEALED_COLUMNS


def new_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def key_id(key: str) -> str:
    return load_keyring(key, None).key_ids[0]


@pytest.fixture
def keyed_store(backend: str, tmp_path: Path) -> Iterator[Store]:
    """A store of the test's own, sealed with a key the test knows."""
    if backend == "postgres":
        with postgres_database() as url:
            yield Store(tmp_path / "data", url, master_key=new_key())
    else:
        yield Store(tmp_path / "data", master_key=new_key())


@pytest.fixture(scope="module")
def dcr_idp() -> Iterator[OidcServer]:
    """An authorization server with open dynamic client registration."""
    with OidcServer(registration=True) as idp:
        yield idp


def _post(server: LiveServer, path: str, body: dict[str, Any]) -> dict[str, Any]:
    with server.client() as http:
        response = http.post(path, json=body)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def _fetch(server: LiveServer, app_id: str, user: str, **options: Any) -> dict[str, Any]:
    body = {"appId": app_id, "userId": user, "options": {"withRefreshToken": True, **options}}
    token: dict[str, Any] = _post(server, "/v1/mgmt/outbound/app/user/token/latest", body)["token"]
    return token


def _sealed_key_ids(store: Store) -> set[str]:
    """The key id every sealed value in the store names (read without any key)."""
    found = set()
    for column in SEALED_COLUMNS:
        for (blob,) in execute(
            store,
            f"SELECT {column.column} FROM {column.table} WHERE {column.column} IS NOT NULL",
        ):
            found.add(bytes(blob)[1:5].hex())
    return found


def test_a_rotation_keeps_tokens_api_keys_dcr_clients_webhooks_and_the_audit_chain(
    keyed_store: Store, dcr_idp: OidcServer, catcher: CallbackCatcher
) -> None:
    old, new = keyed_store.master_key, new_key()
    args = [*SERVER_ARGS, "--webhook-retry-base", "0.5"]
    with WebhookReceiver() as receiver:
        # -- before: everything sealed with the old key ------------------------------------
        with running_server(keyed_store, extra_args=args) as server:
            project = (server.project_id, server.management_key)
            _post(
                server,
                "/v1/mgmt/outbound/app/create",
                {
                    "id": "plain",
                    "name": "plain",
                    "tokenUrl": "https://p.example/t",
                    "clientSecret": "plain-client-secret",
                },
            )
            for user in ("u1", "u2"):
                _post(
                    server,
                    "/v1/mgmt/outbound/app/user/oauthtoken/upload",
                    {
                        "appId": "plain",
                        "userId": user,
                        "accessToken": f"at-{user}",
                        "refreshToken": f"rt-{user}",
                    },
                )
            _post(server, "/v1/mgmt/outbound/app/create", {"id": "keys", "name": "keys"})
            api_key = "sk_" + secrets.token_hex(8)
            _post(
                server,
                "/v1/mgmt/outbound/app/user/apikey/upload",
                {"appId": "keys", "userId": "u1", "apiKey": api_key},
            )
            _post(
                server,
                "/v1/mgmt/outbound/app/create",
                {
                    "id": "dcr",
                    "name": "dcr",
                    "useDcr": True,
                    "discoveryUrl": dcr_idp.discovery_url,
                    "defaultScopes": ["openid", "email"],
                    "defaultRedirectUrl": catcher.url,
                },
            )
            link = _post(
                server, "/v1/mgmt/outbound/app/connect", {"appId": "dcr", "userId": "dcr-user"}
            )["url"]
            assert "status=success" in scripted_consent(link, catcher.url, "dcr-user")
            registered = execute(keyed_store, "SELECT client_secret FROM client_registrations")
            assert registered and registered[0][0] is not None  # a confidential client
            created = _post(server, "/v1/mgmt/outbound/webhooks", {"url": receiver.url})
            original_secret = created["secret"]
            receiver.secrets.append(original_secret)
            _post(
                server,
                "/v1/mgmt/outbound/app/user/oauthtoken/upload",
                {"appId": "plain", "userId": "before", "accessToken": "at-before"},
            )
            receiver.wait_for("connection.created", userId="before")
        assert _sealed_key_ids(keyed_store) == {key_id(old)}

        # -- rotate: the new key first, restart, rekey while the server runs ----------------
        rotating = Store(keyed_store.data_dir, keyed_store.database_url, master_key=f"{new},{old}")
        with running_server(rotating, extra_args=args, project=project):
            report = json.loads(outbound_cli("rekey", *rotating.args, env=rotating.env))
        assert report["unreadable"] == []
        for column in (
            "tokens.access_token",
            "tokens.refresh_token",
            "apps.client_secret",
            "webhooks.secret",
            "client_registrations.client_secret",
            "store_keys.secrets",
            "store_secrets.value",
        ):
            assert report["resealed"].get(column, 0) >= 1, (column, report)
        assert _sealed_key_ids(keyed_store) == {key_id(new)}

        # -- after: the old key dropped ---------------------------------------------------
        rotated = Store(keyed_store.data_dir, keyed_store.database_url, master_key=new)
        with running_server(rotated, extra_args=args, project=project) as server:
            for user in ("u1", "u2"):
                token = _fetch(server, "plain", user)
                assert (token["accessToken"], token["refreshToken"]) == (f"at-{user}", f"rt-{user}")
            assert _fetch(server, "keys", "u1")["accessToken"] == api_key
            # the DCR app refreshes with the client it registered before the rotation
            grants = dcr_idp.successful_grants("refresh_token")
            before = _fetch(server, "dcr", "dcr-user")
            after = _fetch(server, "dcr", "dcr-user", forceRefresh=True)
            assert after["accessToken"] != before["accessToken"]
            assert dcr_idp.successful_grants("refresh_token") == grants + 1
            # the webhook's next delivery is signed with the secret it was created with
            _post(
                server,
                "/v1/mgmt/outbound/app/user/oauthtoken/upload",
                {"appId": "plain", "userId": "after", "accessToken": "at-after"},
            )
            receiver.wait_for("connection.created", userId="after")
            assert receiver.secrets == [original_secret]
            assert receiver.rejected == []
            assert "DecryptionError" not in server.log()

        # the whole chain verifies, events linked with the dropped key included
        verified = json.loads(
            outbound_cli("audit", "verify", "--project", project[0], *rotated.args, env=rotated.env)
        )
        assert verified["ok"] is True, verified
        assert verified["firstSeq"] == 1 and verified["events"] >= 10
        linked = {
            row[0]
            for row in execute(
                keyed_store,
                "SELECT DISTINCT key_id FROM audit_events WHERE project_id = ?",
                (project[0],),
            )
        }
        assert key_id(old) in linked  # the old key's events are there, and verified


def _refused(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OUTBOUND_")}
    return subprocess.run(
        [sys.executable, "-m", "outbound", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**clean, **env},
    )


def _files(directory: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(directory.iterdir()) if path.is_file()}


def _contents(store: Store) -> bytes:
    """Everything the store holds (pg_dump marks each dump with a random \\restrict key)."""
    lines = raw_dump(store).split(b"\n")
    return b"\n".join(
        line for line in lines if not line.startswith((b"\\restrict", b"\\unrestrict"))
    )


def _populate(store: Store) -> tuple[str, str]:
    with running_server(store) as server:
        _post(
            server,
            "/v1/mgmt/outbound/app/create",
            {"id": "a", "name": "a", "tokenUrl": "https://p.example/t", "clientSecret": "cs"},
        )
        _post(
            server,
            "/v1/mgmt/outbound/app/user/oauthtoken/upload",
            {"appId": "a", "userId": "u", "accessToken": "sealed-with-the-first-key"},
        )
        return server.project_id, server.management_key


def test_a_store_restored_without_its_key_file_refuses_to_start(tmp_path: Path) -> None:
    original = Store(tmp_path / "original", master_key="")
    # no OUTBOUND_MASTER_KEY: the first start generated master.key in the data dir
    original_env = {"OUTBOUND_DATA_DIR": str(original.data_dir)}
    created = json.loads(_refused(["init"], original_env).stdout)
    key_file = (original.data_dir / "master.key").read_text().strip()
    restored = tmp_path / "restored"
    restored.mkdir(mode=0o700)
    shutil.copy(original.data_dir / "outbound.db", restored / "outbound.db")
    before = _files(restored)

    for command in (
        ["serve", "--port", "0"],
        ["keys", "create", "--project", created["projectId"]],
        ["audit", "verify", "--project", created["projectId"]],
    ):
        result = _refused([*command, "--data-dir", str(restored)], {})
        assert result.returncode == 2, (command, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert f"master key id {key_id(key_file)}" in lines[0]
        assert "master.key" in lines[0] and "restore" in lines[0]
        assert "Traceback" not in result.stderr and result.stdout == ""
        # nothing written: no key file, no migration, no project
        assert _files(restored) == before

    # with the key file restored beside it, the store opens
    shutil.copy(original.data_dir / "master.key", restored / "master.key")
    opened = _refused(
        ["keys", "create", "--project", created["projectId"]], {"OUTBOUND_DATA_DIR": str(restored)}
    )
    assert opened.returncode == 0, opened.stderr


def test_a_store_given_the_wrong_key_refuses_to_start_and_writes_nothing(
    keyed_store: Store,
) -> None:
    project = _populate(keyed_store)
    dump = _contents(keyed_store)
    wrong = new_key()
    for keys in (wrong, f"{wrong},{new_key()}"):
        for command in (
            ["serve", "--port", "0"],
            ["rekey"],
            ["audit", "verify", "--project", project[0]],
        ):
            result = _refused([*command, *keyed_store.args], {"OUTBOUND_MASTER_KEY": keys})
            assert result.returncode == 2, (command, result.stderr)
            lines = result.stderr.strip().splitlines()
            assert len(lines) == 1, result.stderr
            assert f"master key id {key_id(keyed_store.master_key)}" in lines[0]
            assert key_id(wrong) in lines[0]
            assert "Traceback" not in result.stderr
    assert _contents(keyed_store) == dump
    assert not (keyed_store.data_dir / "master.key").exists()
    # the old key in the list (second) is enough to start, as during a rotation
    with running_server(
        Store(
            keyed_store.data_dir,
            keyed_store.database_url,
            master_key=f"{wrong},{keyed_store.master_key}",
        ),
        project=project,
    ) as server:
        assert _fetch(server, "a", "u")["accessToken"] == "sealed-with-the-first-key"
