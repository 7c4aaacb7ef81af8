"""Fixtures for the engine's tests: one real oidc-provider per session, a callback catcher,
and a connected grant (a real browser through login and consent) per test that needs one."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

import pytest

from outbound.net.guard import NetworkPolicy
from outbound.oauth import OAuthClient, ProviderConfig, TokenSet, check_callback
from outbound.oauth.pkce import new_verifier, s256_challenge
from tests.support.browser import CallbackCatcher, drive_consent
from tests.support.oidc_server import OidcServer
from tests.support.server import LOOPBACK_NETWORKS

# The test provider is on loopback, which the engine refuses unless allowed.
LOOPBACK = NetworkPolicy.parse(LOOPBACK_NETWORKS)


@pytest.fixture(scope="session")
def catcher() -> Iterator[CallbackCatcher]:
    with CallbackCatcher() as catcher:
        yield catcher


@pytest.fixture(scope="session")
def idp(catcher: CallbackCatcher) -> Iterator[OidcServer]:
    with OidcServer(redirect_uris=[catcher.url]) as server:
        yield server


@pytest.fixture
def provider(idp: OidcServer) -> Iterator[OidcServer]:
    """The session's provider, healthy and with zeroed counters for this test."""
    idp.reset()
    idp.set_access_token_ttl(3600)
    yield idp
    idp.reset()


@pytest.fixture
async def oauth() -> AsyncIterator[OAuthClient]:
    async with OAuthClient(timeout=5.0, network=LOOPBACK) as client:
        yield client


@dataclass
class Connected:
    config: ProviderConfig
    tokens: TokenSet
    callback_params: dict[str, str]
    verifier: str


async def connect(
    oauth: OAuthClient,
    idp: OidcServer,
    catcher: CallbackCatcher,
    *,
    login: str = "alice",
    scopes: tuple[str, ...] = (),
) -> Connected:
    """The whole authorization-code flow, with a real browser approving consent."""
    config = await oauth.resolve(idp.provider_config())
    verifier = new_verifier()
    state = new_verifier()
    url = oauth.authorization_url(
        config,
        redirect_uri=catcher.url,
        state=state,
        scopes=scopes,
        code_challenge=s256_challenge(verifier),
    )
    final = await asyncio.to_thread(drive_consent, url, stop_at=catcher.url, login=login)
    params = dict(parse_qsl(urlsplit(final).query))
    assert params["state"] == state
    code = check_callback(config, params)
    tokens = await oauth.exchange_code(
        config,
        code=code,
        redirect_uri=catcher.url,
        code_verifier=verifier,
        callback_params=params,
    )
    return Connected(config, tokens, params, verifier)
