"""``outbound templates`` and ``outbound apps create --template``, run as a user runs them."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

from outbound.catalog import all_templates
from tests.support.server import LiveServer, Store, outbound_cli, running_server


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "outbound", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def test_templates_list_shows_every_template_and_its_values() -> None:
    lines = outbound_cli("templates", "list").splitlines()
    assert len(lines) == len(all_templates())
    shopify = next(line for line in lines if line.startswith("shopify "))
    assert "Shopify" in shopify and "[shop=?]" in shopify
    microsoft = next(line for line in lines if line.startswith("microsoft "))
    assert "[tenant=common]" in microsoft


def test_templates_list_json_is_the_api_shape() -> None:
    listed = json.loads(outbound_cli("templates", "list", "--json"))
    assert listed == {"templates": [t.to_wire() for t in all_templates()]}


def test_templates_show_one_and_an_unknown_one() -> None:
    shown = json.loads(outbound_cli("templates", "show", "figma"))
    assert shown["refreshUrl"] == "https://api.figma.com/v1/oauth/refresh"
    result = run("templates", "show", "nope")
    assert result.returncode != 0
    assert "no provider template 'nope'" in result.stderr


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    store = Store(tmp_path_factory.mktemp("cli-apps"))
    with running_server(store) as live:
        yield live


def cli_env(server: LiveServer, **extra: str) -> dict[str, str]:
    return {
        "OUTBOUND_BASE_URL": server.base_url,
        "OUTBOUND_PROJECT_ID": server.project_id,
        "OUTBOUND_MANAGEMENT_KEY": server.management_key,
        **extra,
    }


def test_apps_create_from_a_template_through_the_server(server: LiveServer) -> None:
    secret = "cli-made-up-secret-3c2b"
    result = run(
        "apps",
        "create",
        "--template",
        "zendesk",
        "--client-id",
        "zd-client",
        "--client-secret-env",
        "ZD_SECRET",
        "--value",
        "subdomain=acme",
        "--name",
        "Zendesk from the CLI",
        "--scope",
        "read",
        env=cli_env(server, ZD_SECRET=secret),
    )
    assert result.returncode == 0, result.stderr
    app = json.loads(result.stdout)
    assert app["tokenUrl"] == "https://acme.zendesk.com/oauth/tokens"
    assert app["defaultScopes"] == ["read"]
    assert app["hasClientSecret"] is True
    assert f"Register {app['callbackUrl']} as the redirect URI" in result.stderr
    assert secret not in result.stdout + result.stderr
    with server.client() as client:
        stored = client.get(f"/v1/mgmt/outbound/app/{app['id']}").json()["app"]
    assert stored["name"] == "Zendesk from the CLI" and stored["clientId"] == "zd-client"


def test_apps_create_for_an_mcp_server(server: LiveServer) -> None:
    result = run(
        "apps", "create", "--mcp", "https://mcp.linear.app/mcp", "--name", "Linear from the CLI",
        env=cli_env(server),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    app = json.loads(result.stdout)
    assert (app["templateId"], app["useDcr"]) == ("mcp", True)
    assert app["resource"] == "https://mcp.linear.app/mcp"
    assert (app["clientId"], app["hasClientSecret"]) == ("", False)
    assert "registers its own OAuth client" in result.stderr
    assert "Register" not in result.stderr


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (
            ["--template", "shopify", "--client-id", "c", "--client-secret-env", "S"],
            {"S": "x"},
            "needs the value 'shop'",
        ),
        (
            ["--template", "google", "--client-id", "c"],
            {},
            "Google needs a client secret: pass --client-secret-env VAR",
        ),
        (
            ["--template", "google", "--client-id", "c", "--client-secret-env", "UNSET_VAR_X"],
            {},
            "UNSET_VAR_X (the client secret) is not set",
        ),
        (
            [
                "--template",
                "google",
                "--client-id",
                "c",
                "--client-secret-env",
                "S",
                "--value",
                "oops",
            ],
            {"S": "x"},
            "'oops' is not NAME=VALUE",
        ),
        (["--template", "nope", "--client-id", "c"], {}, "no provider template 'nope'"),
        (["--template", "google"], {}, "Google needs --client-id"),
        (["--client-id", "c"], {}, "give either --template ID or --mcp URL"),
        (["--mcp", "http://10.0.0.7/mcp"], {}, "an https URL"),
    ],
)
def test_apps_create_says_what_is_missing(
    server: LiveServer, args: list[str], env: dict[str, str], message: str
) -> None:
    result = run("apps", "create", *args, env=cli_env(server, **env))
    assert result.returncode != 0
    assert message in result.stderr


def test_apps_create_reports_the_servers_refusal(server: LiveServer) -> None:
    result = run(
        "apps",
        "create",
        "--template",
        "google",
        "--client-id",
        "c",
        "--client-secret-env",
        "S",
        env=cli_env(server, S="x", OUTBOUND_MANAGEMENT_KEY="wrong-key"),
    )
    assert result.returncode != 0
    assert "E130401" in result.stderr
    assert "wrong-key" not in result.stderr


def test_apps_create_without_a_server_says_so() -> None:
    with socket_port() as port:
        result = run(
            "apps",
            "create",
            "--template",
            "google",
            "--client-id",
            "c",
            "--client-secret-env",
            "S",
            "--url",
            f"http://127.0.0.1:{port}",
            env={"S": "x", "OUTBOUND_PROJECT_ID": "P", "OUTBOUND_MANAGEMENT_KEY": "k"},
        )
    assert result.returncode != 0
    assert "cannot reach the outbound server" in result.stderr


@contextlib.contextmanager
def socket_port() -> Iterator[int]:
    """A port nothing listens on: bound, never listening, for the test's duration."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]
