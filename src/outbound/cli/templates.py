"""``outbound templates list | show``: the provider templates of the installed catalog."""

from __future__ import annotations

import json
from typing import Any

import click

__all__ = ["find_template", "templates"]


@click.group()
def templates() -> None:
    """Browse the provider templates."""


@templates.command("list")
@click.option("--json", "as_json", is_flag=True, help='Print {"templates": [...]} as JSON.')
@click.option(
    "--grep",
    "grep",
    metavar="TEXT",
    help="Only templates whose id, name, categories or hosts contain TEXT (any case).",
)
def templates_list(as_json: bool, grep: str | None) -> None:
    """List the provider templates: id, name and the values each needs."""
    from ..catalog import all_templates

    found = all_templates()
    if grep:
        needle = grep.strip().lower()
        found = [t for t in found if needle in t.searchable()]
        if not found:
            raise click.ClickException(f"no provider template matches {grep!r}")
    if as_json:
        click.echo(json.dumps({"templates": [t.to_wire() for t in found]}))
        return
    width = max(len(t.id) for t in found)
    for template in found:
        values = " ".join(
            f"{v.name}={v.default}" if v.default else f"{v.name}=?" for v in template.spec.values
        )
        line = f"{template.id:<{width}}  {template.name}"
        click.echo(f"{line}  [{values}]" if values else line)


@templates.command("show")
@click.argument("template_id")
def templates_show(template_id: str) -> None:
    """Show one template as JSON: endpoints, scopes, quirks and what to fill in."""
    click.echo(json.dumps(find_template(template_id).to_wire(), indent=2))


def find_template(template_id: str) -> Any:
    """The catalog's template ``template_id``, or a ClickException that says where to look."""
    from ..catalog import get_template

    template = get_template(template_id)
    if template is None:
        raise click.ClickException(
            f"no provider template {template_id!r}; `outbound templates list` lists them"
        )
    return template
