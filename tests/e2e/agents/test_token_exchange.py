"""RFC 8693 token exchange at ``POST /v1/outbound/oauth/token``: an agent trades the user's
access token (a JWT from the real authorization server, as in test_delegated_fetch.py) for the
user's provider token. Answers are checked against RFC 8693 §2.2.1's field list, errors
against §2.2.2 / RFC 6749 §5.2; a user without a connection is sent through the connect link
the error names, after which the same exchange succeeds."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from tests.e2e.agents.support import store_token, tampered, user_token
from tests.e2e.conftest import Vault, scripted_consent
from tests.support.browser import CallbackCatcher
from tests.support.oidc_server import OidcClient, OidcServer

from outbound.oauth.token_exchange import ACCESS_TOKEN_TYPE, ANSWER_FIELDS, GRANT_TYPE

TOKEN_PATH = "/v1/outbound/oauth/token"
ERROR_FIELDS = {"error", "error_description", "error_uri"}


def exchange(vault: Vault, subject_token: str, **form: str) -> httpx.Response:
    data = {
        "grant_type": GRANT_TYPE,
        "subject_token": subject_token,
        "subject_token_type": ACCESS_TOKEN_TYPE,
        "audience": vault.app_id,
        **form,
    }
    return httpx.post(vault.server.base_url + TOKEN_PATH, data=data, timeout=30)


def oauth_error(response: httpx.Response, error: str) -> dict[str, Any]:
    assert response.status_code == 400, response.text
    assert response.headers["cache-control"] == "no-store"
    body: dict[str, Any] = response.json()
    assert set(body) <= ERROR_FIELDS and body["error"] == error, body
    assert isinstance(body["error_description"], str)
    return body


@pytest.fixture(scope="module")
def user_jwt(
    vault: Vault, agents_idp: OidcServer, agent_client: OidcClient, catcher: CallbackCatcher
) -> tuple[str, str]:
    user = vault.new_user()
    token = user_token(agents_idp, agent_client, catcher, user, resource=vault.server.base_url)
    vault.seen.add(token)
    return user, token


def test_the_answer_is_rfc_8693s_with_the_users_provider_token(
    vault: Vault, user_jwt: tuple[str, str]
) -> None:
    user, token = user_jwt
    stored = store_token(vault, {"userId": user}, ["read", "write"])

    for form in ({"client_id": vault.server.project_id}, {}):  # the project from the issuer
        response = exchange(vault, token, **form)
        assert response.status_code == 200, response.text
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["pragma"] == "no-cache"
        body = response.json()
        assert set(body) <= set(ANSWER_FIELDS), body  # §2.2.1 and nothing else
        required = {"access_token", "issued_token_type", "token_type"}
        assert required <= set(body)
        assert body["access_token"] == stored
        assert body["issued_token_type"] == ACCESS_TOKEN_TYPE
        assert body["token_type"] == "Bearer"
        assert isinstance(body["expires_in"], int) and 3500 < body["expires_in"] <= 3600
        assert body["scope"] == "read write"

    scoped = exchange(vault, token, scope="read")
    assert scoped.status_code == 200 and scoped.json()["access_token"] == stored
    oauth_error(exchange(vault, token, scope="read admin"), "invalid_scope")


def test_bad_requests_get_rfc_6749_errors(vault: Vault, user_jwt: tuple[str, str]) -> None:
    _, token = user_jwt
    oauth_error(exchange(vault, token, grant_type="client_credentials"), "unsupported_grant_type")
    oauth_error(exchange(vault, ""), "invalid_request")
    oauth_error(exchange(vault, token, subject_token_type="urn:x"), "invalid_request")
    oauth_error(exchange(vault, token, requested_token_type="urn:x"), "invalid_request")
    oauth_error(exchange(vault, token, audience=""), "invalid_request")
    oauth_error(exchange(vault, token, audience="no-such-app"), "invalid_target")
    oauth_error(exchange(vault, tampered(token)), "invalid_grant")
    oauth_error(exchange(vault, "not-a-jwt"), "invalid_grant")
    as_json = httpx.post(
        vault.server.base_url + TOKEN_PATH,
        json={"grant_type": GRANT_TYPE, "subject_token": token},
        timeout=30,
    )
    oauth_error(as_json, "invalid_request")


def test_a_user_without_a_connection_is_sent_to_connect_then_the_exchange_works(
    vault: Vault,
    agents_idp: OidcServer,
    agent_client: OidcClient,
    catcher: CallbackCatcher,
    idp: OidcServer,
) -> None:
    user = vault.new_user()
    token = user_token(agents_idp, agent_client, catcher, user, resource=vault.server.base_url)
    vault.seen.add(token)

    refused = oauth_error(exchange(vault, token), "interaction_required")
    link = refused["error_uri"]
    assert link.startswith(vault.server.base_url), link
    vault.seen.add(httpx.URL(link).params["link"])
    final = scripted_consent(link, vault.catcher.url, user)
    assert dict(parse_qsl(urlsplit(final).query)) == {"status": "success"}

    response = exchange(vault, token)
    assert response.status_code == 200, response.text
    provider_token = response.json()["access_token"]
    vault.seen.add(provider_token)
    assert idp.introspect(provider_token)["sub"] == user  # the provider's token, for this user
    assert token not in vault.server.log()


def test_the_metadata_names_the_token_endpoint(vault: Vault) -> None:
    response = httpx.get(
        vault.server.base_url + "/.well-known/oauth-authorization-server", timeout=10
    )
    assert response.status_code == 200, response.text
    metadata = response.json()
    assert metadata["token_endpoint"] == metadata["issuer"] + TOKEN_PATH
    assert metadata["grant_types_supported"] == [GRANT_TYPE]
