"""The pure pieces of connecting to MCP servers: RFC 9728 metadata locations and checks, the
authorization server's metadata locations, RFC 7591 registration, Client ID Metadata
Documents and RFC 8707 resource indicators on every request."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from outbound.oauth import OAuthClient, OAuthConfigError, ProviderConfig, TransientOAuthError
from outbound.oauth.messages import authorization_url, code_request, refresh_request
from outbound.oauth.registration import (
    best_auth_method,
    client_metadata,
    parse_registration_response,
    registration_request,
    supports_metadata_document,
)
from outbound.oauth.resource import (
    authorization_server_metadata_urls,
    parse_resource_metadata,
    resource_metadata_hint,
    resource_metadata_urls,
)
from outbound.secret import Secret

RESOURCE = "https://mcp.example.com/v1/mcp"


def test_resource_metadata_urls_insert_the_well_known_path_then_try_the_root() -> None:
    assert resource_metadata_urls(RESOURCE) == [
        "https://mcp.example.com/.well-known/oauth-protected-resource/v1/mcp",
        "https://mcp.example.com/.well-known/oauth-protected-resource",
    ]
    assert resource_metadata_urls("https://mcp.example.com/") == [
        "https://mcp.example.com/.well-known/oauth-protected-resource"
    ]
    # RFC 9728 §3.1: the query stays with the resource
    assert resource_metadata_urls("https://h.example/mcp?tenant=a")[0] == (
        "https://h.example/.well-known/oauth-protected-resource/mcp?tenant=a"
    )


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (
            'Bearer error="invalid_token", resource_metadata="https://h.example/.well-known/'
            'oauth-protected-resource/mcp"',
            "https://h.example/.well-known/oauth-protected-resource/mcp",
        ),
        ("Bearer resource_metadata=https://h.example/m", "https://h.example/m"),
        (
            'Basic realm="x", Bearer realm="mcp", resource_metadata="https://h.example/m"',
            "https://h.example/m",
        ),
        ('Basic resource_metadata="https://evil.example/m"', None),
        ('Bearer error="invalid_token"', None),
        ("", None),
    ],
)
def test_the_www_authenticate_hint(header: str, expected: str | None) -> None:
    assert resource_metadata_hint(header) == expected


def test_resource_metadata_must_be_for_the_resource_asked_about() -> None:
    document = {
        "resource": RESOURCE,
        "authorization_servers": ["https://auth.example.com"],
        "scopes_supported": ["mcp:tools", 7],
    }
    metadata = parse_resource_metadata(document, resource=RESOURCE)
    assert metadata.authorization_servers == ("https://auth.example.com",)
    assert metadata.scopes_supported == ("mcp:tools",)
    # A host-wide document names the origin.
    parse_resource_metadata({**document, "resource": "https://mcp.example.com"}, resource=RESOURCE)

    with pytest.raises(OAuthConfigError, match="the resource metadata is for"):
        parse_resource_metadata(
            {**document, "resource": "https://other.example/mcp"}, resource=RESOURCE
        )
    with pytest.raises(OAuthConfigError, match="no authorization server"):
        parse_resource_metadata({**document, "authorization_servers": []}, resource=RESOURCE)
    with pytest.raises(OAuthConfigError, match="not an https URL"):
        parse_resource_metadata(
            {**document, "authorization_servers": ["http://auth.example.com"]}, resource=RESOURCE
        )


def test_authorization_server_metadata_urls_follow_rfc_8414_then_oidc() -> None:
    assert authorization_server_metadata_urls("https://auth.example.com") == [
        "https://auth.example.com/.well-known/oauth-authorization-server",
        "https://auth.example.com/.well-known/openid-configuration",
    ]
    assert authorization_server_metadata_urls("https://auth.example.com/tenant/a") == [
        "https://auth.example.com/.well-known/oauth-authorization-server/tenant/a",
        "https://auth.example.com/.well-known/openid-configuration/tenant/a",
        "https://auth.example.com/tenant/a/.well-known/openid-configuration",
    ]


def test_the_best_auth_method_the_server_offers() -> None:
    offered = ["private_key_jwt", "client_secret_post", "none"]
    assert best_auth_method({"token_endpoint_auth_methods_supported": offered}) == (
        "client_secret_post"
    )
    assert best_auth_method({}) == "client_secret_basic"  # RFC 8414's default
    assert best_auth_method({"token_endpoint_auth_methods_supported": ["none"]}) == "none"
    with pytest.raises(OAuthConfigError, match="no token endpoint auth method"):
        best_auth_method({"token_endpoint_auth_methods_supported": ["private_key_jwt"]})


def test_the_registration_request() -> None:
    metadata = client_metadata(
        name="Calendar agent",
        redirect_uri="https://vault.example/v1/outbound/oauth/callback",
        auth_method="client_secret_basic",
        scopes=["mcp:tools"],
    )
    headers, body = registration_request("https://auth.example.com/register", metadata)
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body) == {
        "client_name": "Calendar agent",
        "redirect_uris": ["https://vault.example/v1/outbound/oauth/callback"],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "client_secret_basic",
        "scope": "mcp:tools",
    }
    with pytest.raises(OAuthConfigError, match="no registration endpoint; set the app's dcrUrl"):
        registration_request("", metadata)
    with pytest.raises(OAuthConfigError, match="https"):
        registration_request("http://auth.example.com/register", metadata)


def test_the_registration_response() -> None:
    client = parse_registration_response(
        201,
        {
            "client_id": "c-1",
            "client_secret": "s3cr3t-value",
            "registration_access_token": "rat-value",
            "registration_client_uri": "https://auth.example.com/reg/c-1",
            "token_endpoint_auth_method": "client_secret_post",
        },
        requested="client_secret_basic",
    )
    assert client.client_id == "c-1"
    assert client.token_endpoint_auth_method == "client_secret_post"  # the server decides
    assert client.client_secret is not None and client.client_secret.reveal() == "s3cr3t-value"
    assert "s3cr3t" not in repr(client) and "rat-value" not in repr(client)

    public = parse_registration_response(201, {"client_id": "c-2"}, requested="none")
    assert (public.client_secret, public.token_endpoint_auth_method) == (None, "none")
    with pytest.raises(OAuthConfigError, match="issued no secret"):
        parse_registration_response(201, {"client_id": "c-3"}, requested="client_secret_basic")
    with pytest.raises(OAuthConfigError, match="invalid_redirect_uri"):
        parse_registration_response(
            400, {"error": "invalid_redirect_uri"}, requested="client_secret_basic"
        )
    with pytest.raises(TransientOAuthError):
        parse_registration_response(503, None, requested="client_secret_basic")


def test_client_id_metadata_documents_only_when_offered_and_https() -> None:
    offered = {"client_id_metadata_document_supported": True}
    url = "https://vault.example/v1/outbound/oauth/client/P1/app-1"
    assert supports_metadata_document(offered, url)
    assert not supports_metadata_document({}, url)
    assert not supports_metadata_document(offered, "http://127.0.0.1:8080/v1/x/y")
    assert not supports_metadata_document(offered, "https://vault.example/")


def test_the_resource_goes_on_every_request() -> None:
    config = ProviderConfig(
        client_id="c",
        authorization_url="https://auth.example.com/authorize",
        token_url="https://auth.example.com/token",
        resource=RESOURCE,
        # a template cannot smuggle another resource in
        authorize_params=(("resource", "https://evil.example"),),
    )
    url = authorization_url(
        config, redirect_uri="https://v.example/cb", state="s", scopes=["a"], code_challenge="c"
    )
    assert parse_qs(urlsplit(url).query)["resource"] == [RESOURCE]
    code = code_request(config, code="x", redirect_uri="https://v.example/cb", code_verifier="v")
    assert code.field("resource") == RESOURCE
    assert refresh_request(config, Secret("rt")).field("resource") == RESOURCE
    plain = ProviderConfig(client_id="c", token_url="https://auth.example.com/token")
    assert refresh_request(plain, Secret("rt")).field("resource") is None


# -- discovery through the HTTP layer, against servers shaped as RFC 9728/8414 publish ------


class _Server:
    """An MCP server whose metadata is only reachable through its 401's hint, and an
    authorization server that publishes only OIDC discovery (what we cannot run here)."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        self.seen.append(f"{request.method} {url}")
        if url == RESOURCE:
            return httpx.Response(
                401,
                headers={
                    "WWW-Authenticate": 'Bearer error="invalid_token", '
                    'resource_metadata="https://mcp.example.com/meta/prm"'
                },
            )
        if url == "https://mcp.example.com/meta/prm":
            return httpx.Response(
                200,
                json={
                    "resource": RESOURCE,
                    "authorization_servers": ["https://auth.example.com/t1"],
                    "scopes_supported": ["mcp:tools"],
                },
            )
        if url == "https://auth.example.com/.well-known/openid-configuration/t1":
            return httpx.Response(
                200,
                json={
                    "issuer": "https://auth.example.com/t1",
                    "authorization_endpoint": "https://auth.example.com/t1/authorize",
                    "token_endpoint": "https://auth.example.com/t1/token",
                    "registration_endpoint": "https://auth.example.com/t1/register",
                },
            )
        return httpx.Response(404)


