"""The README's tables are the code's tables: error codes and settings."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from outbound.server.config import SETTINGS, env_name
from outbound.server.http.errors import ERROR_CODES

README = (Path(__file__).parent.parent / "README.md").read_text()


def section(marker: str) -> str:
    match = re.search(rf"<!-- {marker}:.*?-->\n(.*?)<!-- /{marker} -->", README, re.S)
    assert match, f"README lost its {marker} table"
    return match.group(1)


def rows(table: str) -> list[list[str]]:
    lines = [line for line in table.strip().splitlines()[2:]]
    return [[cell.strip().strip("`") for cell in line.strip("|").split("|")] for line in lines]


def test_error_code_table_matches_the_code() -> None:
    documented = {
        code: (int(status), meaning) for code, status, meaning in rows(section("error-codes"))
    }
    actual = {c.code: (c.status, c.description) for c in ERROR_CODES.values()}
    assert documented == actual, "run: python scripts/readme_tables.py"


def test_settings_table_matches_the_code() -> None:
    documented = {row[1]: (row[0], row[3]) for row in rows(section("settings"))}
    actual = {
        env_name(name): (f"--{name.replace('_', '-')}", field.metadata["help"])
        for name, field in SETTINGS.items()
    }
    assert documented == actual, "run: python scripts/readme_tables.py"


def test_quickstart_is_exactly_two_commands() -> None:
    quickstart = README.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", quickstart, re.S)
    assert len(blocks) == 2
    assert all(len(block.strip().splitlines()) == 1 for block in blocks)
    assert "outbound serve" in blocks[0]
    ci = (Path(__file__).parent.parent / ".ci" / "run").read_text()
    assert shlex.split(blocks[1].strip())[0] in ci


def test_changelog_has_a_section_per_release_in_keep_a_changelog_form() -> None:
    from outbound import __version__

    changelog = (Path(__file__).parent.parent / "CHANGELOG.md").read_text()
    releases = re.findall(r"^## (.+)$", changelog, re.M)
    assert releases[0] == "Unreleased"
    versions = [re.fullmatch(r"(\d+\.\d+\.\d+) - \d{4}-\d{2}-\d{2}", r) for r in releases[1:]]
    assert all(versions), releases
    # The running version has its section (an unreleased bump is released by adding it).
    assert __version__ in [v.group(1) for v in versions if v]
    kinds = set(re.findall(r"^### (.+)$", changelog, re.M))
    assert kinds <= {"Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"}, kinds
    # Every entry sits under one of those headings, none straight under a release.
    for body in re.split(r"^## .+$", changelog, flags=re.M)[1:]:
        assert not re.match(r"\s*- ", body), "an entry without its Added/Changed/Fixed heading"


def test_license_file_matches_pyproject() -> None:
    import tomllib

    root = Path(__file__).parent.parent
    declared = tomllib.loads((root / "pyproject.toml").read_text())["project"]["license"]
    assert declared == "Apache-2.0"
    text = (root / "LICENSE").read_text()
    assert text.lstrip().startswith("Apache License\n")
    assert "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text  # the full text, not a pointer to it


# One citation form in every doc: `tests/<path>.py::test_name` (or a whole file,
# `tests/<path>.py`, where the claim is the file's). The claim pages must name test ids.
CITATION = re.compile(r"`(tests/(?:[a-z_]+/)*test_\w+\.py)(?:::(test_\w+))?(?:\[[^`]*\])?`")
CLAIM_PAGES = ("docs/security.md", "docs/operations.md")


def _cited_docs() -> list[Path]:
    root = Path(__file__).parent.parent
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


def test_every_cited_test_exists() -> None:
    """Every doc that says a test proves something names it in one form, and the test exists:
    a renamed or deleted test fails here instead of leaving a claim without proof."""
    root = Path(__file__).parent.parent
    seen = 0
    for doc in _cited_docs():
        text = doc.read_text()
        # any other spelling of a test path (no tests/ prefix) is a citation this check misses
        loose = re.findall(r"`(?!tests/)[a-z_/]*test_\w+\.py[^`]*`", text)
        assert not loose, f"{doc.name}: cite as `tests/<path>.py::test_name`: {loose}"
        for path, test in CITATION.findall(text):
            source = root / path
            assert source.exists(), f"{doc.name}: {path}"
            if test:
                assert re.search(rf"^(async )?def {test}\(", source.read_text(), re.M), (
                    f"{doc.name}: {path}::{test}"
                )
            seen += 1
    assert seen >= 90


@pytest.mark.parametrize("page", CLAIM_PAGES)
def test_claim_pages_cite_test_ids(page: str) -> None:
    """On the pages of claims (the threat model, the fault table), a claim cites the tests
    that prove it by id, not a whole file."""
    text = (Path(__file__).parent.parent / page).read_text()
    cited = CITATION.findall(text)
    assert len(cited) >= 10
    whole_files = [path for path, test in cited if not test]
    assert not whole_files, f"{page}: name the test, not the file: {whole_files}"


def test_api_reference_is_the_served_document() -> None:
    """docs/openapi.json and docs/openapi.md are generated from the document the server
    serves (scripts/openapi_docs.py)."""
    import importlib.util

    from outbound.server.api.openapi import build, document

    root = Path(__file__).parent.parent
    spec = importlib.util.spec_from_file_location("openapi_docs", root / "scripts/openapi_docs.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    fix = "run: python scripts/openapi_docs.py"
    assert (root / "docs/openapi.json").read_bytes() == document() + b"\n", fix
    assert (root / "docs/openapi.md").read_text() == module.markdown(build()), fix
