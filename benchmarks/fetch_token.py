"""Fetch-token throughput and latency, against a bare JSON endpoint on the same HTTP stack.

    python benchmarks/fetch_token.py                 # 1,000 stored tokens
    python benchmarks/fetch_token.py --large 1000000 # then again with a million, plus RSS

Starts a real ``outbound serve`` (embedded SQLite, or --database-url) and the baseline app,
loads both with ``wrk`` (Debian package) at 32 connections, and prints requests/s, p50 and p99
for each, and the ratios. Everything runs in one go so the noise of this shared machine hits
both sides alike. Targets (issue 2): fetch >= 0.6x baseline, p99 <= 10 ms; with a million
tokens, p50 within 1.2x of that with a thousand and server RSS <= 150 MB.

It also compares fetch throughput with the audit log's fetch events and the metrics off
(``--audit-fetches false``, no ``--metrics-port``) and on (both, as deployed), on two servers
over the same store, measured alternately; target (issue 12): on >= 0.9x off. Each server's
CPU time per fetch is printed too: on a shared machine it moves less than requests/s.

And it compares fetch throughput of one server process with ``outbound serve --workers N``
(``--workers``, default 2; 0 skips it) on the same store, measured alternately, with the
machine's load average before the runs: the ratio is bounded by the cores wrk leaves free.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.support.database import execute  # noqa: E402
from tests.support.server import Store, free_port, outbound_cli, start_server, stop_server  # noqa: E402

APP = "bench-app"
LUA = """
math.randomseed(os.time())
request = function()
  local user = math.random(0, USERS - 1)
  local body = string.format('{"appId":"%s","userId":"user-%07d"}', "APP", user)
  return wrk.format("POST", "PATH", HEADERS, body)
end
"""


def wrk(url: str, script: Path | None, seconds: int, connections: int) -> dict[str, float]:
    args = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if script:
        args += ["-s", str(script)]
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]

    def percentile(p: str) -> float:
        value, unit = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()  # type: ignore[union-attr]
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = int(non2xx.group(1)) if non2xx else 0
    return {"rps": rps, "p50": percentile("50"), "p99": percentile("99"), "errors": errors}


def rss_mb(pid: int) -> tuple[float, float]:
    status = Path(f"/proc/{pid}/status").read_text()
    rss = int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024  # type: ignore[union-attr]
    peak = int(re.search(r"VmHWM:\s+(\d+)", status).group(1)) / 1024  # type: ignore[union-attr]
    return rss, peak


def cpu_seconds(pid: int) -> float:
    """CPU time the process has used (all threads, user + system)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def seed(store: Store, project: str, count: int, start: int) -> None:
    args = [
        sys.executable,
        str(ROOT / "benchmarks" / "seed_tokens.py"),
        "--data-dir",
        str(store.data_dir),
    ]
    if store.database_url:
        args += ["--database-url", store.database_url]
    args += ["--project", project, "--app", APP, "--count", str(count), "--start", str(start)]
    subprocess.run(args, check=True, env={**os.environ, **store.env})


