"""The release artifacts as they would be published: ``python -m build`` makes the sdist and
builds the wheel from it; both pass ``twine check``; the wheel carries every file the package
needs (templates, migrations, the console's pages, ``py.typed``), the license and the README
as its description; and the bare wheel installs the SDK alone in a clean venv.

(./scripts/test's full run installs that same sdist-built wheel with its test extra and runs
the SDK and API tests against it.)"""

from __future__ import annotations

import email
import json
import subprocess
import sys
import tarfile
import venv
import zipfile
from email.message import Message
from pathlib import Path

import pytest

import outbound

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "outbound"
NAME = "outbound_vault"
# What must never ship: caches, venvs, build and test leftovers.
STRAY = {"__pycache__", ".venv", "node_modules", ".wheel", ".image", ".git", ".outbound"}

pytestmark = pytest.mark.slow  # two isolated builds and a venv: about half a minute


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    # No --sdist/--wheel: build makes the sdist, then builds the wheel from the unpacked sdist.
    subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return out


def only(dist: Path, pattern: str) -> Path:
    (found,) = dist.glob(pattern)
    return found


def wheel_metadata(wheel: Path) -> Message:
    with zipfile.ZipFile(wheel) as archive:
        return email.message_from_bytes(
            archive.read(f"{NAME}-{outbound.__version__}.dist-info/METADATA")
        )


def test_one_version_names_both_artifacts(dist: Path) -> None:
    assert sorted(p.name for p in dist.iterdir()) == [
        f"{NAME}-{outbound.__version__}-py3-none-any.whl",
        f"{NAME}-{outbound.__version__}.tar.gz",
    ]


def test_twine_check_is_clean(dist: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", *map(str, dist.iterdir())],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("PASSED") == 2, done.stdout


def test_the_wheel_carries_every_package_file(dist: Path) -> None:
    with zipfile.ZipFile(only(dist, "*.whl")) as archive:
        names = set(archive.namelist())
    package_files = {
        "outbound/" + str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    # Spelled out as well, so a rule that dropped non-Python files fails loudly here.
    for needed in (
        "outbound/py.typed",
        "outbound/storage/migrations/script.py.mako",
        "outbound/storage/migrations/env.py",
        "outbound/server/console/templates/base.html",
        "outbound/server/console/static/console.css",
        "outbound/catalog/providers/google-calendar.toml",
    ):
        assert needed in package_files
    dist_info = f"{NAME}-{outbound.__version__}.dist-info/"
    assert names - package_files == {
        dist_info + name
        for name in ("METADATA", "WHEEL", "RECORD", "entry_points.txt", "licenses/LICENSE")
    }
    assert package_files <= names


def test_the_wheel_metadata(dist: Path) -> None:
    meta = wheel_metadata(only(dist, "*.whl"))
    assert meta["Name"] == "outbound-vault"
    assert meta["Version"] == outbound.__version__
    assert meta["License-Expression"] == "Apache-2.0"
    assert meta["Description-Content-Type"] == "text/markdown"
    assert str(meta.get_payload()).startswith("# outbound\n")  # the README, whole
    requires = meta.get_all("Requires-Dist") or []
    bare = sorted(r.split(">")[0] for r in requires if "extra ==" not in r)
    assert bare == ["h11", "httpx"]
    assert any(r.startswith("starlette") and "extra == 'server'" in r for r in requires)


def test_the_sdist_builds_and_tests_and_nothing_else(dist: Path) -> None:
    with tarfile.open(only(dist, "*.tar.gz")) as archive:
        names = [name.split("/", 1)[1] for name in archive.getnames() if "/" in name]
    for needed in ("pyproject.toml", "PKG-INFO", "LICENSE", "README.md", "CHANGELOG.md"):
        assert needed in names
    assert "src/outbound/py.typed" in names
    assert "tests/conftest.py" in names
    assert not [name for name in names if STRAY & set(Path(name).parts)]


def test_the_bare_wheel_installs_the_sdk_alone_in_a_clean_venv(dist: Path, tmp_path: Path) -> None:
    venv.create(tmp_path / "venv", with_pip=True)
    python = tmp_path / "venv" / "bin" / "python"
    wheel = only(dist, "*.whl")
    subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "-c", ROOT / "constraints.txt", wheel],
        check=True,
        capture_output=True,
        timeout=300,
    )
    listed = subprocess.run(
        [python, "-m", "pip", "list", "--format", "json"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    installed = {p["name"].lower() for p in json.loads(listed)} - {"pip", "setuptools"}
    # httpx and h11 and what httpx itself needs; no server dependency.
    assert installed <= {
        "outbound-vault",
        "httpx",
        "h11",
        "httpcore",
        "anyio",
        "idna",
        "certifi",
        "sniffio",
        "typing_extensions",
        "typing-extensions",
    }
    assert {"outbound-vault", "httpx", "h11"} <= installed
    probe = (
        "import outbound, sys;"
        "from outbound import DescopeClient, AsyncClient;"
        "assert outbound.__file__.startswith(sys.prefix);"
        "print(outbound.__version__)"
    )
    done = subprocess.run([python, "-c", probe], capture_output=True, text=True, cwd=tmp_path)
    assert done.stdout == outbound.__version__ + "\n", done.stderr
    # The command is there, and says which extra it needs.
    command = subprocess.run(
        [tmp_path / "venv" / "bin" / "outbound", "--version"], capture_output=True, text=True
    )
    assert command.returncode != 0
    assert "pip install 'outbound-vault[server]'" in command.stderr
