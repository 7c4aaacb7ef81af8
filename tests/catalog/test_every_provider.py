"""Every template, through the engine: the requests it makes follow the template's data.

For each provider, an app is made from the template as the server makes it, and the engine
talks to a MockTransport standing in for the provider: the authorize URL, the code exchange,
the refresh and the revocation go where the template says, authenticated how it says, and a
token response in the RFC 6749 shape (nested where the template says) is read back.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from outbound.catalog import Template, all_templates
from outbound.oauth import PermanentOAuthError, ProviderConfig
from outbound.oauth.discovery import expected_issuer
from outbound.secret import Secret

from .support import (
    CLIENT_ID,
    CLIENT_SECRET,
    REDIRECT_URI,
    Provider,
    basic_auth,
    body_of,
    configured,
    query,
    template,
)

# Remote MCP servers have no endpoints of their own to follow: tests/oauth/test_mcp.py and
# tests/e2e/test_mcp.py cover them.
IDS = [t.id for t in all_templates() if not t.spec.use_dcr]
WELL_KNOWN = "/.well-known/openid-configuration"


def _nest(tpl: Template, tokens: dict[str, Any]) -> dict[str, Any]:
    payload: dict[str, Any] = dict(tokens)
    path = tpl.spec.token_response_path
    for part in reversed(path.split(".") if path else []):
        payload = {part: payload}
    if tpl.spec.success_field:
        payload[tpl.spec.success_field] = True
    return payload


def _provider(tpl: Template, config: ProviderConfig, tokens: dict[str, Any]) -> Provider:
    issuer = expected_issuer(config.discovery_url) if config.discovery_url else None

    def answer(request: httpx.Request) -> httpx.Response:
        if issuer and str(request.url) == config.discovery_url:
            return httpx.Response(
                200,
                json={
                    "issuer": issuer,
                    "authorization_endpoint": f"{issuer}/protocol/authorize",
                    "token_endpoint": f"{issuer}/protocol/token",
                    "revocation_endpoint": f"{issuer}/protocol/revoke",
                },
            )
        if request.url.path.endswith("revoke") or "revocation" in request.url.path:
            return httpx.Response(200, json={})
        return httpx.Response(200, json=_nest(tpl, tokens))

    return Provider(answer)


def _check_client_auth(tpl: Template, request: httpx.Request, body_format: str) -> None:
    sent = body_of(request)
    if tpl.spec.token_endpoint_auth_method == "client_secret_basic":
        assert basic_auth(request) == (CLIENT_ID, CLIENT_SECRET)
        assert "client_secret" not in sent
    elif tpl.spec.token_endpoint_auth_method == "none":  # a public client (Etsy)
        assert "authorization" not in request.headers
        assert "client_secret" not in sent and sent["client_id"] == CLIENT_ID
    else:
        assert "authorization" not in request.headers
        assert sent["client_secret"] == CLIENT_SECRET
        client_key = "client_key" if "client_key" in tpl.spec.hooks else "client_id"
        assert sent[client_key] == CLIENT_ID
    expected = (
        "application/json" if body_format == "json" else ("application/x-www-form-urlencoded")
    )
    assert request.headers["content-type"] == expected
    for name, value in tpl.spec.request_headers.items():
        assert request.headers[name] == value


@pytest.mark.parametrize("template_id", IDS)
async def test_the_engine_follows_the_template(template_id: str) -> None:
    tpl = template(template_id)
    config = configured(template_id)
    provider = _provider(
        tpl,
        config,
        {
            "access_token": f"at-{template_id}",
            "refresh_token": f"rt-{template_id}",
            "expires_in": 3600,
            "token_type": "Bearer",
        },
    )
    async with provider.client() as client:
        resolved = await client.resolve(config)
        url = client.authorization_url(
            resolved,
            redirect_uri=REDIRECT_URI,
            state="st",
            scopes=(),
            code_challenge="c" * 43 if resolved.pkce else None,
        )
        tokens = await client.exchange_code(
            resolved,
            code="the-code",
            redirect_uri=REDIRECT_URI,
            code_verifier="v" * 43 if resolved.pkce else None,
        )
        exchange_request = provider.last
        refreshed = await client.refresh(resolved, Secret("rt-old"))
        refresh_request = provider.last
        kind = tpl.spec.revocation_token_types[0]
        revoked = await client.revoke(resolved, Secret(f"{kind}-old"), hint=kind)
        revoke_request = provider.last

    # -- the authorize URL
    assert url.startswith(resolved.authorization_url + "?")
    params = query(url)
    scope_param = "user_scope" if "user_scope" in tpl.spec.hooks else "scope"
    if tpl.spec.default_scopes:
        assert params[scope_param] == tpl.spec.scope_separator.join(tpl.spec.default_scopes)
    else:
        assert scope_param not in params
    assert params["client_key" if "client_key" in tpl.spec.hooks else "client_id"] == CLIENT_ID
    assert params["redirect_uri"] == REDIRECT_URI and params["response_type"] == "code"
    assert ("code_challenge" in params) == tpl.spec.pkce
    for key, value in tpl.spec.authorize_params.items():
        assert params[key] == value
    # -- the code exchange
    assert str(exchange_request.url) == resolved.token_url
    _check_client_auth(tpl, exchange_request, tpl.spec.token_request_format)
    sent = body_of(exchange_request)
    assert sent["grant_type"] == "authorization_code" and sent["code"] == "the-code"
    assert ("code_verifier" in sent) == tpl.spec.pkce
    assert tokens.access_token is not None and tokens.refresh_token is not None
    assert tokens.access_token.reveal() == f"at-{template_id}"
    assert tokens.refresh_token.reveal() == f"rt-{template_id}"
    assert tokens.expires_at > 0
    # -- the refresh
    assert str(refresh_request.url) == (tpl.spec.refresh_url or resolved.token_url)
    _check_client_auth(tpl, refresh_request, tpl.spec.token_request_format)
    sent = body_of(refresh_request)
    assert sent["grant_type"] == "refresh_token" and sent["refresh_token"] == "rt-old"
    assert ("scope" in sent) == (tpl.spec.scope_on_refresh and bool(tpl.spec.default_scopes))
    assert refreshed.access_token is not None
    assert refreshed.access_token.reveal() == f"at-{template_id}"
    # -- the revocation
    assert revoked == bool(resolved.revocation_url)
    if revoked:
        assert str(revoke_request.url) == resolved.revocation_url
        _check_client_auth(tpl, revoke_request, tpl.spec.revocation_request_format)
        sent = body_of(revoke_request)
        assert sent["token"] == f"{kind}-old"
        assert sent.get("token_type_hint") == (
            kind if tpl.spec.revocation_token_type_hint else None
        )


@pytest.mark.parametrize("template_id", IDS)
async def test_a_refused_refresh_never_repeats_the_secrets(template_id: str) -> None:
    tpl = template(template_id)
    # A public client (Etsy) has no secret to send, so none to repeat.
    secret = CLIENT_SECRET if tpl.spec.client_secret_required else None
    config = configured(template_id, client_secret=secret)
    # A provider that echoes what it got back into its error (some do).
    echo = f"bad grant rt-secret-value for {secret}"
    error: dict[str, Any] = {"error": "invalid_grant", "error_description": echo}
    if tpl.spec.success_field:
        error[tpl.spec.success_field] = False

    def answer(request: httpx.Request) -> httpx.Response:
        if str(request.url) == config.discovery_url:
            issuer = expected_issuer(config.discovery_url)
            return httpx.Response(
                200,
                json={
                    "issuer": issuer,
                    "authorization_endpoint": f"{issuer}/a",
                    "token_endpoint": f"{issuer}/t",
                },
            )
        return httpx.Response(400, json=error)

    provider = Provider(answer)
    async with provider.client() as client:
        with pytest.raises(PermanentOAuthError) as caught:
            await client.refresh(config, Secret("rt-secret-value"))
    text = f"{caught.value} {caught.value!r} {caught.value.description}"
    assert caught.value.error == "invalid_grant"
    assert "rt-secret-value" not in text and CLIENT_SECRET not in text
