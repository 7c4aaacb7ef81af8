"""Every template's facts: https endpoints on the provider's own domains, a documentation
page for every fact, documented scopes, an API base where the provider has an API, and a
whoami request that can be sent. The loader refuses a data file that breaks these; this
test checks the shipped catalog again from the outside, and that broken files are refused."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from outbound.catalog import PROVIDERS_DIR, CatalogError, Template, all_templates, load_directory
from outbound.catalog.loader import DOC_HOSTS, registrable_domain
from outbound.catalog.schema import CATEGORIES, FACTS
from outbound.catalog.template import PLACEHOLDER
from tests.support.server import outbound_cli

from .support import example_values, template

TEMPLATES = all_templates()
IDS = [t.id for t in TEMPLATES]

# Providers with an API whose base is not one fixed URL (or a URL of the user's values):
# the vault learns it with the token or from the account, so the template names none.
API_BASE_FROM_THE_ACCOUNT = {
    "docusign": "the eSignature API's base_uri comes from the userinfo answer, per account",
    "salesforce": "API calls go to the org's instance_url, which comes with the token",
    "mailchimp": "the data center's API host comes from the OAuth metadata endpoint",
    "zoho": "the data center's api_domain comes with the token",
    "oidc": "any OpenID provider: its one API, userinfo, is named by its discovery document",
    "adobe": "each Adobe API (Photoshop, PDF Services, Analytics, ...) has its own host",
}

URL_FIELDS = (
    "authorization_url",
    "token_url",
    "refresh_url",
    "revocation_url",
    "discovery_url",
    "resource",
    "api_base_url",
)


def _own_domains(tpl: Template) -> set[str]:
    return {registrable_domain(urlsplit(tpl.spec.homepage).hostname or ""), *tpl.spec.domains}


def _filled(tpl: Template, url: str) -> str | None:
    """The URL with example values, or None where the host is wholly the user's own."""
    user_hosts = {v.name for v in tpl.spec.values if v.kind in ("host", "url")}
    netloc = urlsplit(url).netloc if not url.startswith("{") else "{"
    if netloc == "{" or any(f"{{{name}}}" in netloc for name in user_hosts):
        return None
    values = example_values(tpl)
    return PLACEHOLDER.sub(lambda m: values[m.group(1)], url)


def test_the_catalog_holds_at_least_250_templates() -> None:
    assert len(IDS) >= 250


@pytest.mark.parametrize("template_id", IDS)
def test_every_endpoint_is_https_on_the_providers_domains(template_id: str) -> None:
    tpl = template(template_id)
    own = _own_domains(tpl)
    urls = [getattr(tpl.spec, name) for name in URL_FIELDS]
    if tpl.spec.whoami and tpl.spec.whoami.path.startswith("https://"):
        urls.append(tpl.spec.whoami.path)
    for url in filter(None, urls):
        filled = _filled(tpl, url)
        if filled is None:
            continue
        assert filled.startswith("https://"), url
        host = urlsplit(filled).hostname or ""
        assert registrable_domain(host) in own, f"{url}: {host} is not one of {sorted(own)}"


@pytest.mark.parametrize("template_id", IDS)
def test_every_fact_names_its_documentation_page(template_id: str) -> None:
    tpl = template(template_id)
    spec = tpl.spec
    assert spec.sources is not None, "no template without a source"
    stated = {
        "endpoints": True,
        "scopes": bool(spec.default_scopes),
        "pkce": True,
        "refresh": True,
        "api": bool(spec.api_base_url),
        "whoami": spec.whoami is not None,
    }
    own = _own_domains(tpl)
    for fact in FACTS:
        page = tpl.source(fact)
        assert bool(page) == stated[fact], fact
        if page:
            host = urlsplit(page).hostname or ""
            assert page.startswith("https://") and "{" not in page
            # The source's site is the provider's (or hosts its docs for it).
            assert (
                registrable_domain(host) in own
                or host in DOC_HOSTS
                or (registrable_domain(host) in DOC_HOSTS)
            ), f"{fact}: {page}"
    # The wire form lists exactly the stated facts' pages.
    assert set(tpl.to_wire()["sources"]) == {fact for fact in FACTS if stated[fact]}


@pytest.mark.parametrize("template_id", IDS)
def test_categories_and_api_base(template_id: str) -> None:
    tpl = template(template_id)
    spec = tpl.spec
    assert spec.categories and set(spec.categories) <= set(CATEGORIES)
    has_api = not spec.use_dcr and template_id not in API_BASE_FROM_THE_ACCOUNT
    assert bool(spec.api_base_url) == has_api, (
        "api_base_url is required where the provider has an API"
        if has_api
        else "an MCP server's API is its resource; the others are listed with their reason"
    )


