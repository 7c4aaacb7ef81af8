"""Schemathesis against a live server, reading the server's own /openapi.json.

Two runs per backend, each with a fixed seed and a bounded number of examples:

1. valid requests (examples, boundary values, random fuzzing, and stateful sequences along the
   document's links: create an app, upload a key, fetch it, delete): no server error, every
   answer's status, content type, headers and body as the document says, no request accepted
   without credentials;
2. invalid requests (each breaking the document in one place): every one refused with a 4xx,
   and the database byte for byte as it was before the run.

``not_a_server_error`` is replaced by the same check less the documented 502 E131011
(tests/api/fuzz_checks.py): the fuzzer makes up the providers' URLs, and none answers.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from outbound.server.api.endpoints import ENDPOINTS
from tests.support.database import execute
from tests.support.server import LiveServer, Store, postgres_database, running_server

pytestmark = pytest.mark.slow

HERE = Path(__file__).parent
OPERATIONS = len(ENDPOINTS)
SEED = "16"
# What a request may not change when it is refused.
TABLES = [
    "projects",
    "management_keys",
    "apps",
    "tokens",
    "connect_sessions",
    "webhooks",
    "webhook_deliveries",
    "webhook_events",
]
CHECKS = [
    "--checks",
    "all",
    "--exclude-checks",
    # business rules the schema cannot carry answer 400 to some schema-valid requests (a
    # connect for an app without a client id, a tenant id not in the shape of new ids)
    "not_a_server_error,positive_data_acceptance",
]


@pytest.fixture
def server(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server of each run's own: nothing the other run left behind (webhooks the fuzzer
    added, deliveries in flight) changes the database under the second."""
    data_dir = tmp_path_factory.mktemp(f"fuzz-{backend}")
    # The fuzzer sends thousands of bad credentials on purpose: the failed-authentication
    # limit (tests/server/test_abuse_limits.py) would answer them 429 instead of 401.
    args = ["--auth-failure-limit", "0"]
    if backend == "postgres":
        with (
            postgres_database() as url,
            running_server(Store(data_dir, url), extra_args=args) as server,
        ):
            yield server
    else:
        with running_server(Store(data_dir), extra_args=args) as server:
            yield server


def schemathesis(server: LiveServer, *args: str) -> str:
    command = [
        str(Path(sys.executable).parent / "schemathesis"),
        "--config-file",
        str(HERE / "schemathesis.toml"),
        "run",
        f"{server.base_url}/openapi.json",
        "--header",
        f"Authorization: Bearer {server.project_id}:{server.management_key}",
        "--seed",
        SEED,
        "--workers",
        "1",
        "--no-shrink",
        "--suppress-health-check",
        "all",
        *CHECKS,
        *args,
    ]
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "tests.api.fuzz_checks",
        "PYTHONPATH": str(HERE.parent.parent),
        "NO_COLOR": "1",
    }
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=300, env=env, cwd=server.store.data_dir
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-20000:]
    # It ran: hundreds of requests (not a run that quietly tested nothing).
    generated = re.search(r"(\d+) generated", output)
    assert generated and int(generated.group(1)) >= 200, output[-3000:]
    print(re.findall(r"Test cases:\n\s*(.*)", output))
    return output


def snapshot(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    return {table: sorted(execute(store, f"SELECT * FROM {table}"), key=repr) for table in TABLES}


def test_valid_requests_get_documented_answers(server: LiveServer) -> None:
    output = schemathesis(
        server,
        "--mode",
        "positive",
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--max-examples",
        "4",
    )
    assert re.search(r"✅ Stateful", output), output[-3000:]
    # every operation tested (GET /openapi.json has nothing to vary)
    selected = re.search(r"Selected: (\d+)/(\d+)\s+Tested: (\d+)", output)
    assert selected and len(set(selected.groups())) == 1, output[-3000:]
    assert int(selected.group(1)) >= OPERATIONS - 1, output[-3000:]


def test_invalid_requests_are_refused_and_change_nothing(server: LiveServer) -> None:
    with server.client() as http:  # something to change: an app with a token, a webhook
        http.post("/v1/mgmt/outbound/app/create", json={"id": "fz-app", "name": "fz-app"})
        http.post(
            "/v1/mgmt/outbound/app/user/apikey/upload",
            json={"appId": "fz-app", "userId": "user-id", "apiKey": "fz-key"},
        )
        http.post("/v1/mgmt/outbound/webhooks", json={"url": "http://127.0.0.1:9/hook"})
    before = snapshot(server.store)
    assert before["apps"] and before["tokens"]
    # The fuzzing phase only: the coverage phase sends the document's (valid) examples too,
    # even in negative mode, and those may change things.
    schemathesis(
        server,
        "--mode",
        "negative",
        "--phases",
        "fuzzing",
        "--max-examples",
        "10",
    )
    after = snapshot(server.store)
    for table in TABLES:
        changed = [row for row in after[table] if row not in before[table]]
        gone = [row for row in before[table] if row not in after[table]]
        assert not changed and not gone, f"invalid requests changed {table}: {gone} -> {changed}"
