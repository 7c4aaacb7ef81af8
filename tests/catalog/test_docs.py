"""docs/providers.md is the catalog's table, regenerated: it can never drift from the data."""

from __future__ import annotations

from pathlib import Path

from outbound.catalog import all_templates
from outbound.catalog.docs import render

PROVIDERS_MD = Path(__file__).parent.parent.parent / "docs" / "providers.md"


def test_docs_providers_md_is_the_generated_table() -> None:
    assert PROVIDERS_MD.read_text() == render(), (
        "docs/providers.md is out of date: run"
        " `python -m outbound.catalog.docs > docs/providers.md`"
    )


def test_every_provider_has_a_row_linking_its_docs() -> None:
    text = PROVIDERS_MD.read_text()
    for template in all_templates():
        assert f"| [{template.name}]({template.spec.docs}) | `{template.id}` |" in text