def execute_count(store: Store, sql: str) -> list[tuple[int, ...]]:
    return [tuple(int(v) for v in row) for row in execute(store, sql, ("token.fetch",))]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--tokens", type=int, default=1000)
    parser.add_argument("--large", type=int, default=0, help="also measure with this many tokens")
    parser.add_argument("--database-url", default="", help="PostgreSQL instead of SQLite")
    parser.add_argument(
        "--rounds", type=int, default=2, help="alternating off/on runs of the audit comparison"
    )
    parser.add_argument(
        "--workers", type=int, default=2, help="compare 1 with this many worker processes; 0: skip"
    )
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is missing: apt-get install -y wrk")

    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="outbound-bench-")))
        store = Store(tmp / "data", args.database_url)
        project, key = json.loads(outbound_cli("init", *store.args, env=store.env)).values()
        server = start_server(store, project=(project, key), extra_args=["--log-level", "warning"])
        stack.callback(stop_server, server)
        baseline_port = free_port()
        baseline = subprocess.Popen(
            [sys.executable, str(ROOT / "benchmarks" / "baseline_app.py"), str(baseline_port)]
        )
        stack.callback(baseline.terminate)

        with server.client() as client:
            client.post(
                "/v1/mgmt/outbound/app/create",
                json={"id": APP, "name": "Bench", "tokenUrl": "https://p.example/token"},
            ).raise_for_status()
        seed(store, project, args.tokens, 0)
        auth = f"Bearer {project}:{key}"
        headers = f"{{['Content-Type']='application/json', ['Authorization']='{auth}'}}"

        def script(users: int, path_: str = "/v1/mgmt/outbound/app/user/token/latest") -> Path:
            path = tmp / f"fetch-{users}-{path_.count('/')}.lua"
            lua = LUA.replace("APP", APP).replace("USERS", str(users)).replace("HEADERS", headers)
            path.write_text(lua.replace("PATH", path_))
            return path

        for _ in range(100):
            try:
                httpx.get(f"http://127.0.0.1:{baseline_port}/bare").raise_for_status()
                break
            except httpx.TransportError:
                time.sleep(0.1)

        # warm both up, then measure back to back
        # The baseline gets the very same requests (POST, body, headers) on the bare endpoint.
        bare_url = f"http://127.0.0.1:{baseline_port}"
        wrk(bare_url, script(args.tokens, "/bare"), 2, args.connections)
        wrk(server.base_url, script(args.tokens), 2, args.connections)
        base = wrk(bare_url, script(args.tokens, "/bare"), args.seconds, args.connections)
        raw_asgi = wrk(bare_url, script(args.tokens, "/bare-asgi"), args.seconds, args.connections)
        small = wrk(server.base_url, script(args.tokens), args.seconds, args.connections)
        rss_small = rss_mb(server.process.pid)

        # audit + metrics off and on: two more servers on the same store, run alternately
        off_server = start_server(
            store,
            project=(project, key),
            extra_args=["--log-level", "warning", "--audit-fetches", "false"],
        )
        stack.callback(stop_server, off_server)
        on_server = start_server(
            store,
            project=(project, key),
            extra_args=["--log-level", "warning", "--metrics-port", str(free_port())],
        )
        stack.callback(stop_server, on_server)
        observed: dict[str, list[dict[str, float]]] = {"off": [], "on": []}
        for srv in (off_server, on_server):
            wrk(srv.base_url, script(args.tokens), 2, args.connections)
        for _ in range(args.rounds):
            for name, srv in (("off", off_server), ("on", on_server)):
                before = cpu_seconds(srv.process.pid)
                run = wrk(srv.base_url, script(args.tokens), args.seconds, args.connections)
                served = run["rps"] * args.seconds
                run["cpu_us"] = (cpu_seconds(srv.process.pid) - before) / served * 1e6
                observed[name].append(run)
        scaling: dict[int, list[float]] = {}
        load_before = ""
        scaling_errors = 0
        if args.workers > 1:
            multi = start_server(
                store,
                project=(project, key),
                extra_args=["--log-level", "warning", "--workers", str(args.workers)],
            )
            stack.callback(stop_server, multi)
            wrk(multi.base_url, script(args.tokens), 2, args.connections)
            load_before = " ".join(Path("/proc/loadavg").read_text().split()[:3])
            scaling = {1: [], args.workers: []}
            for _ in range(args.rounds):
                for workers, srv in ((1, server), (args.workers, multi)):
                    run = wrk(srv.base_url, script(args.tokens), args.seconds, args.connections)
                    scaling[workers].append(run["rps"])
                    scaling_errors += int(run["errors"])
        audited = sum(
            r[0] for r in execute_count(store, "SELECT COUNT(*) FROM audit_events WHERE action = ?")
        )

        rows = [
            ("bare JSON POST, Starlette", base, None),
            ("bare JSON POST, raw ASGI", raw_asgi, None),
        ]
        rows += [(f"fetch token, {args.tokens:,} stored", small, rss_small)]
        large = None
        if args.large:
            print(f"seeding {args.large - args.tokens:,} more tokens…", flush=True)
            seed(store, project, args.large - args.tokens, args.tokens)
            # restart so the RSS reading is the server's with a large store, not the seeding's
            stop_server(server)
            server = start_server(
                store, project=(project, key), extra_args=["--log-level", "warning"]
            )
            stack.callback(stop_server, server)
            wrk(server.base_url, script(args.large), 2, args.connections)
            large = wrk(server.base_url, script(args.large), args.seconds, args.connections)
            rows.append((f"fetch token, {args.large:,} stored", large, rss_mb(server.process.pid)))

    backend = "PostgreSQL" if args.database_url else "SQLite"
    print(f"\nwrk -t2 -c{args.connections} -d{args.seconds}s, {backend}, {os.cpu_count()} cores\n")
    columns = ("req/s", "p50 ms", "p99 ms", "non-2xx", "RSS MB", "peak MB")
    print(f"{'':34}" + "".join(f" {c:>8}" for c in columns))
    for name, r, mem in rows:
        rss, peak = mem if mem else (float("nan"), float("nan"))
        figures = (r["rps"], r["p50"], r["p99"], r["errors"], rss, peak)
        print(
            f"{name:34}"
            + "".join(f" {f:8.0f}" if i in (0, 3) else f" {f:8.2f}" for i, f in enumerate(figures))
        )
    ratio = small["rps"] / base["rps"]
    print(f"\nfetch / bare Starlette endpoint: {ratio:.2f}  (target >= 0.60)")
    print(f"fetch / bare raw-ASGI endpoint: {small['rps'] / raw_asgi['rps']:.2f}")
    print(f"fetch p99: {small['p99']:.2f} ms  (target <= 10)")
    failed = sum(r["errors"] for _, r, _ in rows)
    print("\naudit + metrics, same store, alternating runs (req/s each):")
    means, cpu = {}, {}
    for name in ("off", "on"):
        figures = [r["rps"] for r in observed[name]]
        means[name] = sum(figures) / len(figures)
        p99 = max(r["p99"] for r in observed[name])
        cpu[name] = sum(r["cpu_us"] for r in observed[name]) / len(observed[name])
        print(
            f"  {name:4} {' '.join(f'{f:8.0f}' for f in figures)}   mean {means[name]:8.0f}"
            f"   worst p99 {p99:.2f} ms   server CPU {cpu[name]:.0f} µs a fetch"
        )
    print(
        f"fetch with audit + metrics on / off: {means['on'] / means['off']:.2f}  (target >= 0.90)"
    )
    # Less at the mercy of other work on a shared machine than requests/s: what the server
    # spent on each fetch, all its threads (the audit writer's included).
    print(f"server CPU a fetch, off / on: {cpu['off'] / cpu['on']:.2f}")
    print(f"token.fetch audit events written: {audited:,}")
    failed += sum(r["errors"] for runs in observed.values() for r in runs)
    if scaling:
        print(
            f"\nfetch, 1 process vs --workers {args.workers}, same store, alternating runs"
            f" (req/s each; load average before: {load_before}):"
        )
        for workers, rps in scaling.items():
            mean = sum(rps) / len(rps)
            print(f"  {workers} {' '.join(f'{f:8.0f}' for f in rps)}   mean {mean:8.0f}")
        ratio = sum(scaling[args.workers]) / sum(scaling[1])
        print(f"fetch with {args.workers} workers / 1: {ratio:.2f}  ({os.cpu_count()} cores)")
    failed += scaling_errors
    if failed:
        sys.exit(f"\n{failed:,} requests were answered with an error: the figures above are void")
    if large:
        ratio = large["p50"] / small["p50"]
        print(f"p50 with {args.large:,} / with {args.tokens:,}: {ratio:.2f}  (target <= 1.2)")
        print(f"p99 with {args.large:,} / with {args.tokens:,}: {large['p99'] / small['p99']:.2f}")


if __name__ == "__main__":
    main()
