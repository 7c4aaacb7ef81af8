"""The engine against a real authorization server (npm oidc-provider) and a real browser."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from outbound.oauth import (
    OAuthClient,
    OAuthConfigError,
    PermanentOAuthError,
    ProviderConfig,
    TransientOAuthError,
    check_callback,
    check_callback_issuer,
    needs_refresh,
)
from outbound.oauth.pkce import new_verifier, s256_challenge
from outbound.secret import Secret
from tests.oauth.conftest import LOOPBACK, connect
from tests.support.browser import CallbackCatcher, drive_consent
from tests.support.oidc_server import OidcServer
from tests.support.server import free_port


def assert_no_secret(exc: BaseException, *secrets: str) -> None:
    text = f"{exc} {exc!r} {exc.args!r}"
    for secret in secrets:
        assert secret not in text


async def test_discovery_fills_endpoints_from_the_real_metadata(
    provider: OidcServer, oauth: OAuthClient
) -> None:
    config = await oauth.resolve(provider.provider_config())

    assert config.issuer == provider.issuer
    assert config.authorization_url == f"{provider.issuer}/auth"
    assert config.token_url == f"{provider.issuer}/token"
    assert config.revocation_url == f"{provider.issuer}/token/revocation"
    assert config.token_endpoint_auth_method == "client_secret_basic"
    # oidc-provider advertises RFC 9207 support, so callbacks without iss are refused.
    assert config.require_callback_issuer is True


async def test_discovery_is_cached_per_url_until_its_ttl(provider: OidcServer) -> None:
    fetched: list[str] = []

    async def count(request: httpx.Request) -> None:
        fetched.append(str(request.url))

    async with httpx.AsyncClient(event_hooks={"request": [count]}) as http:
        cached = OAuthClient(http, discovery_ttl=3600)
        for _ in range(3):
            await cached.resolve(provider.provider_config())
        assert fetched == [provider.discovery_url]

        expiring = OAuthClient(http, discovery_ttl=0)
        for _ in range(2):
            await expiring.resolve(provider.provider_config())
        assert len(fetched) == 3


async def test_discovery_refuses_a_document_naming_another_issuer(
    provider: OidcServer, oauth: OAuthClient
) -> None:
    config = provider.provider_config(issuer="https://accounts.example.com")

    with pytest.raises(OAuthConfigError) as caught:
        await oauth.resolve(config)
    assert caught.value.error == "issuer_mismatch"


@pytest.mark.browser
async def test_code_exchange_through_a_real_browser(
    provider: OidcServer, oauth: OAuthClient, catcher: CallbackCatcher
) -> None:
    provider.set_access_token_ttl(120)
    before = time.time()

    connected = await connect(oauth, provider, catcher, login="alice")

    tokens = connected.tokens
    assert tokens.access_token and tokens.refresh_token and tokens.id_token
    assert tokens.subject == "alice"
    assert tokens.scopes == ("openid", "email", "read")
    assert tokens.token_type == "Bearer"
    assert before + 115 <= tokens.expires_at <= time.time() + 121
    assert provider.successful_grants("authorization_code") == 1
    introspection = provider.introspect(tokens.access_token.reveal())
    assert introspection["active"] is True and introspection["sub"] == "alice"
    # The real callback carried iss (RFC 9207); the same callback is refused for a
    # configuration that expects another issuer (a mix-up attack).
    assert connected.callback_params["iss"] == provider.issuer
    other = dataclasses.replace(connected.config, issuer="https://attacker.example")
    with pytest.raises(PermanentOAuthError) as caught:
        check_callback_issuer(other, connected.callback_params)
    assert caught.value.error == "issuer_mismatch"
    # A code is single use: replaying it is a permanent error that does not echo the code.
    with pytest.raises(PermanentOAuthError) as replay:
        await oauth.exchange_code(
            connected.config,
            code=connected.callback_params["code"],
            redirect_uri=catcher.url,
            code_verifier=connected.verifier,
        )
    assert replay.value.error == "invalid_grant"
    assert_no_secret(
        replay.value,
        connected.callback_params["code"],
        connected.verifier,
        provider.client.client_secret,
    )


@pytest.mark.browser
async def test_pkce_the_provider_verifies_our_s256_challenge(
    provider: OidcServer, oauth: OAuthClient, catcher: CallbackCatcher
) -> None:
    config = await oauth.resolve(provider.provider_config())
    verifier = new_verifier()
    url = oauth.authorization_url(
        config,
        redirect_uri=catcher.url,
        state="pkce-state",
        scopes=(),
        code_challenge=s256_challenge(verifier),
    )
    final = await asyncio.to_thread(drive_consent, url, stop_at=catcher.url, login="erin")
    code = check_callback(config, dict(parse_qsl(urlsplit(final).query)))

    # A stolen code is useless without the verifier (RFC 7636 §1).
    for wrong in (new_verifier(), None):
        with pytest.raises(PermanentOAuthError) as caught:
            await oauth.exchange_code(
                config, code=code, redirect_uri=catcher.url, code_verifier=wrong
            )
        assert caught.value.error == "invalid_grant"
    tokens = await oauth.exchange_code(
        config, code=code, redirect_uri=catcher.url, code_verifier=verifier
    )
    assert tokens.subject == "erin"
    assert provider.grants()["error"] == {"authorization_code": 2}


async def test_concurrent_resolves_fetch_the_discovery_document_once(
    provider: OidcServer,
) -> None:
    fetched: list[str] = []

    async def count(request: httpx.Request) -> None:
        fetched.append(str(request.url))

    async with httpx.AsyncClient(event_hooks={"request": [count]}) as http:
        oauth = OAuthClient(http)
        configs = await asyncio.gather(
            *(oauth.resolve(provider.provider_config()) for _ in range(20))
        )

    assert fetched == [provider.discovery_url]
    assert {c.token_url for c in configs} == {f"{provider.issuer}/token"}


@pytest.mark.browser
async def test_refresh_rotates_the_refresh_token_and_the_old_one_dies(
    provider: OidcServer, oauth: OAuthClient, catcher: CallbackCatcher
) -> None:
    provider.set_access_token_ttl(2)
    connected = await connect(oauth, provider, catcher)
    first = connected.tokens
    assert needs_refresh(connected.config, first.expires_at, time.time(), default_margin=300)

    provider.set_access_token_ttl(600)
    second = await oauth.refresh(connected.config, first.refresh_token)  # type: ignore[arg-type]

    assert second.access_token != first.access_token
    assert second.refresh_token is not None and second.refresh_token != first.refresh_token
    assert second.subject == "alice"
    assert not needs_refresh(connected.config, second.expires_at, time.time(), default_margin=300)
    assert provider.successful_grants("refresh_token") == 1
    assert provider.introspect(second.access_token.reveal())["active"] is True  # type: ignore[union-attr]

    # The rotated-out refresh token is refused for good.
    with pytest.raises(PermanentOAuthError) as caught:
        await oauth.refresh(connected.config, first.refresh_token)  # type: ignore[arg-type]
    assert caught.value.error == "invalid_grant"
    assert caught.value.status_code == 400
    assert_no_secret(
        caught.value,
        first.refresh_token.reveal(),  # type: ignore[union-attr]
        provider.client.client_secret,
    )


@pytest.mark.browser
async def test_revoke_makes_the_provider_report_the_token_inactive(
    provider: OidcServer, oauth: OAuthClient, catcher: CallbackCatcher
) -> None:
    connected = await connect(oauth, provider, catcher, login="bob")
    refresh_token = connected.tokens.refresh_token
    access_token = connected.tokens.access_token
    assert refresh_token is not None and access_token is not None
    assert provider.introspect(refresh_token.reveal())["active"] is True

    assert await oauth.revoke(connected.config, refresh_token, hint="refresh_token") is True

    assert provider.introspect(refresh_token.reveal()) == {"active": False}
    assert provider.is_active(refresh_token.reveal()) is False
    with pytest.raises(PermanentOAuthError) as caught:
        await oauth.refresh(connected.config, refresh_token)
    assert caught.value.error == "invalid_grant"


@pytest.mark.browser
async def test_consent_withdrawn_at_the_provider_is_a_permanent_error(
    provider: OidcServer, oauth: OAuthClient, catcher: CallbackCatcher
) -> None:
    connected = await connect(oauth, provider, catcher, login="carol")
    assert provider.revoke_account("carol") == 1

    with pytest.raises(PermanentOAuthError) as caught:
        await oauth.refresh(connected.config, connected.tokens.refresh_token)  # type: ignore[arg-type]

    assert caught.value.error == "invalid_grant"
    assert provider.grants()["error"] == {"refresh_token": 1}


@pytest.mark.browser
async def test_declined_consent_comes_back_as_access_denied(
    provider: OidcServer, oauth: OAuthClient, catcher: CallbackCatcher
) -> None:
    config = await oauth.resolve(provider.provider_config())
    url = oauth.authorization_url(
        config,
        redirect_uri=catcher.url,
        state="declined-state",
        scopes=("openid",),
        code_challenge=s256_challenge(new_verifier()),
    )

    final = await asyncio.to_thread(
        drive_consent, url, stop_at=catcher.url, login="dave", approve=False
    )

    params = dict(parse_qsl(urlsplit(final).query))
    assert params["state"] == "declined-state"
    assert "code" not in params
    with pytest.raises(PermanentOAuthError) as caught:
        check_callback(config, params)
    assert caught.value.error == "access_denied"
    assert provider.grants()["tokenRequests"] == 0


async def test_a_hanging_token_endpoint_is_a_prompt_transient_error(
    provider: OidcServer,
) -> None:
    provider.fault("hang", seconds=30)
    async with OAuthClient(timeout=1.0, network=LOOPBACK) as oauth:
        config = await oauth.resolve(provider.provider_config())
        started = time.monotonic()
        with pytest.raises(TransientOAuthError) as caught:
            await oauth.refresh(config, Secret("some-refresh-token"))
        elapsed = time.monotonic() - started

        assert caught.value.error == "timeout"
        assert elapsed < 3.0  # the 1 s deadline, not the provider's 30 s
        # Once the provider answers again, so does the engine.
        provider.heal()
        with pytest.raises(PermanentOAuthError) as recovered:
            await oauth.refresh(config, Secret("some-refresh-token"))
        assert recovered.value.error == "invalid_grant"


@pytest.mark.parametrize(
    ("status", "retry_after", "error"),
    [(503, None, "server_error"), (500, None, "server_error"), (429, 7, "rate_limited")],
)
async def test_5xx_and_429_are_transient(
    provider: OidcServer, oauth: OAuthClient, status: int, retry_after: int | None, error: str
) -> None:
    provider.fault("status", status=status, retry_after=retry_after, seconds=30)
    config = await oauth.resolve(provider.provider_config())

    with pytest.raises(TransientOAuthError) as caught:
        await oauth.refresh(config, Secret("some-refresh-token"))

    assert caught.value.error == error
    assert caught.value.status_code == status
    assert caught.value.retry_after == retry_after


async def test_an_oversize_response_is_transient(provider: OidcServer, oauth: OAuthClient) -> None:
    provider.fault("oversize", size=3 * 1024 * 1024, seconds=30)
    config = await oauth.resolve(provider.provider_config())

    with pytest.raises(TransientOAuthError) as caught:
        await oauth.exchange_code(
            config, code="any-code", redirect_uri="http://127.0.0.1/cb", code_verifier=None
        )

    assert caught.value.error == "response_too_large"


async def test_a_closed_port_is_a_transient_connection_error(oauth: OAuthClient) -> None:
    config = ProviderConfig(client_id="c", token_url=f"http://127.0.0.1:{free_port()}/token")
    with pytest.raises(TransientOAuthError) as caught:
        await oauth.refresh(config, Secret("some-refresh-token"))
    assert caught.value.error == "connection_error"


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
async def test_client_authentication_methods_reach_the_real_server(
    provider: OidcServer, oauth: OAuthClient, method: str
) -> None:
    client = provider.add_client(["http://127.0.0.1/cb"], token_endpoint_auth_method=method)
    right = provider.provider_config(client, token_endpoint_auth_method=method)
    # (oidc-provider accepts basic and post interchangeably; the request shapes are pinned
    # in test_quirks.py.) No secret at all, or a wrong one, is refused.
    public = provider.provider_config(client, client_secret=None)
    bad_secret = provider.provider_config(
        client, client_secret=Secret("not-the-secret"), token_endpoint_auth_method=method
    )

    # Authenticated: the (made-up) refresh token itself is what gets refused.
    with pytest.raises(PermanentOAuthError) as authenticated:
        await oauth.refresh(right, Secret("made-up-refresh-token"))
    assert authenticated.value.error == "invalid_grant"
    for config in (public, bad_secret):
        with pytest.raises(PermanentOAuthError) as refused:
            await oauth.refresh(config, Secret("made-up-refresh-token"))
        assert refused.value.error == "invalid_client"
        assert refused.value.status_code == 401
        assert_no_secret(refused.value, client.client_secret, "made-up-refresh-token")
