"""Mutation testing of the modules that carry the vault's guarantees (mutmut, pinned below).

    python scripts/mutation.py                 # every module in GUARDED
    python scripts/mutation.py net/            # the modules whose path contains a word

Each module is mutated alone, in a copy of the tree under .mutation/work/, against the fast
in-process tests that guard it (the end-to-end tests run the server in another process, where
mutmut's trampolines cannot reach). Prints killed / survived / total and the score per module,
and lists the surviving mutants; docs/testing.md keeps the last report and the review of the
survivors. Not part of scripts/test: it takes minutes per module on two cores.

Why a script around mutmut: mutmut 3 mutates in place of the package, so the rest of the
package must be copied beside the mutated module (``also_copy``), and the project must *not*
be installed in mutmut's venv, or the tests would import the unmutated copy.
"""

# ruff: noqa: S603, S607 - runs our own venv's tools and git on our own tree
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".mutation" / "venv"
WORK = ROOT / ".mutation" / "work"
MUTMUT = "mutmut==3.8.1"

# module -> the in-process tests that are its guarantee's proof
GUARDED: dict[str, list[str]] = {
    "src/outbound/net/guard.py": [
        "tests/net/test_guard.py",
        "tests/net/test_addresses.py",
        "tests/net/test_vet.py",
    ],
    "src/outbound/net/http.py": ["tests/net/test_guard.py"],
    "src/outbound/net/logs.py": ["tests/net/test_guard.py"],
    "src/outbound/storage/leases.py": ["tests/storage/test_leases.py"],
    "src/outbound/crypto/keyring.py": ["tests/crypto/test_keyring.py"],
    "src/outbound/storage/codec.py": ["tests/storage/test_codec.py"],
    "src/outbound/storage/sealed.py": ["tests/storage/test_codec.py"],
    "src/outbound/server/background/webhook_delivery.py": ["tests/server/test_webhook_signing.py"],
}


def venv() -> Path:
    python = VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        pip = [str(python), "-m", "pip", "install", "-q"]
        subprocess.run(
            [*pip, "-c", str(ROOT / "constraints.txt"), "-e", f"{ROOT}[dev]"], check=True
        )
        subprocess.run([*pip, MUTMUT], check=True)
        # the project's dependencies stay; the project itself must come from mutmut's copy
        subprocess.run(
            [str(python), "-m", "pip", "uninstall", "-y", "-q", "outbound-vault"], check=True
        )
    return VENV / "bin" / "mutmut"


def also_copy(module: str) -> list[str]:
    """Everything of src/ but the mutated module: whole directories where possible (mutmut
    copies a file only into a directory that exists)."""
    mutated = ROOT / module
    found: list[str] = []

    def walk(directory: Path) -> None:
        for path in sorted(directory.iterdir()):
            if path == mutated or path.name == "__pycache__":
                continue
            if path.is_dir() and mutated.is_relative_to(path):
                walk(path)
            else:
                found.append(str(path.relative_to(ROOT)))

    walk(ROOT / "src")
    return found


def run(module: str, tests: list[str], mutmut: Path) -> tuple[int, int, list[str]]:
    work = WORK / Path(module).stem
    shutil.rmtree(work, ignore_errors=True)
    files = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    for name in files.stdout.splitlines():
        target = work / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if (ROOT / name).is_file():
            shutil.copy2(ROOT / name, target)
    copies = "\n".join(f"    {p}" for p in ["tests/", *also_copy(module)])
    tests_dir = "\n".join(f"    {t}" for t in tests)
    (work / "setup.cfg").write_text(
        f"[mutmut]\npaths_to_mutate={module}\ntests_dir=\n{tests_dir}\nalso_copy=\n{copies}\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("OUTBOUND_TEST_")}
    subprocess.run([str(mutmut), "run", "--max-children", "2"], cwd=work, env=env,
                   stdout=subprocess.DEVNULL, check=False)  # fmt: skip
    results = subprocess.run([str(mutmut), "results", "--all", "true"], cwd=work, env=env,
                             capture_output=True, text=True, check=True).stdout  # fmt: skip
    statuses = re.findall(r"^\s*(\S+): (.+)$", results, re.MULTILINE)
    killed = sum(1 for _, status in statuses if status == "killed")
    survived = [name for name, status in statuses if status != "killed"]
    return killed, len(statuses), survived


def main(words: list[str]) -> int:
    mutmut = venv()
    chosen = {m: t for m, t in GUARDED.items() if not words or any(w in m for w in words)}
    print(f"{'module':45} {'killed':>7} {'total':>6} {'score':>6}")
    report: list[str] = []
    for module, tests in chosen.items():
        killed, total, survived = run(module, tests, mutmut)
        score = f"{100 * killed / total:.0f}%" if total else "—"
        print(f"{module:45} {killed:>7} {total:>6} {score:>6}", flush=True)
        report += [f"  {module}: {name}" for name in survived]
    if report:
        print("\nnot killed (survived, timed out or not covered):")
        print("\n".join(report))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
