"""Reading provider data files: TOML, checked against :mod:`.schema` and for consistency.

Every problem is a :class:`CatalogError` naming the file and the field, because the person
reading it is editing that file.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlsplit

import msgspec

from ..oauth import hooks as engine_hooks
from .schema import FACTS, VALUE_KINDS, TemplateSpec
from .template import PLACEHOLDER, TEMPLATED_FIELDS, Template

__all__ = [
    "DOC_HOSTS",
    "PROVIDERS_DIR",
    "CatalogError",
    "load_directory",
    "load_file",
    "registrable_domain",
]

PROVIDERS_DIR = Path(__file__).parent / "providers"

# Sites that host providers' documentation for them: a source may be there, an endpoint
# never (an endpoint must be on one of the provider's own domains).
DOC_HOSTS = frozenset({"readme.io", "gitbook.io", "github.com", "github.io", "learn.microsoft.com"})
# Second-level labels under which a country's registrable domains sit (co.uk, com.au).
_SECOND_LEVEL = frozenset({"co", "com", "net", "org", "ac", "gov", "ne", "or"})
# Endpoint fields whose host the provider owns (a value of kind host or url is the user's).
_ENDPOINTS = (*TEMPLATED_FIELDS, "refresh_url")


def registrable_domain(host: str) -> str:
    """``accounts.google.com`` -> ``google.com``; ``login.xero.co.uk`` -> ``xero.co.uk``."""
    labels = host.lower().rstrip(".").split(":")[0].split(".")
    keep = 3 if len(labels) > 2 and len(labels[-1]) == 2 and labels[-2] in _SECOND_LEVEL else 2
    return ".".join(labels[-keep:])


class CatalogError(ValueError):
    """A provider data file is malformed or inconsistent."""


def _field(message: str) -> tuple[str, str]:
    # msgspec: "Object contains unknown field `foo` - at `$.values[0]`"
    text, _, where = message.partition(" - at `$")
    if not where:  # a dict key: "… - at `key` in `$.request_headers`"
        text, _, where = message.partition(" - at `key` in `$")
        text = f"key {text[0].lower()}{text[1:]}" if where else text
    where = where.rstrip("`").lstrip(".")
    if text.startswith("Object contains unknown field `"):
        name = text.split("`")[1]
        return (f"{where}.{name}" if where else name), "unknown field (not in the template schema)"
    if text.startswith("Object missing required field `"):
        name = text.split("`")[1]
        return (f"{where}.{name}" if where else name), "required field is missing"
    if "matching regex" in text and "http" in text:
        return where, "must be an https:// URL (with {value} placeholders only where allowed)"
    return where or "(file)", text


def load_file(path: Path) -> Template:
    """Read and check one data file."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(f"{path.name}: not valid TOML: {exc}") from None
    try:
        spec = msgspec.convert(data, TemplateSpec)
    except msgspec.ValidationError as exc:
        field, problem = _field(str(exc))
        raise CatalogError(f"{path.name}: field {field!r}: {problem}") from None
    template = Template(spec)
    for problem in _problems(template, path):
        raise CatalogError(f"{path.name}: {problem}")
    return template


