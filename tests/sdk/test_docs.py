"""docs/sdk.md's tables are the code's: settings and methods."""

from __future__ import annotations

import re
from pathlib import Path

from outbound.client import OutboundApplication
from outbound.client._config import SETTINGS

DOC = (Path(__file__).parents[2] / "docs" / "sdk.md").read_text()


def table(marker: str) -> list[list[str]]:
    match = re.search(rf"<!-- {marker}:.*?-->\n(.*?)<!-- /{marker} -->", DOC, re.S)
    assert match, f"docs/sdk.md lost its {marker} table"
    lines = match.group(1).strip().splitlines()[2:]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]


def test_settings_table_matches_the_code() -> None:
    documented = [[cell.strip("`") for cell in row] for row in table("sdk-settings")]
    assert documented == [[s.argument, s.env, s.fallback_env, s.help] for s in SETTINGS]


def test_methods_table_lists_every_method() -> None:
    documented = [re.findall(r"^`(\w+)\(", row[0])[0] for row in table("sdk-methods")]
    public = [name for name in dir(OutboundApplication) if not name.startswith("_")]
    assert sorted(documented) == sorted(public)
