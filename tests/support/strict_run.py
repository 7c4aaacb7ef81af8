"""A full run must run everything: under ``OUTBOUND_TEST_STRICT=1`` (what ``scripts/test`` sets
for its whole-suite run when ``CI=true``), environment variables that narrow the run are
refused, a skip that is not in ``EXPECTED_SKIPS`` fails the run, and the summary prints how many
tests ran on each backend — so a CI run that quietly tested less than it claims cannot pass.

Why a plugin of our own: pytest treats a skip as success by design, and its ``-ra`` summary
lists skips without judging them; no plugin we know of checks skips against a list.
"""

from __future__ import annotations

import os
import re
from collections import Counter

import pytest

__all__ = ["EXPECTED_SKIPS", "NARROWING", "strict"]

# Variables that make a run test less than the whole suite: refused in a strict run.
NARROWING = ("OUTBOUND_TEST_BACKENDS", "OUTBOUND_TEST_DISCOVERY_URLS")

# The skips a full run may have: (node id pattern, reason pattern, why). A skip matching
# neither fails a strict run.
EXPECTED_SKIPS: list[tuple[str, str, str]] = [
    (
        r"tests/e2e/test_late_answers\.py::test_twenty_late_answers_in_a_row\[postgres",
        r".*",
        "the 20 cycles run on SQLite; PostgreSQL runs the 3-cycle tests",
    ),
    (
        r"tests/image/",
        r".*podman",
        "the container image tests need podman, which scripts/test installs where apt works",
    ),
    (
        r"tests/deploy/test_compose\.py::test_the_compose_file_runs",
        r".*podman-compose are not installed",
        "the compose run needs podman-compose, which scripts/test installs where apt works",
    ),
    (
        r"tests/deploy/test_systemd\.py",
        r".*systemd-analyze is not installed",
        "systemd-analyze verifies the unit where systemd is installed",
    ),
]

_BACKEND = re.compile(r"[\[-](sqlite|postgres)[\]-]")


def strict() -> bool:
    return os.environ.get("OUTBOUND_TEST_STRICT") == "1"


def expected(nodeid: str, reason: str) -> bool:
    return any(
        re.match(node, nodeid) and re.match(why, reason, re.DOTALL)
        for node, why, _ in EXPECTED_SKIPS
    )


class _Tally:
    def __init__(self) -> None:
        self.passed: Counter[str] = Counter()
        self.unexpected: list[str] = []


_tally = _Tally()


def pytest_configure(config: pytest.Config) -> None:
    if not strict():
        return
    narrowed = [name for name in NARROWING if os.environ.get(name)]
    if narrowed:
        raise pytest.UsageError(
            f"a strict (CI) run refuses {', '.join(narrowed)}: unset it to run the whole suite"
        )


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" and report.passed:
        match = _BACKEND.search(report.nodeid)
        _tally.passed[match.group(1) if match else "either"] += 1
    if report.skipped and not hasattr(report, "wasxfail"):
        reason = str(report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr)
        if not expected(report.nodeid, reason):
            _tally.unexpected.append(f"{report.nodeid}: {reason}")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    counts = ", ".join(f"{name} {count}" for name, count in sorted(_tally.passed.items()))
    terminalreporter.write_line(f"tests passed per backend: {counts or 'none'}")
    if strict() and _tally.unexpected:
        terminalreporter.write_line("unexpected skips (not in tests/support/strict_run.py):")
        for line in _tally.unexpected:
            terminalreporter.write_line(f"  {line}")


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    if hasattr(session.config, "workerinput"):  # an xdist worker: the controller judges
        return
    if strict() and _tally.unexpected and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    if strict() and not _tally.passed:
        session.exitstatus = pytest.ExitCode.NO_TESTS_COLLECTED
