"""Fixtures of the agents tests: the authorization server agents' users sign in with, the
agent registered there, issuers the tests run themselves, and the project trusting them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.e2e.agents.support import FETCH_SCOPE, OTHER_RESOURCE, trust_both
from tests.e2e.conftest import Vault
from tests.support.browser import CallbackCatcher
from tests.support.jwt_issuer import OwnIssuer, own_issuer
from tests.support.oidc_server import OidcClient, OidcServer


@pytest.fixture(scope="package")
def agents_idp(vault: Vault) -> Iterator[OidcServer]:
    """The project's identity provider for agents: JWT access tokens for the vault (its URL is
    the resource), and for another API."""
    resources = [
        {"resource": vault.server.base_url, "scope": f"{FETCH_SCOPE} profile.read"},
        {"resource": OTHER_RESOURCE, "scope": FETCH_SCOPE},
    ]
    with OidcServer(resources=resources) as idp:
        yield idp


@pytest.fixture(scope="package")
def agent_client(agents_idp: OidcServer, catcher: CallbackCatcher) -> OidcClient:
    """The agent: an inbound app of the project's identity provider."""
    return agents_idp.add_client([catcher.url])


@pytest.fixture(scope="package")
def extra_issuer() -> Iterator[OwnIssuer]:
    with own_issuer() as issuer:
        yield issuer


@pytest.fixture(scope="package")
def stranger() -> Iterator[OwnIssuer]:
    """An issuer no project trusts."""
    with own_issuer() as issuer:
        yield issuer


@pytest.fixture(autouse=True, scope="module")
def _issuers(vault: Vault, agents_idp: OidcServer, extra_issuer: OwnIssuer) -> None:
    # Other modules share the vault and set its issuers: trust ours before each module (a test
    # that changes them puts them back).
    trust_both(vault, agents_idp, extra_issuer)


@pytest.fixture
def issuers_restored(
    vault: Vault, agents_idp: OidcServer, extra_issuer: OwnIssuer
) -> Iterator[None]:
    """For a test that changes the project's issuers."""
    yield
    trust_both(vault, agents_idp, extra_issuer)
