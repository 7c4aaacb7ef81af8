"""Every fetch target of issue 9 (item 8) and issue 12, measured in one run, in one table.

    python benchmarks/fetch_targets.py                    # 1,000 and 1,000,000 stored tokens
    python benchmarks/fetch_targets.py --large 100000 --seconds 5

Runs, one after the other on this machine: ``fetch_token.py`` on SQLite (with ``--large``
tokens too, the audit + metrics comparison and the ``--workers`` comparison), ``fetch_token.py``
on a new PostgreSQL database, and ``sdk_vs_descope.py`` on each backend; then prints each
ratio against its target. The scripts' own output is shown as it comes, so a figure can be
traced to its run. A shared machine moves absolute figures between runs: the ratios that
compare two runs (PostgreSQL / SQLite) are the least sure, and say so.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from tests.support.server import postgres_database  # noqa: E402


def run(script: str, *args: str) -> str:
    """Run one benchmark script, echo its output, return it."""
    print(f"\n$ python benchmarks/{script} {' '.join(args)}", flush=True)
    done = subprocess.run(
        [sys.executable, str(HERE / script), *args], capture_output=True, text=True
    )
    print(done.stdout + done.stderr, flush=True)
    if done.returncode != 0:
        sys.exit(f"benchmarks/{script} failed (exit {done.returncode}): no figures")
    return done.stdout


def figure(pattern: str, text: str) -> float:
    found = re.search(pattern, text)
    if found is None:
        sys.exit(f"no figure matching {pattern!r} in the output above")
    return float(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--calls", type=int, default=1000)
    args = parser.parse_args()
    common = ["--seconds", str(args.seconds), "--rounds", str(args.rounds)]

    sqlite = run("fetch_token.py", *common, "--large", str(args.large))
    with postgres_database() as url:
        postgres = run("fetch_token.py", *common, "--workers", "0", "--database-url", url)
    sdk = ["--calls", str(args.calls), "--rounds", str(args.rounds)]
    sdk_sqlite = run("sdk_vs_descope.py", *sdk)
    sdk_postgres = run("sdk_vs_descope.py", *sdk, "--new-postgres")

    fetch_line = r"fetch token, 1,000 stored\s+(\d+)"
    rows = [
        (
            "fetch / bare Starlette, SQLite",
            figure(r"bare Starlette endpoint: ([\d.]+)", sqlite),
            ">=",
            0.6,
        ),
        ("fetch p99 ms, SQLite", figure(r"fetch p99: ([\d.]+)", sqlite), "<=", 10.0),
        (
            f"p50 with {args.large:,} / with 1,000 tokens",
            figure(r"p50 with [\d,]+ / with [\d,]+: ([\d.]+)", sqlite),
            "<=",
            1.2,
        ),
        (
            "fetch PostgreSQL / SQLite (two runs)",
            figure(fetch_line, postgres) / figure(fetch_line, sqlite),
            ">=",
            0.6,
        ),
        (
            "SDK / official SDK, SQLite",
            figure(r"ratio outbound/descope: ([\d.]+)x", sdk_sqlite),
            ">=",
            2.0,
        ),
        (
            "SDK / official SDK, PostgreSQL",
            figure(r"ratio outbound/descope: ([\d.]+)x", sdk_postgres),
            ">=",
            2.0,
        ),
        ("audit + metrics on / off, SQLite", figure(r"on / off: ([\d.]+)", sqlite), ">=", 0.9),
        (
            "audit + metrics on / off, PostgreSQL",
            figure(r"on / off: ([\d.]+)", postgres),
            ">=",
            0.9,
        ),
        ("server CPU a fetch off / on, SQLite", figure(r"off / on: ([\d.]+)", sqlite), ">=", 0.9),
        ("fetch --workers 2 / 1, SQLite", figure(r"workers / 1: ([\d.]+)", sqlite), "", 0.0),
    ]
    print("\nevery target in one run:")
    for name, value, sense, target in rows:
        if not sense:
            verdict = "(measured; no target)"
        else:
            met = value >= target if sense == ">=" else value <= target
            verdict = f"target {sense} {target:g}: {'met' if met else 'NOT met'}"
        print(f"  {name:42} {value:8.2f}   {verdict}")


if __name__ == "__main__":
    main()