async def test_discovery_follows_the_path_rules_the_hint_and_the_oidc_fallback() -> None:
    server = _Server()
    async with OAuthClient(httpx.AsyncClient(transport=httpx.MockTransport(server))) as client:
        config = await client.resolve(ProviderConfig(client_id="c", resource=RESOURCE))
        requests = list(server.seen)
        await client.resolve(ProviderConfig(client_id="c", resource=RESOURCE))

    assert requests == [
        "GET https://mcp.example.com/.well-known/oauth-protected-resource/v1/mcp",
        "GET https://mcp.example.com/.well-known/oauth-protected-resource",
        f"GET {RESOURCE}",
        "GET https://mcp.example.com/meta/prm",
        "GET https://auth.example.com/.well-known/oauth-authorization-server/t1",
        "GET https://auth.example.com/.well-known/openid-configuration/t1",
    ]
    assert server.seen == requests  # the second resolve came from the cache
    assert (config.issuer, config.token_url) == (
        "https://auth.example.com/t1",
        "https://auth.example.com/t1/token",
    )
    assert config.registration_url == "https://auth.example.com/t1/register"
    assert config.default_scopes == ("mcp:tools",)
    assert config.resource == RESOURCE


async def test_metadata_that_names_another_resource_is_refused() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            json={
                "resource": "https://evil.example/mcp",
                "authorization_servers": ["https://auth.evil.example"],
            },
        )

    async with OAuthClient(httpx.AsyncClient(transport=httpx.MockTransport(answer))) as client:
        with pytest.raises(OAuthConfigError, match=re.escape("is for 'https://evil.example/mcp'")):
            await client.resolve(ProviderConfig(client_id="c", resource=RESOURCE))
