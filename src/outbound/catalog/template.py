"""A provider template: the App fields it produces, its wire form, and the engine's quirks."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ..app_fields import TEMPLATED_URL_FIELDS
from .schema import FACTS, VALUE_KINDS, TemplateSpec, ValueSpec

__all__ = ["PLACEHOLDER", "Template"]

PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")

# Fields that may hold ``{value}`` placeholders: those the App itself stores, since the
# user's values are known only when an app is created from the template.
# api_base_url is one of them once the App field apiBaseUrl exists; until then the
# template still fills it in for :meth:`Template.api_base_url`.
TEMPLATED_FIELDS = tuple(
    dict.fromkeys((*(name for name, _ in TEMPLATED_URL_FIELDS), "api_base_url"))
)
_PROMPTS = frozenset({"none", "login", "consent", "select_account"})


def _has_placeholder(text: str) -> bool:
    return PLACEHOLDER.search(text) is not None


@dataclass(frozen=True)
class Template:
    """One provider, as its data file describes it."""

    spec: TemplateSpec

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def logo(self) -> str:
        if self.spec.logo:
            return self.spec.logo
        # Every provider serves its favicon at the root of its home page's host.
        return f"https://{urlsplit(self.spec.homepage).hostname}/favicon.ico"

    def __repr__(self) -> str:
        return f"Template(id={self.id!r}, name={self.name!r})"

    # -- per-instance values -----------------------------------------------------------

    def placeholders(self) -> set[str]:
        """Names of the ``{value}`` placeholders the template's URLs and params use."""
        found: set[str] = set()
        for text in self._templated_texts():
            found.update(PLACEHOLDER.findall(text))
        return found

    def _templated_texts(self) -> Iterator[str]:
        spec = self.spec
        for name in TEMPLATED_FIELDS:
            yield getattr(spec, name)
        yield from spec.authorize_params.values()
        yield from spec.token_params.values()
        if spec.whoami is not None:
            yield spec.whoami.path

    def resolve_values(self, values: Mapping[str, str]) -> dict[str, str]:
        """The user's values checked and completed with defaults; ValueError names the value
        that is missing, unknown or malformed, and says what it should look like."""
        declared = {value.name: value for value in self.spec.values}
        unknown = sorted(set(values) - set(declared))
        if unknown:
            takes = ", ".join(declared) or "no values"
            raise ValueError(
                f"template {self.id!r} takes no value {unknown[0]!r} (it takes: {takes})"
            )
        resolved: dict[str, str] = {}
        for name, value_spec in declared.items():
            value = (values.get(name) or "").strip() or value_spec.default
            if not value:
                raise ValueError(
                    f"template {self.id!r} needs the value {name!r}: {value_spec.description}"
                    f" (for example {value_spec.example!r})"
                )
            _check_value(self.id, value_spec, value)
            resolved[name] = value.rstrip("/") if value_spec.kind == "url" else value
        return resolved

    def _fill(self, text: str, values: Mapping[str, str]) -> str:
        return PLACEHOLDER.sub(lambda match: values[match.group(1)], text)

    def api_base_url(self, values: Mapping[str, str] | None = None) -> str:
        """The provider's API base with the user's values filled in ("" if it has none)."""
        return self._fill(self.spec.api_base_url, self.resolve_values(values or {}))

    def whoami_url(self, values: Mapping[str, str] | None = None) -> str:
        """The whoami request's URL with the user's values filled in ("" if none)."""
        whoami = self.spec.whoami
        if whoami is None:
            return ""
        resolved = self.resolve_values(values or {})
        path = self._fill(whoami.path, resolved)
        return path if path.startswith("https://") else self.api_base_url(values) + path

    def values_from_app(self, fields: Mapping[str, Any]) -> dict[str, str]:
        """The values an app made from this template was filled in with, read back from its
        stored URLs (wire names), and the scheme they use; values it does not show are left
        out. The app keeps its URLs filled in, not the values themselves."""
        found: dict[str, str] = {}
        for name, wire_name in TEMPLATED_URL_FIELDS:
            pattern, stored = getattr(self.spec, name), fields.get(wire_name)
            if not pattern or not isinstance(stored, str) or not PLACEHOLDER.search(pattern):
                continue
            match = re.fullmatch(_url_regex(pattern), stored)
            if match:
                found.update({k.split("__")[0]: v for k, v in match.groupdict().items()})
        return found

    def source(self, fact: str) -> str:
        """The documentation page a fact of the template comes from (see SourcesSpec)."""
        return self.spec.sources.source(fact) if self.spec.sources else ""

    def searchable(self) -> str:
        """What ``templates list --grep`` searches: id, name, categories and every host."""
        spec = self.spec
        hosts = {
            urlsplit(url).hostname or ""
            for url in (
                getattr(spec, name) for name in (*TEMPLATED_FIELDS, "refresh_url", "homepage")
            )
            if url
        }
        return " ".join([spec.id, spec.name, *spec.categories, *sorted(hosts)]).lower()

    # -- the three views ---------------------------------------------------------------

    def app_fields(self, values: Mapping[str, str] | None = None) -> dict[str, Any]:
        """The App wire fields (camelCase, API.md) of a new app made from this template."""
        resolved = self.resolve_values(values or {})
        spec = self.spec
        fields: dict[str, Any] = {
            "name": spec.name,
            "description": spec.description,
            "logo": self.logo,
            "templateId": spec.id,
            "defaultScopes": list(spec.default_scopes),
            "pkce": spec.pkce,
        }
        for name, wire_name in TEMPLATED_URL_FIELDS:
            url = getattr(spec, name)
            if url:
                fields[wire_name] = self._fill(url, resolved)
        authorize = {k: self._fill(v, resolved) for k, v in spec.authorize_params.items()}
        # access_type and prompt have App fields of their own (API.md): use them, so an app
        # update that changes them changes what is sent.
        if authorize.get("access_type") in ("offline", "online"):
            fields["accessType"] = authorize.pop("access_type")
        prompt = authorize.get("prompt", "").split()
        if prompt and set(prompt) <= _PROMPTS:
            fields["prompt"] = prompt
            del authorize["prompt"]
        if authorize:
            fields["authorizationUrlParams"] = [
                {"key": k, "value": v} for k, v in authorize.items()
            ]
        if spec.use_dcr:
            fields["useDcr"] = True
        if spec.token_params:
            fields["tokenUrlParams"] = [
                {"key": k, "value": self._fill(v, resolved)} for k, v in spec.token_params.items()
            ]
        return fields

    def config_defaults(self) -> dict[str, Any]:
        """Keyword arguments of :class:`~outbound.oauth.config.ProviderConfig` for the
        provider's quirks and its fixed endpoints. URLs and parameters with per-instance
        values are left out: the app made from the template carries them filled in."""
        spec = self.spec
        defaults: dict[str, Any] = {
            "token_endpoint_auth_method": spec.token_endpoint_auth_method,
            "default_scopes": tuple(spec.default_scopes),
            "scope_separator": spec.scope_separator,
            "pkce": spec.pkce,
            "authorize_params": tuple(
                (k, v) for k, v in spec.authorize_params.items() if not _has_placeholder(v)
            ),
            "token_params": tuple(
                (k, v) for k, v in spec.token_params.items() if not _has_placeholder(v)
            ),
            "scope_on_refresh": spec.scope_on_refresh,
            "refresh_margin": spec.refresh_margin,
            "refresh_window": spec.refresh_window,
            "token_request_format": spec.token_request_format,
            "request_headers": tuple(spec.request_headers.items()),
            "revocation_request_format": spec.revocation_request_format,
            "revocation_token_type_hint": spec.revocation_token_type_hint,
            "revocation_token_types": tuple(spec.revocation_token_types),
            "token_response_path": spec.token_response_path,
            "success_field": spec.success_field,
            "extra_token_fields": tuple(spec.extra_token_fields),
            "extra_callback_params": tuple(spec.extra_callback_params),
            "rotates_refresh_token": spec.rotates_refresh_token,
            "subject_field": spec.subject_field,
            "hooks": tuple(spec.hooks),
        }
        if spec.refresh_margin is None:
            del defaults["refresh_margin"]
        if spec.refresh_window is None:
            del defaults["refresh_window"]
        for name in ("refresh_url", *TEMPLATED_FIELDS):
            url = getattr(spec, name)
            # api_base_url is the proxy's, not the OAuth engine's.
            if url and not _has_placeholder(url) and name != "api_base_url":
                defaults[name] = url
        return defaults

    def inputs(self) -> list[dict[str, Any]]:
        """What a user fills in to create an app from this template, and where it goes in a
        ``create/bytemplate`` request (``"body"`` field or ``"values"`` entry)."""
        inputs: list[dict[str, Any]] = (
            []
            if self.spec.use_dcr
            else [
                {
                    "name": "clientId",
                    "label": "Client ID",
                    "description": f"The client id of your OAuth app at {self.name}.",
                    "in": "body",
                    "required": True,
                },
                {
                    "name": "clientSecret",
                    "label": "Client secret",
                    "description": f"The client secret of your OAuth app at {self.name}.",
                    "in": "body",
                    "required": self.spec.client_secret_required,
                    "secret": True,
                },
            ]
        )
        for value in self.spec.values:
            entry: dict[str, Any] = {
                "name": value.name,
                "label": value.label,
                "description": value.description,
                "in": "values",
                "required": not value.default,
                "kind": value.kind,
                "example": value.example,
            }
            if value.default:
                entry["default"] = value.default
            if value.choices:
                entry["choices"] = list(value.choices)
            inputs.append(entry)
        return inputs

    def to_wire(self) -> dict[str, Any]:
        """The template as ``GET /v1/mgmt/outbound/templates`` lists it."""
        spec = self.spec
        wire: dict[str, Any] = {
            "id": spec.id,
            "name": spec.name,
            "description": spec.description,
            "logo": self.logo,
            "homepage": spec.homepage,
            "docs": spec.docs,
            "console": spec.console,
            "defaultScopes": list(spec.default_scopes),
            "scopeSeparator": spec.scope_separator,
            "pkce": spec.pkce,
            "tokenEndpointAuthMethod": spec.token_endpoint_auth_method,
            "discoveryUrl": spec.discovery_url,
            "resource": spec.resource,
            "useDcr": spec.use_dcr,
            "authorizationUrl": spec.authorization_url,
            "tokenUrl": spec.token_url,
            "refreshUrl": spec.refresh_url,
            "revocationUrl": spec.revocation_url,
            "authorizationUrlParams": [
                {"key": k, "value": v} for k, v in spec.authorize_params.items()
            ],
            "tokenUrlParams": [{"key": k, "value": v} for k, v in spec.token_params.items()],
            "refreshTokens": spec.refresh_tokens,
            "rotatesRefreshToken": spec.rotates_refresh_token,
            "refreshMargin": spec.refresh_margin,
            "extraTokenFields": list(spec.extra_token_fields),
            "extraCallbackParams": list(spec.extra_callback_params),
            "inputs": self.inputs(),
            "notes": spec.notes,
            "categories": list(spec.categories),
            "apiBaseUrl": spec.api_base_url,
            "whoami": _whoami_wire(spec),
            "sources": {fact: self.source(fact) for fact in FACTS if self.source(fact)},
        }
        return wire


