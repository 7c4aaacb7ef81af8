"""The seed page's Python examples, verbatim but for the import line, against a live server.

Each example runs in its own Python process whose environment holds only the seed's
variables (``DESCOPE_PROJECT_ID``, ``DESCOPE_MANAGEMENT_KEY``, and ``DESCOPE_BASE_URI`` to
point at this server) — no ``OUTBOUND_*`` settings, no test helpers.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from outbound import Client
from tests.support.server import LiveServer

SEED = Path(os.environ.get("OUTBOUND_SEED", "/work/shared/seed/outbound-apps-with-sdks.txt"))
OFFICIAL_IMPORT = "from descope import DescopeClient"
OUR_IMPORT = "from outbound import DescopeClient"
ERROR_LINE = 'print(f"Error: {e}")'


def python_examples(text: str) -> list[str]:
    """The page's Python blocks: the client set-up, then one per operation."""
    lines = text.splitlines()
    blocks: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith(OFFICIAL_IMPORT):
            end = i + 1
            while lines[end] != ")":  # the set-up block ends with the direct form's ")"
                end += 1
        elif line.startswith("# Args:"):
            end = i + 1
            while lines[end].strip() != ERROR_LINE:
                end += 1
        else:
            i += 1
            continue
        blocks.append("\n".join(lines[i : end + 1]) + "\n")
        i = end + 1
    return blocks


def examples() -> tuple[str, dict[str, str]]:
    if not SEED.exists():
        pytest.skip(f"the seed page is not at {SEED} (set OUTBOUND_SEED)")
    setup, *operations = python_examples(SEED.read_text())
    by_method = {}
    for block in operations:
        method = block.split("outbound_application.", 1)[1].split("(", 1)[0]
        by_method[method] = block
    return setup, by_method


def test_the_page_has_the_examples_this_test_runs() -> None:
    setup, operations = examples()
    assert setup.startswith(OFFICIAL_IMPORT)
    assert sorted(operations) == [
        "delete_token",
        "delete_user_tokens",
        "fetch_token",
        "fetch_token_by_scopes",
    ]


def run(program: str, server: LiveServer, project: tuple[str, str]) -> str:
    """Run ``program`` configured only by the seed's environment variables."""
    env = {
        "DESCOPE_PROJECT_ID": project[0],
        "DESCOPE_MANAGEMENT_KEY": project[1],
        "DESCOPE_BASE_URI": server.base_url,
        "PATH": os.environ.get("PATH", ""),
    }
    done = subprocess.run(
        [sys.executable, "-c", program],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd="/",
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    return done.stdout


@pytest.fixture
def project(live_server: LiveServer) -> tuple[str, str]:
    """A project of its own, so the page's literal ids ("app-id", "user-id") are free."""
    return live_server.new_project()


@pytest.fixture
def seeded(live_server: LiveServer, project: tuple[str, str]) -> Iterator[Client]:
    """The data the examples name: app "app-id", and a token of "user-id" for read+write."""
    client = Client(project[0], project[1], live_server.base_url)
    api = client.mgmt.outbound_application
    api.create_application(
        "Example provider",
        id="app-id",
        authorization_url="https://provider.example/authorize",
        token_url="https://provider.example/token",
        client_id="client-123",
    )
    api.upload_user_token(
        "app-id",
        "user-id",
        access_token="seed-access-" + os.urandom(8).hex(),
        access_token_expiry=int(time.time()) + 3600,
        scopes=["read", "write"],
    )
    with client:
        yield client


def our_setup() -> str:
    setup, _ = examples()
    # The environment form of the set-up: everything before "# Or directly".
    env_form = setup.split("# Or directly")[0]
    return env_form.replace(OFFICIAL_IMPORT, OUR_IMPORT, 1)


def test_setup_example_builds_both_clients(
    live_server: LiveServer, project: tuple[str, str]
) -> None:
    setup, _ = examples()
    program = setup.replace(OFFICIAL_IMPORT, OUR_IMPORT, 1)
    # Observe which client the last assignment left: the direct form, with the page's
    # placeholder credentials, which the server must refuse.
    program += (
        "from outbound import UnauthorizedError\n"
        "try:\n"
        "    descope_client.mgmt.outbound_application.load_all_applications()\n"
        "except UnauthorizedError as exc:\n"
        "    print('refused', exc.status_code)\n"
    )
    assert run(program, live_server, project).strip() == "refused 401"


def test_fetch_token_example(live_server: LiveServer, seeded: Client) -> None:
    _, operations = examples()
    program = our_setup() + operations["fetch_token"] + "print('ACCESS', access_token)\n"
    out = run(program, live_server, (seeded.project_id, _key(seeded)))
    expected = seeded.mgmt.outbound_application.fetch_token("app-id", "user-id")["token"]["token"]
    assert out.strip() == f"ACCESS {expected}"


def test_fetch_token_by_scopes_example(live_server: LiveServer, seeded: Client) -> None:
    _, operations = examples()
    program = our_setup() + operations["fetch_token_by_scopes"] + "print('ACCESS', access_token)\n"
    out = run(program, live_server, (seeded.project_id, _key(seeded)))
    expected = seeded.mgmt.outbound_application.fetch_token("app-id", "user-id")["token"]["token"]
    assert out.strip() == f"ACCESS {expected}"


def test_delete_token_example(live_server: LiveServer, seeded: Client) -> None:
    # The page deletes the literal id "token-id", which no token has: the example's own
    # error handler prints the SDK's error, which must say what happened.
    _, operations = examples()
    out = run(
        our_setup() + operations["delete_token"], live_server, (seeded.project_id, _key(seeded))
    )
    assert out.startswith("Error: HTTP 404 E111504")
    assert seeded.mgmt.outbound_application.fetch_token("app-id", "user-id")["token"]["token"]


def test_delete_user_tokens_example(live_server: LiveServer, seeded: Client) -> None:
    _, operations = examples()
    out = run(
        our_setup() + operations["delete_user_tokens"],
        live_server,
        (seeded.project_id, _key(seeded)),
    )
    assert out == ""
    apps = seeded.mgmt.outbound_application.list_apps_with_user_token("user-id")
    assert apps == {"appIds": []}


def _key(client: Client) -> str:
    return client._config.management_key.reveal()


def test_examples_print_the_error_when_the_server_is_down(project: tuple[str, str]) -> None:
    _, operations = examples()
    program = our_setup() + operations["fetch_token"]
    env = {
        "DESCOPE_PROJECT_ID": project[0],
        "DESCOPE_MANAGEMENT_KEY": project[1],
        "DESCOPE_BASE_URI": "http://127.0.0.1:9",  # the discard port: nothing listens
        "PATH": os.environ.get("PATH", ""),
    }
    done = subprocess.run(
        [sys.executable, "-c", program], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Error: ")
    assert "unreachable" in done.stdout
    assert project[1] not in done.stdout
