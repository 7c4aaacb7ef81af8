"""The provider catalog: one data file per OAuth provider, shipped in the package.

``providers/<id>.toml`` holds a provider's endpoints, scopes and quirks as
:class:`~.schema.TemplateSpec` describes them; :func:`get_template` and
:func:`all_templates` read them once, on first use, and check each against the schema.
A :class:`Template` gives the App fields of an app made from it
(:meth:`~Template.app_fields`), its wire form for ``GET /v1/mgmt/outbound/templates``
(:meth:`~Template.to_wire`) and the engine's configuration for its quirks
(:meth:`~Template.config_defaults`).
"""

from __future__ import annotations

from functools import cache

from .loader import PROVIDERS_DIR, CatalogError, load_directory, load_file
from .template import Template

__all__ = [
    "PROVIDERS_DIR",
    "CatalogError",
    "Template",
    "all_templates",
    "get_template",
    "load_directory",
    "load_file",
]


@cache
def _catalog() -> dict[str, Template]:
    return load_directory(PROVIDERS_DIR)


def all_templates() -> list[Template]:
    """Every template, sorted by id."""
    return list(_catalog().values())


def get_template(template_id: str) -> Template | None:
    return _catalog().get(template_id)
