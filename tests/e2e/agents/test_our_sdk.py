"""Our SDK as an agent holds it: a client with the project id and no management key, fetching
a user's token with the user's own access token (``outbound_application_by_token``) and
trading it over RFC 8693 (``token_exchange``), sync and async, against the live server."""

from __future__ import annotations

import asyncio

import pytest
from tests.e2e.agents.support import FETCH_SCOPE, store_token
from tests.e2e.conftest import Vault
from tests.support.jwt_issuer import OwnIssuer

from outbound.client import (
    AsyncClient,
    Client,
    ConfigurationError,
    TokenExchangeError,
    UnauthorizedError,
)


def test_an_agent_without_a_key_fetches_its_users_token_sync_and_async(
    vault: Vault, extra_issuer: OwnIssuer
) -> None:
    user = vault.new_user()
    stored = store_token(vault, {"userId": user}, ["read"])
    token = extra_issuer.token(user, aud="vault", scope=FETCH_SCOPE)
    server = vault.server

    with Client(server.project_id, base_url=server.base_url) as client:
        by_token = client.mgmt.outbound_application_by_token
        fetched = by_token.fetch_token(token, vault.app_id, user)["token"]
        assert fetched["accessToken"] == stored and "refreshToken" not in fetched
        scoped = by_token.fetch_token_by_scopes(token, vault.app_id, user, ["read"])
        assert scoped["token"]["accessToken"] == stored
        exchanged = by_token.token_exchange(token, vault.app_id, ["read"])
        assert exchanged["access_token"] == stored and exchanged["scope"] == "read"
        assert stored not in repr(exchanged)  # answers mask their secrets

        with pytest.raises(UnauthorizedError):
            by_token.fetch_token(token + "x", vault.app_id, user)
        with pytest.raises(TokenExchangeError) as refused:
            by_token.token_exchange(token, "no-such-app")
        assert refused.value.error == "invalid_target" and refused.value.status == 400
        with pytest.raises(ConfigurationError, match="management_key"):
            client.mgmt.outbound_application.load_all_applications()  # no key: nothing sent

    async def agent() -> tuple[str, str]:
        async with AsyncClient(server.project_id, base_url=server.base_url) as client:
            by_token = client.mgmt.outbound_application_by_token
            fetched = await by_token.fetch_token(token, vault.app_id, user)
            exchanged = await by_token.token_exchange(token, vault.app_id)
            return fetched["token"]["accessToken"], exchanged["access_token"]

    assert asyncio.run(agent()) == (stored, stored)
