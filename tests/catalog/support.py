"""Provider configurations exactly as the server builds them from an app made from a
template, and a recording MockTransport standing in for providers we cannot run."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import msgspec

from outbound.catalog import Template, get_template
from outbound.oauth import OAuthClient, ProviderConfig
from outbound.secret import Secret
from outbound.server.http.wire import AppFields, app_config_from_fields
from outbound.server.tokens.providers import provider_config
from outbound.storage import AppRecord
from tests.support.mock_provider import MockProvider

Provider = MockProvider  # re-exported for the catalog tests

CLIENT_ID = "client-id-from-the-console"
# Made up for the tests; the point is that it must never show up anywhere it should not.
CLIENT_SECRET = "test-client-secret-9f8e7d"
REDIRECT_URI = "https://vault.example/v1/outbound/oauth/callback"

Handler = Callable[[httpx.Request], httpx.Response]


def template(template_id: str) -> Template:
    found = get_template(template_id)
    assert found is not None, f"no template {template_id!r}"
    return found


def example_values(tpl: Template) -> dict[str, str]:
    return {value.name: value.example for value in tpl.spec.values}


def app_record(
    template_id: str,
    values: Mapping[str, str] | None = None,
    *,
    client_secret: str | None = CLIENT_SECRET,
    overrides: Mapping[str, Any] | None = None,
) -> AppRecord:
    """What the store holds after ``create/bytemplate`` with these values."""
    tpl = template(template_id)
    fields = dict(tpl.app_fields(example_values(tpl) if values is None else values))
    fields.update(overrides or {})
    fields["clientId"] = CLIENT_ID
    config = app_config_from_fields(msgspec.convert(fields, AppFields))
    return AppRecord(
        project_id="P1",
        id="app-1",
        name=fields["name"],
        config=config,
        client_secret=Secret(client_secret) if client_secret else None,
        created_at=0,
        updated_at=0,
    )


def configured(
    template_id: str,
    values: Mapping[str, str] | None = None,
    *,
    client_secret: str | None = CLIENT_SECRET,
    overrides: Mapping[str, Any] | None = None,
) -> ProviderConfig:
    """The engine's configuration for an app made from the template, built by the server's
    own code (template defaults, then the stored app's fields)."""
    return provider_config(
        app_record(template_id, values, client_secret=client_secret, overrides=overrides)
    )


def body_of(request: httpx.Request) -> dict[str, Any]:
    """The request's fields, whether it was sent as a form or as JSON."""
    if request.headers.get("content-type", "").startswith("application/json"):
        decoded: dict[str, Any] = json.loads(request.content)
        return decoded
    return dict(parse_qsl(request.content.decode(), keep_blank_values=True))


def basic_auth(request: httpx.Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization", "")
    if not header.startswith("Basic "):
        return None
    user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    return user, password


def query(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


def json_response(payload: Any, status: int = 200) -> httpx.Response:
    return httpx.Response(status, json=payload)


async def exchange(
    provider: Provider,
    config: ProviderConfig,
    *,
    code_verifier: str | None = None,
    callback_params: Mapping[str, str] | None = None,
) -> Any:
    async with provider.client() as client:
        return await client.exchange_code(
            config,
            code="code-from-the-callback",
            redirect_uri=REDIRECT_URI,
            code_verifier=code_verifier,
            callback_params=callback_params or {},
        )


async def refresh(provider: Provider, config: ProviderConfig, token: str = "rt-old") -> Any:
    async with provider.client() as client:
        return await client.refresh(config, Secret(token))


def authorize_url(config: ProviderConfig, *, code_challenge: str | None = None) -> str:
    return OAuthClient().authorization_url(
        config,
        redirect_uri=REDIRECT_URI,
        state="state-123",
        scopes=(),
        code_challenge=code_challenge,
    )
