"""Management key digests are keyed and bound to their project and key id (issue 25 item 20):
someone who can write the database but does not hold the master key cannot make a working
key — not by inserting a row with the SHA-256 of a secret of their choosing (what earlier
releases stored), nor with a keyed-looking digest, nor by moving a key's row to another
project — and that stays so across restarts (a row of the old kind is never converted)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.database import execute
from tests.support.server import LiveServer, Store, postgres_database, running_server


@pytest.fixture
def own_store(backend: str, tmp_path: Path) -> Iterator[Store]:
    if backend == "postgres":
        with postgres_database() as url:
            yield Store(tmp_path, url)
    else:
        yield Store(tmp_path)


def _status(server: LiveServer, project_id: str, key: str) -> int:
    """The answer to a management route, and the fetch path's (its own key check)."""
    headers = {"Authorization": f"Bearer {project_id}:{key}"}
    listed = httpx.get(server.base_url + "/v1/mgmt/outbound/apps", headers=headers, timeout=30)
    fetched = httpx.post(
        server.base_url + "/v1/mgmt/outbound/app/user/token/latest",
        headers=headers,
        json={"appId": "none", "userId": "u"},
        timeout=30,
    )
    if listed.status_code == 200:
        assert fetched.status_code != 401, fetched.text
    else:
        assert fetched.status_code == listed.status_code, fetched.text
    return listed.status_code


def _insert_key(store: Store, project_id: str, kind: int) -> str:
    """A key row written straight into the database; the key that would go with it."""
    key_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    execute(
        store,
        "INSERT INTO management_keys (id, project_id, name, digest, digest_kind, created_at,"
        " fetch_only, app_ids) VALUES (?, ?, 'planted', ?, ?, ?, 0, '')",
        (key_id, project_id, _forged(kind, project_id, key_id, secret), kind, int(time.time())),
    )
    return f"obk_{key_id}_{secret}"


def _forged(kind: int, project_id: str, key_id: str, secret: str) -> bytes:
    inner = hashlib.sha256(secret.encode()).digest()
    if kind == 0:
        return inner  # what earlier releases stored
    # the keyed form, with the best key an attacker without the master key has: a guess
    message = b"\x1f".join((b"obk1", project_id.encode(), key_id.encode(), inner))
    return hmac.new(b"\x00" * 32, message, hashlib.sha256).digest()


def test_a_key_planted_in_the_database_does_not_authenticate(own_store: Store) -> None:
    with running_server(own_store) as server:
        project = server.project_id
        assert _status(server, project, server.management_key) == 200
        planted = [_insert_key(own_store, project, kind) for kind in (0, 1)]
        for key in planted:
            assert _status(server, project, key) == 401
    # nor after a restart: a row of the old kind is converted once, never again
    with running_server(own_store, project=(project, server.management_key)) as again:
        assert _status(again, project, again.management_key) == 200
        for key in planted:
            assert _status(again, project, key) == 401


def test_a_key_row_moved_to_another_project_does_not_authenticate_there(
    own_store: Store,
) -> None:
    with running_server(own_store) as server:
        other_project, other_key = own_store.new_project()
        key_id = other_key.split("_")[1]
        # the attacker moves the other project's key under this server's project
        execute(
            own_store,
            "UPDATE management_keys SET project_id = ? WHERE id = ?",
            (server.project_id, key_id),
        )
        assert _status(server, server.project_id, other_key) == 401
        assert _status(server, other_project, other_key) == 401
        # and a digest copied onto another key id does not take its secret along
        mine = server.management_key.split("_")[1]
        (stolen,) = execute(own_store, "SELECT digest FROM management_keys WHERE id = ?", (mine,))[
            0
        ]
        execute(
            own_store,
            "UPDATE management_keys SET digest = ?, project_id = ? WHERE id = ?",
            (stolen, server.project_id, key_id),
        )
        forged = f"obk_{key_id}_{server.management_key.split('_', 2)[2]}"
        assert _status(server, server.project_id, forged) == 401
        assert _status(server, server.project_id, server.management_key) == 200
