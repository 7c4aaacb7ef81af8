"""The strict run (CI) fails on an unexpected skip and refuses narrowing variables; a normal
run does neither (tests/support/strict_run.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent

SAMPLE = """
import pytest

def test_runs():
    assert True

def test_skipped():
    pytest.skip("nobody listed this skip")
"""


def run(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_sample.py").write_text(SAMPLE)
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OUTBOUND_TEST_")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-c", os.devnull, "--rootdir", str(tmp_path),
         "-p", "tests.support.strict_run", "-p", "no:cacheprovider", str(tmp_path)],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
        env={**clean, "PYTHONPATH": str(ROOT), **env},
    )  # fmt: skip


def test_an_unlisted_skip_fails_a_strict_run(tmp_path: Path) -> None:
    result = run(tmp_path, OUTBOUND_TEST_STRICT="1")
    assert result.returncode == 1, result.stdout
    assert "unexpected skips" in result.stdout
    assert "test_sample.py::test_skipped" in result.stdout
    assert "tests passed per backend: either 1" in result.stdout


def test_a_normal_run_reports_skips_without_failing(tmp_path: Path) -> None:
    result = run(tmp_path)
    assert result.returncode == 0, result.stdout
    assert "tests passed per backend: either 1" in result.stdout


def test_a_strict_run_refuses_narrowing_variables(tmp_path: Path) -> None:
    result = run(tmp_path, OUTBOUND_TEST_STRICT="1", OUTBOUND_TEST_BACKENDS="sqlite")
    assert result.returncode == 4, result.stdout + result.stderr
    assert "refuses OUTBOUND_TEST_BACKENDS" in result.stdout + result.stderr


def test_ci_runs_the_suite_strictly() -> None:
    assert "export CI=true" in (ROOT / ".ci/run").read_text()
    assert "OUTBOUND_TEST_STRICT=1" in (ROOT / "scripts/test").read_text()
