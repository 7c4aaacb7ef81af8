"""An app's provider API: its base URL and how its credential is presented.

The base URL is, first found: the app's ``apiBaseUrl``; its template's ``api_base_url`` (for
apps made before the field existed; a template URL with a ``{value}`` placeholder is filled
only when an app is made, so it does not count here); the app's ``resource`` (an MCP server's
URL: the MCP endpoint itself). None of these is E131020.

The credential goes as ``Authorization: Bearer <token>`` unless the template says otherwise
for API keys (``api_key_header`` with ``api_key_prefix``, or ``api_key_query``).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from ...storage import AppRecord
from ..http.errors import ApiError
from .headers import Credential
from .target import Target, split_base

__all__ = ["ProviderApi", "provider_api"]


_BEARER = Credential()


@dataclass(frozen=True)
class ProviderApi:
    target: Target
    # how an API key of this app is presented (an OAuth access token: always a bearer token)
    api_key: Credential
    # the app's templateId, for the metrics label (checked against the catalog there)
    template_id: str

    def credential(self, token_type: str) -> Credential:
        return self.api_key if token_type == "apikey" else _BEARER  # noqa: S105


def _template(template_id: str) -> Any:
    if not template_id:
        return None
    try:
        catalog = importlib.import_module("outbound.catalog")
    except ImportError:  # the catalog is optional
        return None
    template = catalog.get_template(template_id)
    return None if template is None else template.spec


def _facts(spec: Any) -> dict[str, str]:
    names = ("api_base_url", "api_key_header", "api_key_prefix", "api_key_query")
    return {name: str(getattr(spec, name, "") or "") for name in names}


def provider_api(app: AppRecord) -> ProviderApi:
    """The app's provider API; ``ApiError`` E131020 when it has no base URL."""
    config = app.config
    template_id = str(config.get("templateId") or "")
    facts = _facts(_template(template_id))
    base = str(config.get("apiBaseUrl") or "")
    if not base and "{" not in facts["api_base_url"]:
        base = facts["api_base_url"]
    base = base or str(config.get("resource") or "")
    if not base:
        raise ApiError(
            "E131020",
            f"outbound app {app.id!r} has no apiBaseUrl: set it (app update) to the provider's"
            " API URL, e.g. https://www.googleapis.com",
        )
    try:
        target = split_base(base)
    except ValueError as exc:
        raise ApiError("E131020", f"outbound app {app.id!r}: {exc}") from None
    return ProviderApi(target, Credential.from_template(facts), template_id)