@pytest.mark.parametrize("template_id", [t.id for t in TEMPLATES if t.spec.whoami])
def test_the_whoami_request_can_be_sent(template_id: str) -> None:
    tpl = template(template_id)
    whoami = tpl.spec.whoami
    assert whoami is not None
    url = tpl.whoami_url(example_values(tpl))
    assert url.startswith("https://") and "{" not in url
    if whoami.body:
        json.loads(whoami.body)
    assert whoami.method == "GET" or whoami.path.startswith("/")


def test_whoami_urls_join_the_api_base() -> None:
    assert template("github").whoami_url() == "https://api.github.com/user"
    zendesk = template("zendesk")
    assert zendesk.api_base_url({"subdomain": "acme"}) == "https://acme.zendesk.com/api/v2"
    assert zendesk.whoami_url({"subdomain": "acme"}) == "https://acme.zendesk.com/api/v2/users/me"
    assert template("okta").whoami_url({"domain": "acme.okta.com"}) == (
        "https://acme.okta.com/oauth2/default/v1/userinfo"
    )


# -- a data file that breaks a fact rule is refused -------------------------------------------


@pytest.fixture
def catalog_copy(tmp_path: Path) -> Path:
    directory = tmp_path / "providers"
    directory.mkdir()
    shutil.copy(PROVIDERS_DIR / "github.toml", directory / "github.toml")
    return directory


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("\n[sources]\n", "\n[elsewhere]\n", r"field 'elsewhere': unknown field"),
        (
            'token_url = "https://github.com/login/oauth/access_token"',
            'token_url = "https://github.example.net/login/oauth/access_token"',
            r"field 'token_url': host 'github.example.net' is not on the provider's domains",
        ),
        (
            'api = "https://docs.github.com/en/rest"',
            'api = "https://blog.example.org/github-api"',
            r"field 'sources.api': 'blog.example.org' is neither the provider's site",
        ),
        (
            'scopes = "https://docs.github.com',
            'scopez = "https://docs.github.com',
            r"field 'sources.scopez': unknown field",
        ),
        ('categories = ["dev-tools"]', 'categories = ["devtools"]', r"field 'categories\[0\]'"),
        ('categories = ["dev-tools"]', "categories = []", r"field 'categories': name at least one"),
        (
            'api_base_url = "https://api.github.com"\n',
            "",
            r"field 'whoami': its path is relative to api_base_url",
        ),
        (
            'account = "login"',
            'account = "login..x"',
            r"field 'whoami.account'",
        ),
    ],
)
def test_a_file_breaking_a_fact_rule_is_refused(
    catalog_copy: Path, old: str, new: str, message: str
) -> None:
    path = catalog_copy / "github.toml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(CatalogError, match=message):
        load_directory(catalog_copy)


def test_a_file_without_sources_is_refused(catalog_copy: Path) -> None:
    path = catalog_copy / "github.toml"
    text = path.read_text()
    path.write_text(text[: text.index("\n[sources]\n")] + "\n")
    with pytest.raises(CatalogError, match=r"field 'sources': every template names"):
        load_directory(catalog_copy)


def test_a_scope_without_its_source_is_refused(catalog_copy: Path) -> None:
    path = catalog_copy / "github.toml"
    lines = [line for line in path.read_text().splitlines() if not line.startswith("scopes =")]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(CatalogError, match=r"field 'sources.scopes': the template states scopes"):
        load_directory(catalog_copy)


# -- outbound templates list --grep -------------------------------------------------------------


def test_templates_list_grep_searches_names_categories_and_hosts() -> None:
    def ids(text: str) -> set[str]:
        listed = outbound_cli("templates", "list", "--grep", text)
        return {line.split()[0] for line in listed.splitlines()}

    assert "github" in ids("GitHub")  # name, any case
    by_category = ids("accounting")
    assert {"xero", "quickbooks", "freshbooks"} <= by_category
    assert ids("googleapis.com") >= {"google", "google-drive", "youtube"}  # a host
    listed = json.loads(outbound_cli("templates", "list", "--grep", "zendesk", "--json"))
    found = [t["id"] for t in listed["templates"]]
    assert "zendesk" in found and all("zendesk" in template(i).searchable() for i in found)