def _url_regex(pattern: str) -> str:
    """A template URL as a regex whose named groups are its placeholders' values; the
    scheme may be http where an operator allowed a loopback or private network."""
    parts: list[str] = []
    seen: dict[str, int] = {}
    last = 0
    for match in PLACEHOLDER.finditer(pattern):
        parts.append(re.escape(pattern[last : match.start()]))
        name = match.group(1)
        seen[name] = seen.get(name, 0) + 1
        group = name if seen[name] == 1 else f"{name}__{seen[name]}"
        parts.append(f"(?P<{group}>[^/?#]+)")
        last = match.end()
    parts.append(re.escape(pattern[last:]))
    regex = "".join(parts)
    return "https?" + regex[len("https") :] if regex.startswith("https") else regex


def _whoami_wire(spec: TemplateSpec) -> dict[str, Any] | None:
    whoami = spec.whoami
    if whoami is None:
        return None
    wire: dict[str, Any] = {"method": whoami.method, "path": whoami.path, "account": whoami.account}
    if whoami.id:
        wire["id"] = whoami.id
    if whoami.body:
        wire["body"] = whoami.body
    if whoami.headers:
        wire["headers"] = dict(whoami.headers)
    return wire


def _check_value(template_id: str, spec: ValueSpec, value: str) -> None:
    what, pattern = VALUE_KINDS[spec.kind]
    if spec.choices and value not in spec.choices:
        raise ValueError(
            f"template {template_id!r}: value {spec.name!r} must be one of"
            f" {', '.join(spec.choices)}"
        )
    if not pattern.fullmatch(value):
        # The value itself is echoed (shortened): it is a host or a name, never a secret.
        raise ValueError(
            f"template {template_id!r}: value {spec.name!r} must be {what}"
            f" (for example {spec.example!r}), not {value[:80]!r}"
        )
