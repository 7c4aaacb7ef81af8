"""Every ``pip install`` a reader can copy from README.md or docs/ names our distribution.

The plain name ``outbound`` on the package index is an unrelated 2016 package: a doc that
says ``pip install outbound`` installs it. Each install line is read as pip would parse it,
and every argument that names a project of ours must be the name in pyproject.toml, with
extras that exist; a local path must be this tree or a wheel or sdist built from it."""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]

# `pip install ARGS`, up to the end of its inline code span, shell comment, `&&` or line.
INSTALL = re.compile(r"pip install ([^`#\n&;]*)")


def install_lines() -> list[tuple[str, str]]:
    return [
        (f"{path.relative_to(ROOT)}:{number}", match.group(1).strip())
        for path in DOCS
        for number, line in enumerate(path.read_text().splitlines(), 1)
        for match in INSTALL.finditer(line)
    ]


def ours(name: str) -> bool:
    """A project name a reader could take for this one."""
    return canonicalize_name(name).startswith("outbound")


def check_argument(argument: str) -> None:
    if argument.startswith("-"):
        return
    local = argument.split("[", 1)[0]
    if local in {".", "-e"} or local.startswith("."):
        assert local == ".", f"{argument}: only this tree (.) is a local path to install"
        return
    if "dist/" in argument:
        # A wheel or sdist built from this tree: its file name carries the normalized name.
        wheel_name = PYPROJECT["name"].replace("-", "_")
        assert f"dist/{wheel_name}-" in argument, argument
        extras = re.findall(r"\[([^]]*)\]", argument)
    else:
        try:
            requirement = Requirement(argument)
        except InvalidRequirement as exc:  # pragma: no cover - a test failure names it
            raise AssertionError(f"{argument}: not a requirement pip would accept") from exc
        if not ours(requirement.name):
            return
        assert canonicalize_name(requirement.name) == canonicalize_name(PYPROJECT["name"]), (
            f"{argument}: the distribution is {PYPROJECT['name']}"
        )
        extras = sorted(requirement.extras)
    for extra in extras:
        assert extra in PYPROJECT["optional-dependencies"], f"{argument}: no extra {extra!r}"


@pytest.mark.parametrize(("where", "arguments"), install_lines())
def test_install_line_names_the_distribution(where: str, arguments: str) -> None:
    for argument in shlex.split(arguments):
        check_argument(argument)


def test_the_docs_name_it_and_the_old_name_is_refused() -> None:
    lines = install_lines()
    assert any(shlex.split(args) == [PYPROJECT["name"]] for _, args in lines), (
        "the README or docs must say how to install the SDK by name"
    )
    assert any(f"'{PYPROJECT['name']}[server]'" in args for _, args in lines)
    # The check above refuses the name that installs someone else's package.
    with pytest.raises(AssertionError):
        check_argument("outbound")
    with pytest.raises(AssertionError):
        check_argument("outbound[server]")
    with pytest.raises(AssertionError):
        check_argument(f"{PYPROJECT['name']}[nonesuch]")


def test_the_bare_name_is_the_sdk_and_the_server_an_extra() -> None:
    core = {Requirement(r).name for r in PYPROJECT["dependencies"]}
    assert core == {"httpx", "h11"}
    assert "server" in PYPROJECT["optional-dependencies"]
    assert PYPROJECT["scripts"] == {"outbound": "outbound.cli:main"}
