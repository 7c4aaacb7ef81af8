"""kill -9 in the middle of writes, then everything read back: a batch upload is all or
nothing; ``outbound rekey`` leaves every row readable and finishes when run again, and names a
row no key opens instead of stopping with a trace."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import random
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.database import execute
from tests.support.server import (
    LiveServer,
    Store,
    outbound_cli,
    postgres_database,
    running_server,
    start_server,
)

BATCH = 1000
# Tokens re-sealed by the rekey tests: two values each, one transaction per value.
REKEY_TOKENS = 300


@pytest.fixture
def fresh_store(backend: str, tmp_path: Path) -> Iterator[Store]:
    key = base64.b64encode(os.urandom(32)).decode()
    if backend == "postgres":
        with postgres_database() as url:
            yield Store(tmp_path, url, master_key=key)
    else:
        yield Store(tmp_path, master_key=key)


def _create_app(server: LiveServer) -> None:
    with server.client() as http:
        created = http.post(
            "/v1/mgmt/outbound/app/create",
            json={"id": "app", "name": "App", "tokenUrl": "https://p.example/t"},
        )
    assert created.status_code == 200, created.text


def _batch(number: int, size: int = BATCH) -> list[dict[str, str]]:
    return [
        {
            "appId": "app",
            "userId": f"b{number}-u{i}",
            "accessToken": f"at-b{number}-{i}",
            "refreshToken": f"rt-b{number}-{i}",
        }
        for i in range(size)
    ]


def _read_back(server: LiveServer, users: list[str]) -> None:
    with server.client() as http:
        for user in users:
            fetched = http.post(
                "/v1/mgmt/outbound/app/user/token/latest",
                json={"appId": "app", "userId": user, "options": {"withRefreshToken": True}},
            )
            assert fetched.status_code == 200, fetched.text
            token = fetched.json()["token"]
            suffix = user.replace("-u", "-")
            assert (token["accessToken"], token["refreshToken"]) == (
                f"at-{suffix}",
                f"rt-{suffix}",
            )


def test_a_batch_upload_killed_midway_is_all_or_nothing(fresh_store: Store) -> None:
    project = fresh_store.new_project()
    server = start_server(fresh_store, project=project)
    _create_app(server)
    sent: list[int] = []
    acknowledged: list[int] = []

    def upload_until_killed() -> None:
        with server.client() as http, contextlib.suppress(httpx.TransportError):
            for number in range(1000):
                sent.append(number)
                response = http.post(
                    "/v1/mgmt/outbound/app/user/oauthtoken/batch/upload",
                    json={"tokens": _batch(number)},
                )
                assert response.status_code == 200, response.text
                acknowledged.append(number)

    uploader = threading.Thread(target=upload_until_killed)
    uploader.start()
    # Kill once a few batches are in, at a moment that falls inside one.
    while len(acknowledged) < 2:
        time.sleep(0.01)
    time.sleep(random.uniform(0.05, 0.5))
    server.process.kill()
    server.process.wait()
    uploader.join(30)
    if server.log_file is not None:
        server.log_file.close()

    counts = dict(
        execute(
            fresh_store,
            "SELECT substr(user_id, 1, instr(user_id, '-') - 1), COUNT(*) FROM tokens GROUP BY 1"
            if not fresh_store.database_url
            else "SELECT split_part(user_id, '-', 1), COUNT(*) FROM tokens GROUP BY 1",
        )
    )
    in_flight = sent[-1]
    assert in_flight not in acknowledged
    for number in acknowledged:
        assert counts.get(f"b{number}") == BATCH
    assert counts.get(f"b{in_flight}", 0) in (0, BATCH)
    assert set(counts) <= {f"b{n}" for n in sent}
    # Everything stored reads back, through a restarted server.
    with running_server(fresh_store, project=project) as again:
        stored = [n for n in sent if counts.get(f"b{n}")]
        _read_back(again, [f"b{n}-u{i}" for n in stored for i in (0, BATCH // 2, BATCH - 1)])
    partial = counts.get(f"b{in_flight}", 0)
    print(f"{len(acknowledged)} batches acknowledged; the one in flight: {partial} rows")


def test_rekey_killed_midway_leaves_everything_readable_and_finishes(
    fresh_store: Store,
) -> None:
    project = fresh_store.new_project()
    with running_server(fresh_store, project=project) as server:
        _create_app(server)
        with server.client() as http:
            for number in range(2):
                response = http.post(
                    "/v1/mgmt/outbound/app/user/oauthtoken/batch/upload",
                    json={"tokens": _batch(number, REKEY_TOKENS // 2)},
                )
                assert response.status_code == 200, response.text
    new_key = base64.b64encode(os.urandom(32)).decode()
    rotating = Store(
        fresh_store.data_dir,
        fresh_store.database_url,
        master_key=f"{new_key},{fresh_store.master_key}",
    )

    # kill -9 while it re-seals (600 values, one transaction each).
    process = subprocess.Popen(
        [sys.executable, "-m", "outbound", "rekey", *rotating.args],
        env={**os.environ, **rotating.env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    new_id = _key_id_of(rotating, new_key)
    deadline = time.monotonic() + 60
    while _sealed_with(fresh_store, new_id) < 50:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.02)
    process.kill()
    process.wait()
    process.communicate()
    done = _sealed_with(fresh_store, new_id)
    assert 0 < done < 2 * REKEY_TOKENS, done

    users = [f"b{n}-u{i}" for n in range(2) for i in range(REKEY_TOKENS // 2)]
    # Every row opens with the key list, mid-rotation.
    with running_server(rotating, project=project) as server:
        _read_back(server, users)
    # Run again: it finishes; then the old key can go.
    report = json.loads(outbound_cli("rekey", *rotating.args, env=rotating.env))
    assert report["unreadable"] == []
    assert _sealed_with(fresh_store, new_id) == 2 * REKEY_TOKENS
    rotated = Store(fresh_store.data_dir, fresh_store.database_url, master_key=new_key)
    with running_server(rotated, project=project) as server:
        _read_back(server, users)


def test_rekey_names_a_row_no_key_opens(fresh_store: Store) -> None:
    project = fresh_store.new_project()
    with running_server(fresh_store, project=project) as server:
        _create_app(server)
        with server.client() as http:
            response = http.post(
                "/v1/mgmt/outbound/app/user/oauthtoken/batch/upload",
                json={"tokens": _batch(0)[:5]},
            )
            assert response.status_code == 200, response.text
    (bad_id,) = execute(fresh_store, "SELECT id FROM tokens WHERE user_id = 'b0-u3'")[0]
    blob = bytearray(
        execute(fresh_store, "SELECT refresh_token FROM tokens WHERE id = ?", (bad_id,))[0][0]
    )
    blob[-1] ^= 1  # tampered on disk
    execute(fresh_store, "UPDATE tokens SET refresh_token = ? WHERE id = ?", (bytes(blob), bad_id))
    new_key = base64.b64encode(os.urandom(32)).decode()
    rotating = Store(
        fresh_store.data_dir,
        fresh_store.database_url,
        master_key=f"{new_key},{fresh_store.master_key}",
    )

    result = subprocess.run(
        [sys.executable, "-m", "outbound", "rekey", *rotating.args],
        env={**os.environ, **rotating.env},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert f"tokens.refresh_token {bad_id}" in result.stderr
    report = json.loads(result.stdout)
    assert report["unreadable"] == [f"tokens.refresh_token {bad_id}"]
    # Everything else was re-sealed.
    assert report["resealed"] == {
        "tokens.access_token": 5,
        "tokens.refresh_token": 4,
        "store_keys.secrets": 1,
        # the management key digest key and the token-version record (storage/token_versions.py)
        "store_secrets.value": 2,
    }


def _key_id_of(store: Store, key: str) -> bytes:
    from outbound.crypto import load_keyring

    keyring = load_keyring(key, None)
    return bytes(keyring.seal("x", b"ad")[1:5])


def _sealed_with(store: Store, key_id: bytes) -> int:
    rows = execute(store, "SELECT access_token, refresh_token FROM tokens")
    return sum(1 for row in rows for blob in row if blob is not None and bytes(blob)[1:5] == key_id)
