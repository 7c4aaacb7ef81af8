"""The README (and the docs below) run as written: their Python and shell blocks, in order,
against a fresh server —
so a date that passes, a renamed flag or two examples that collide break a test, not a reader.

A block is skipped only when the line before it says why (``<!-- not run: REASON -->``):
installing, building, starting the server the test already started, synopses with
placeholders. Every other ``python`` or ``sh`` block runs. The Python blocks share one
namespace, as a reader pasting them into one session would; the placeholders a reader fills in
(project id, management key, the server's URL) are filled in with the fresh server's.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.server import LiveServer, Store, running_server

ROOT = Path(__file__).resolve().parents[1]
# The README, and the docs whose examples run against a server alone. docs/mcp.md,
# docs/agents.md, docs/deploy.md and docs/operations.md need a remote MCP server, end users'
# session tokens, podman or PostgreSQL on other machines: their blocks are not run here.
DOCUMENTS = ["README.md", "docs/sdk.md", "docs/console.md"]
_BLOCK = re.compile(
    r"(?:<!-- not run: (?P<reason>[^>]+) -->\n)?^```(?P<lang>[a-z]*)\n(?P<code>.*?)^```$",
    re.S | re.M,
)
# What a reader replaces by their own values: written in the README as these placeholders.
PROJECT_PLACEHOLDER = "P2abc…"
KEY_PLACEHOLDER = "obk_…"
README_URL = "http://127.0.0.1:8080"


def blocks(document: str) -> list[tuple[str, str, str | None]]:
    """(language, code, reason not run) of every fenced block, in order."""
    text = (ROOT / document).read_text()
    return [(m["lang"], m["code"], m["reason"]) for m in _BLOCK.finditer(text)]


def test_every_block_runs_or_says_why_not() -> None:
    for document in DOCUMENTS:
        for lang, code, reason in blocks(document):
            if lang not in ("python", "sh"):
                continue
            # A runnable block cannot hold a placeholder nobody fills in.
            if reason is None:
                assert "YOUR_" not in code and "<" not in code.replace("<the key", ""), code


def _fill(code: str, server: LiveServer) -> str:
    return (
        code.replace(PROJECT_PLACEHOLDER, server.project_id)
        .replace(KEY_PLACEHOLDER, server.management_key)
        .replace(README_URL, server.base_url)
    )


@pytest.mark.parametrize("document", DOCUMENTS)
def test_the_document_runs_in_order_against_a_fresh_server(
    document: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store(tmp_path / "data")
    with running_server(store) as server:
        env = {
            **os.environ,
            # commands that open the store themselves (console-link) find the server's
            "OUTBOUND_DATA_DIR": str(store.data_dir),
            "OUTBOUND_MASTER_KEY": store.master_key,
            "PROJECT": server.project_id,
            "KEY": server.management_key,
            "OUTBOUND_PROJECT_ID": server.project_id,
            "OUTBOUND_MANAGEMENT_KEY": server.management_key,
            "OUTBOUND_BASE_URL": server.base_url,
            "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        }
        for name in ("OUTBOUND_PROJECT_ID", "OUTBOUND_MANAGEMENT_KEY", "OUTBOUND_BASE_URL"):
            monkeypatch.setenv(name, env[name])
        namespace: dict[str, Any] = {"__name__": "readme"}
        ran = 0
        for lang, code, reason in blocks(document):
            if reason is not None or lang not in ("python", "sh"):
                continue
            filled = _fill(code, server)
            if lang == "python":
                exec(compile(filled, f"{document} block {ran + 1}", "exec"), namespace)
            else:
                result = subprocess.run(
                    ["bash", "-euo", "pipefail", "-c", filled],
                    capture_output=True,
                    text=True,
                    env=env,
                    timeout=60,
                )
                assert result.returncode == 0, (filled, result.stdout, result.stderr)
                # curl -s prints the API's error as JSON and exits 0: an error is a failure.
                assert '"errorCode"' not in result.stdout, (filled, result.stdout)
            ran += 1
        assert ran >= 1
