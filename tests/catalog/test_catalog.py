"""The catalog's data files: every one loads, and a broken one is refused, saying where."""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import msgspec
import pytest

from outbound.catalog import (
    PROVIDERS_DIR,
    CatalogError,
    all_templates,
    get_template,
    load_directory,
)
from outbound.oauth import ProviderConfig
from outbound.server.http.wire import AppFields

from .support import configured, example_values, template

ROOT = Path(__file__).parent.parent.parent

# Every provider the issue names, by template id.
NAMED_IN_THE_ISSUE = [
    "google",
    "google-calendar",
    "google-mail",
    "google-drive",
    "google-sheets",
    "google-contacts",
    "microsoft",
    "github",
    "gitlab",
    "bitbucket",
    "slack",
    "salesforce",
    "hubspot",
    "notion",
    "jira",
    "confluence",
    "zoom",
    "dropbox",
    "box",
    "linkedin",
    "discord",
    "asana",
    "linear",
    "airtable",
    "figma",
    "intercom",
    "zendesk",
    "xero",
    "quickbooks",
    "shopify",
    "spotify",
    "twitch",
    "x",
    "reddit",
    "facebook",
    "calendly",
    "docusign",
    "pipedrive",
    "monday",
    "clickup",
    "miro",
    "webex",
    "okta",
    "auth0",
    "keycloak",
    "oidc",
    # and the ones its quirks name
    "tiktok",
    "stripe",
    "exact-online",
]

IDS = [t.id for t in all_templates()]


def test_the_catalog_holds_at_least_60_providers_including_every_one_named() -> None:
    assert len(IDS) >= 60
    missing = [name for name in NAMED_IN_THE_ISSUE if get_template(name) is None]
    assert missing == []
    assert sorted(IDS) == IDS
    assert get_template("no-such-provider") is None


@pytest.mark.parametrize("template_id", IDS)
def test_every_template_makes_an_app_the_api_accepts(template_id: str) -> None:
    tpl = template(template_id)
    fields = tpl.app_fields(example_values(tpl))
    # The bytemplate route converts exactly this; it must pass the API's own validation.
    app = msgspec.convert({**fields, "clientId": "cid"}, AppFields)
    assert app.template_id == template_id
    for url in (app.authorization_url, app.token_url, app.revocation_url, app.discovery_url):
        assert url is None or (url.startswith("https://") and "{" not in url), url
    assert app.authorization_url or app.discovery_url or (app.resource and app.use_dcr)
    # ...and the server builds an engine configuration from the stored app.
    config = configured(template_id)
    assert config.client_id == "client-id-from-the-console"
    assert config.token_endpoint_auth_method == tpl.spec.token_endpoint_auth_method
    assert config.resource == (app.resource or "")


@pytest.mark.parametrize("template_id", IDS)
def test_config_defaults_are_provider_config_arguments(template_id: str) -> None:
    defaults = template(template_id).config_defaults()
    known = {f.name for f in dataclasses.fields(ProviderConfig)}
    assert set(defaults) <= known
    ProviderConfig(client_id="cid", **defaults)  # every value has the right shape
    # Per-instance URLs are never handed to the engine with placeholders in them.
    assert not any("{" in str(value) for value in defaults.values())


@pytest.mark.parametrize("template_id", IDS)
def test_wire_form_says_what_to_fill_in(template_id: str) -> None:
    tpl = template(template_id)
    wire = tpl.to_wire()
    assert wire["id"] == template_id
    assert wire["logo"].startswith("https://") and wire["docs"].startswith("https://")
    names = [item["name"] for item in wire["inputs"]]
    # A template that registers its own client asks for no client credentials.
    credentials = [] if tpl.spec.use_dcr else ["clientId", "clientSecret"]
    assert names[: len(credentials)] == credentials
    assert names[len(credentials) :] == [value.name for value in tpl.spec.values]
    msgspec.json.encode(wire)  # plain JSON


# -- values: what the user fills in ---------------------------------------------------------


def test_a_missing_value_is_named_with_an_example() -> None:
    with pytest.raises(ValueError, match=r"needs the value 'shop'.*'my-store'"):
        template("shopify").app_fields({})


def test_an_unknown_value_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"no value 'store' \(it takes: shop\)"):
        template("shopify").app_fields({"store": "x"})


def test_defaults_fill_in_values_left_out() -> None:
    fields = template("microsoft").app_fields({})
    assert fields["tokenUrl"] == "https://login.microsoftonline.com/common/oauth2/v2.0/token"
    fields = template("okta").app_fields({"domain": "acme.okta.com"})
    assert fields["discoveryUrl"] == (
        "https://acme.okta.com/oauth2/default/.well-known/openid-configuration"
    )


@pytest.mark.parametrize(
    ("template_id", "name", "value"),
    [
        ("shopify", "shop", "evil.com/x?"),  # a path and query into the host
        ("shopify", "shop", "my-store.myshopify.com"),  # a label, not a host
        ("shopify", "shop", "a@evil.com"),
        ("zendesk", "subdomain", "acme.zendesk.com#"),
        ("auth0", "domain", "evil.com/steal?x="),
        ("auth0", "domain", "https://acme.auth0.com"),
        ("keycloak", "realm", "../admin"),
        ("oidc", "issuer", "http://login.example.com"),  # not https
        ("oidc", "issuer", "https://login.example.com?x=1"),
        ("docusign", "auth_host", "account.example.com"),  # not one of the choices
        ("microsoft", "tenant", "common/../../evil"),
    ],
)
def test_values_cannot_change_where_requests_go(template_id: str, name: str, value: str) -> None:
    tpl = template(template_id)
    values = {**example_values(tpl), name: value}
    with pytest.raises(ValueError, match=rf"value '{name}' must be"):
        tpl.app_fields(values)


