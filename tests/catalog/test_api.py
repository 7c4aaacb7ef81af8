"""The catalog over the wire, against a real ``outbound serve``: list and show templates,
create apps from them, and follow a connect link to the provider's consent page."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from outbound.catalog import all_templates
from outbound.server.http.errors import ERROR_CODES
from tests.support.browser import press_continue
from tests.support.server import LiveServer

from .support import query


@pytest.fixture
def client(live_server: LiveServer) -> Iterator[httpx.Client]:
    with live_server.client() as client:
        yield client


def _unique(name: str) -> str:
    return f"{name} {secrets.token_hex(4)}"


def create(client: httpx.Client, **body: Any) -> httpx.Response:
    return client.post("/v1/mgmt/outbound/app/create/bytemplate", json=body)


def test_templates_lists_the_whole_catalog(client: httpx.Client) -> None:
    response = client.get("/v1/mgmt/outbound/templates")
    assert response.status_code == 200
    listed = response.json()["templates"]
    assert [t["id"] for t in listed] == [t.id for t in all_templates()]
    shopify = next(t for t in listed if t["id"] == "shopify")
    assert shopify["name"] == "Shopify"
    assert shopify["docs"].startswith("https://shopify.dev/")
    assert shopify["logo"].startswith("https://")
    assert shopify["defaultScopes"] == ["read_products", "read_orders"]
    inputs = {item["name"]: item for item in shopify["inputs"]}
    assert inputs["clientId"]["required"] and inputs["clientSecret"]["required"]
    assert inputs["shop"] == {
        "name": "shop",
        "label": "Store name",
        "description": "The part before .myshopify.com of the store's admin address.",
        "in": "values",
        "required": True,
        "kind": "label",
        "example": "my-store",
    }


def test_one_template_and_an_unknown_one(client: httpx.Client) -> None:
    response = client.get("/v1/mgmt/outbound/templates/microsoft")
    assert response.status_code == 200
    template = response.json()["template"]
    assert template["tokenUrl"] == "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"
    tenant = next(i for i in template["inputs"] if i["name"] == "tenant")
    assert tenant["default"] == "common" and not tenant["required"]

    response = client.get("/v1/mgmt/outbound/templates/no-such-provider")
    assert response.status_code == 404
    assert response.json()["errorCode"] == "E131003"
    assert "no-such-provider" in response.json()["errorMessage"]


def test_templates_need_a_management_key(live_server: LiveServer) -> None:
    for path in ("/v1/mgmt/outbound/templates", "/v1/mgmt/outbound/templates/google"):
        response = httpx.get(live_server.base_url + path)
        assert response.status_code == 401
        assert response.json()["errorCode"] == "E130401"


def test_create_by_template_fills_in_the_values(client: httpx.Client) -> None:
    name = _unique("Acme store")
    response = create(
        client,
        templateId="shopify",
        name=name,
        clientId="shop-client",
        clientSecret="made-up-secret",
        values={"shop": "acme-store"},
    )
    assert response.status_code == 200, response.text
    app = response.json()["app"]
    assert app["templateId"] == "shopify"
    assert app["name"] == name
    assert app["authorizationUrl"] == "https://acme-store.myshopify.com/admin/oauth/authorize"
    assert app["tokenUrl"] == "https://acme-store.myshopify.com/admin/oauth/access_token"
    assert app["defaultScopes"] == ["read_products", "read_orders"]
    assert app["pkce"] is False
    assert app["hasClientSecret"] is True
    assert "made-up-secret" not in response.text
    loaded = client.get(f"/v1/mgmt/outbound/app/{app['id']}").json()["app"]
    assert loaded == app


def test_create_by_template_with_overrides_and_defaults(client: httpx.Client) -> None:
    response = create(
        client,
        templateId="microsoft",
        name=_unique("Graph"),
        clientId="ms-client",
        clientSecret="made-up",
        overrides={"defaultScopes": ["openid", "Mail.Read"]},
    )
    assert response.status_code == 200, response.text
    app = response.json()["app"]
    assert app["tokenUrl"] == "https://login.microsoftonline.com/common/oauth2/v2.0/token"
    assert app["defaultScopes"] == ["openid", "Mail.Read"]


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        ({"templateId": "shopify", "clientId": "c"}, "E011002", "needs the value 'shop'"),
        (
            {"templateId": "shopify", "clientId": "c", "values": {"shop": "evil.com/x?"}},
            "E011002",
            "value 'shop' must be one DNS label",
        ),
        (
            {"templateId": "auth0", "clientId": "c", "values": {"domain": "a.auth0.com", "x": "1"}},
            "E011002",
            "takes no value 'x'",
        ),
        ({"templateId": "no-such-provider", "clientId": "c"}, "E131003", "no-such-provider"),
    ],
)
def test_create_by_template_says_what_is_wrong(
    client: httpx.Client, body: dict[str, Any], code: str, message: str
) -> None:
    response = create(client, **body)
    assert response.status_code == ERROR_CODES[code].status
    assert response.json()["errorCode"] == code
    assert message in response.json()["errorMessage"]


# -- from a template to the provider's consent page, through the server --------------------


@pytest.mark.parametrize(
    ("template_id", "values", "authorize", "expected"),
    [
        (
            "google",
            {},
            "https://accounts.google.com/o/oauth2/v2/auth",
            {
                "scope": "openid email profile",
                "access_type": "offline",
                "prompt": "consent",
                "include_granted_scopes": "true",
            },
        ),
        (
            "shopify",
            {"shop": "acme-store"},
            "https://acme-store.myshopify.com/admin/oauth/authorize",
            {"scope": "read_products,read_orders"},
        ),
        (
            "microsoft",
            {"tenant": "organizations"},
            "https://login.microsoftonline.com/organizations/oauth2/v2.0/authorize",
            {"scope": "openid profile email offline_access User.Read"},
        ),
        (
            "slack-user",
            {},
            "https://slack.com/oauth/v2/authorize",
            {"user_scope": "channels:read,users:read"},
        ),
        (
            "tiktok",
            {},
            "https://www.tiktok.com/v2/auth/authorize/",
            {"client_key": "the-client", "scope": "user.info.basic"},
        ),
        (
            "jira",
            {},
            "https://auth.atlassian.com/authorize",
            {"audience": "api.atlassian.com", "prompt": "consent"},
        ),
        ("reddit", {}, "https://www.reddit.com/api/v1/authorize", {"duration": "permanent"}),
        (
            "dropbox",
            {},
            "https://www.dropbox.com/oauth2/authorize",
            {"token_access_type": "offline"},
        ),
    ],
)
def test_a_connect_link_leads_to_the_providers_consent_page(
    live_server: LiveServer,
    client: httpx.Client,
    template_id: str,
    values: dict[str, str],
    authorize: str,
    expected: dict[str, str],
) -> None:
    response = create(
        client,
        templateId=template_id,
        name=_unique(template_id),
        clientId="the-client",
        clientSecret="made-up-secret",
        values=values,
        overrides={"defaultRedirectUrl": "https://app.example/connected"},
    )
    assert response.status_code == 200, response.text
    app = response.json()["app"]
    link = client.post("/v1/mgmt/outbound/app/connect", json={"appId": app["id"], "userId": "u1"})
    assert link.status_code == 200, link.text
    opened = press_continue(link.json()["url"])
    assert opened.status_code in (302, 303, 307), opened.text
    location = opened.headers["location"]
    assert location.startswith(authorize + "?")
    params = query(location)
    assert params.items() >= expected.items()
    assert params["redirect_uri"] == app["callbackUrl"]
    assert ("code_challenge" in params) == response.json()["app"]["pkce"]
    assert "made-up-secret" not in location
    assert urlsplit(location).scheme == "https"