def _problems(template: Template, path: Path) -> Iterable[str]:
    spec = template.spec
    if spec.id != path.stem:
        yield f"field 'id': {spec.id!r} must equal the file name {path.stem!r}"
    if not (spec.discovery_url or spec.resource) and not (
        spec.authorization_url and spec.token_url
    ):
        yield (
            "field 'authorization_url': needs authorization_url and token_url, discovery_url"
            " or resource"
        )
    if spec.use_dcr and spec.client_secret_required:
        yield "field 'client_secret_required': a use_dcr template registers its own client"
    for name in ("refresh_url", "logo", "homepage", "docs", "console"):
        if PLACEHOLDER.search(getattr(spec, name)):
            yield (
                f"field {name!r}: placeholders are allowed only in"
                f" {', '.join(TEMPLATED_FIELDS)}, authorize_params and token_params"
            )
    kinds = {value.name: value.kind for value in spec.values}
    for name in (*TEMPLATED_FIELDS, "homepage", "docs", "logo", "console", "refresh_url"):
        url = getattr(spec, name)
        head = PLACEHOLDER.match(url)
        if head and kinds.get(head.group(1)) != "url":
            yield f"field {name!r}: may start with a placeholder only of a value of kind 'url'"
    declared = [value.name for value in spec.values]
    if len(set(declared)) != len(declared):
        yield "field 'values': a value name is declared twice"
    used = template.placeholders()
    for name in sorted(used - set(declared)):
        yield f"placeholder {{{name}}} is used but no [[values]] entry declares it"
    for name in sorted(set(declared) - used):
        yield f"field 'values': {name!r} is declared but no URL or parameter uses it"
    for index, value in enumerate(spec.values):
        _, pattern = VALUE_KINDS[value.kind]
        for sample in filter(None, (value.example, value.default, *value.choices)):
            if not pattern.fullmatch(sample):
                yield f"field 'values[{index}]': {sample!r} is not a valid {value.kind!r} value"
    known_hooks = set(engine_hooks.names())
    for name in spec.hooks:
        if name not in known_hooks:
            yield f"field 'hooks': no hook named {name!r}; known: {', '.join(sorted(known_hooks))}"
    if spec.rotates_refresh_token and not spec.refresh_tokens:
        yield "field 'rotates_refresh_token': true, but refresh_tokens is false"
    for name in spec.request_headers:
        if name.lower() in ("authorization", "content-type", "content-length", "host"):
            yield f"field 'request_headers': {name!r} is set by the engine, not the template"
    if len(set(spec.revocation_token_types)) != len(spec.revocation_token_types):
        yield "field 'revocation_token_types': a token type is listed twice"
    for key in spec.authorize_params:
        if key in ("client_id", "redirect_uri", "state", "scope", "response_type"):
            yield f"field 'authorize_params': {key!r} is set by the engine, not the template"
    yield from _fact_problems(template)


def _fact_problems(template: Template) -> Iterable[str]:
    """Every fact names its documentation page, on the provider's site, and every endpoint
    is on one of the provider's domains."""
    spec = template.spec
    if not spec.categories:
        yield "field 'categories': name at least one category"
    if spec.whoami is not None and spec.whoami.path.startswith("/") and not spec.api_base_url:
        yield "field 'whoami': its path is relative to api_base_url, which is not set"
    sources = spec.sources
    if sources is None:
        yield "field 'sources': every template names the documentation its facts come from"
        return
    stated = {
        "endpoints": True,
        "scopes": bool(spec.default_scopes),
        "pkce": True,
        "refresh": True,
        "api": bool(spec.api_base_url),
        "whoami": spec.whoami is not None,
    }
    for fact in FACTS:
        if stated[fact] and not sources.source(fact):
            yield f"field 'sources.{fact}': the template states {fact} facts; name their page"
        if not stated[fact] and getattr(sources, fact) and fact in ("scopes", "api", "whoami"):
            yield f"field 'sources.{fact}': a source for a fact the template does not state"
    own = {registrable_domain(urlsplit(spec.homepage).hostname or ""), *spec.domains}
    user_values = {value.name for value in spec.values if value.kind in ("host", "url")}
    examples = {value.name: value.example for value in spec.values}
    whoami = spec.whoami.path if spec.whoami and spec.whoami.path.startswith("https://") else ""
    for name, url in [*((name, getattr(spec, name)) for name in _ENDPOINTS), ("whoami", whoami)]:
        netloc = urlsplit(url).netloc if not url.startswith("{") else "{"
        if not url or any(f"{{{value}}}" in netloc for value in user_values) or netloc == "{":
            continue  # the user's own server
        host = PLACEHOLDER.sub(lambda m: examples.get(m.group(1), "x"), netloc)
        if registrable_domain(host) not in own:
            yield (
                f"field {name!r}: host {host!r} is not on the provider's domains"
                f" ({', '.join(sorted(own))}); add its domain to 'domains' if it is theirs"
            )
    for fact in ("oauth", *FACTS):
        url = getattr(sources, fact)
        host = urlsplit(url).hostname or ""
        if (
            url
            and registrable_domain(host) not in own
            and host not in DOC_HOSTS
            and (registrable_domain(host) not in DOC_HOSTS)
        ):
            yield (
                f"field 'sources.{fact}': {host!r} is neither the provider's site"
                f" ({', '.join(sorted(own))}) nor a documentation host"
            )


def load_directory(directory: Path = PROVIDERS_DIR) -> dict[str, Template]:
    """Every ``*.toml`` file of ``directory``, by id (sorted by id)."""
    templates = [load_file(path) for path in directory.glob("*.toml")]
    return {template.id: template for template in sorted(templates, key=lambda t: t.id)}