def test_access_type_and_prompt_become_app_fields() -> None:
    fields = template("google").app_fields()
    assert fields["accessType"] == "offline"
    assert fields["prompt"] == ["consent"]
    assert fields["authorizationUrlParams"] == [{"key": "include_granted_scopes", "value": "true"}]


# -- a broken data file is refused, naming the file and the field ----------------------------


@pytest.fixture
def catalog_copy(tmp_path: Path) -> Path:
    directory = tmp_path / "providers"
    directory.mkdir()
    shutil.copy(PROVIDERS_DIR / "shopify.toml", directory / "shopify.toml")
    return directory


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            'scope_separator = ","',
            'scope_seperator = ","',
            r"shopify\.toml: field 'scope_seperator': unknown field",
        ),
        (
            'kind = "label"',
            'kind = "label"\nkinds = "x"',
            r"shopify\.toml: field 'values\[0\]\.kinds': unknown field",
        ),
        ("pkce = false", 'pkce = "no"', r"shopify\.toml: field 'pkce': Expected `bool`"),
        (
            'token_endpoint_auth_method = "client_secret_post"',
            'token_endpoint_auth_method = "client_secret_jwt"',
            r"shopify\.toml: field 'token_endpoint_auth_method'",
        ),
        (
            'token_endpoint_auth_method = "client_secret_post"\n',
            "\n",
            r"shopify\.toml: field 'token_endpoint_auth_method': required field is missing",
        ),
        (
            "https://{shop}.myshopify.com/admin/oauth/access_token",
            "http://{shop}.myshopify.com/admin/oauth/access_token",
            r"shopify\.toml: field 'token_url': must be an https:// URL",
        ),
        (
            "https://{shop}.myshopify.com/admin/oauth/access_token",
            "https://{store}.myshopify.com/admin/oauth/access_token",
            r"placeholder \{store\} is used but no \[\[values\]\] entry declares it",
        ),
        ('id = "shopify"', 'id = "shopify2"', r"'shopify2' must equal the file name 'shopify'"),
        (
            "pkce = false",
            'pkce = false\nhooks = ["no_such_hook"]',
            r"field 'hooks': no hook named 'no_such_hook'",
        ),
        (
            "pkce = false",
            'pkce = false\nrefresh_url = "https://{shop}.example/refresh"',
            r"field 'refresh_url': placeholders are allowed only in",
        ),
        (
            'example = "my-store"',
            'example = "my store!"',
            r"field 'values\[0\]': 'my store!' is not a valid 'label' value",
        ),
        ("[[values]]", "[[values]", r"shopify\.toml: not valid TOML"),
        (
            "pkce = false",
            'pkce = false\nrequest_headers = { Authorization = "Bearer x" }',
            r"field 'request_headers': 'Authorization' is set by the engine",
        ),
        (
            "pkce = false",
            'pkce = false\nrequest_headers = { "Bad Name" = "x" }',
            r"shopify\.toml: field 'request_headers'",
        ),
        (
            "pkce = false",
            'pkce = false\nrevocation_request_format = "xml"',
            r"shopify\.toml: field 'revocation_request_format'",
        ),
        (
            "pkce = false",
            'pkce = false\nrevocation_token_types = ["id_token"]',
            r"shopify\.toml: field 'revocation_token_types\[0\]'",
        ),
        (
            "pkce = false",
            "pkce = false\nrevocation_token_types = []",
            r"shopify\.toml: field 'revocation_token_types'",
        ),
        (
            "pkce = false",
            'pkce = false\nrevocation_token_types = ["access_token", "access_token"]',
            r"field 'revocation_token_types': a token type is listed twice",
        ),
    ],
)
def test_a_broken_data_file_is_refused_naming_file_and_field(
    catalog_copy: Path, old: str, new: str, message: str
) -> None:
    _edit(catalog_copy / "shopify.toml", old, new)
    with pytest.raises(CatalogError, match=message):
        load_directory(catalog_copy)


def test_an_unused_value_is_refused(catalog_copy: Path) -> None:
    path = catalog_copy / "shopify.toml"
    path.write_text(
        path.read_text() + '\n[[values]]\nname = "region"\nlabel = "R"\n'
        'description = "d"\nkind = "label"\nexample = "eu"\n'
    )
    with pytest.raises(CatalogError, match=r"'region' is declared but no URL or parameter uses it"):
        load_directory(catalog_copy)


def test_every_data_file_is_named_after_its_id() -> None:
    files = sorted(path.stem for path in PROVIDERS_DIR.glob("*.toml"))
    assert files == IDS
    for path in PROVIDERS_DIR.glob("*.toml"):
        assert re.search(rf'^id = "{re.escape(path.stem)}"$', path.read_text(), re.M)


# -- the wheel ships the data ------------------------------------------------------------------


def test_the_wheel_ships_every_data_file_and_loads_them(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w", str(tmp_path)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("outbound_vault-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        shipped = sorted(
            Path(name).stem
            for name in archive.namelist()
            if name.startswith("outbound/catalog/providers/") and name.endswith(".toml")
        )
        archive.extractall(tmp_path / "installed")
    assert shipped == IDS
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import outbound.catalog as c; print(c.__file__); print(len(c.all_templates()))",
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": str(tmp_path / "installed"), "PATH": "/usr/bin:/bin"},
    ).stdout.split()
    assert out[0].startswith(str(tmp_path / "installed"))
    assert int(out[1]) == len(IDS)
