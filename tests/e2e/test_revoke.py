"""Deleting tokens revokes them at the provider (RFC 7009), and deletes them regardless."""

from __future__ import annotations

import socket
import time

from tests.e2e.conftest import PROVIDER_TIMEOUT, Vault, create_app
from tests.support.oidc_server import OidcServer


def test_deleting_a_token_revokes_it_at_the_provider(vault: Vault, idp: OidcServer) -> None:
    user = vault.new_user()
    assert vault.connect_quickly(user)["status"] == "success"
    token = vault.token(user, withRefreshToken=True)
    assert idp.introspect(token["refreshToken"])["active"] is True

    with vault.http as http:
        response = http.delete("/v1/mgmt/outbound/token", params={"id": token["id"]})

    assert response.status_code == 200
    assert idp.introspect(token["refreshToken"]) == {"active": False}
    assert idp.introspect(token["accessToken"]) == {"active": False}
    assert vault.fetch(user).status_code == 404


def test_deleting_a_users_tokens_revokes_them(vault: Vault, idp: OidcServer) -> None:
    user, neighbour = vault.new_user(), vault.new_user()
    for someone in (user, neighbour):
        assert vault.connect_quickly(someone)["status"] == "success"
    token = vault.token(user, withRefreshToken=True)
    kept = vault.token(neighbour, withRefreshToken=True)

    with vault.http as http:
        response = http.delete("/v1/mgmt/outbound/user/tokens", params={"userId": user})

    assert response.status_code == 200
    assert idp.introspect(token["refreshToken"]) == {"active": False}
    assert idp.introspect(token["accessToken"]) == {"active": False}
    assert idp.introspect(kept["accessToken"])["active"] is True
    assert vault.fetch(neighbour).status_code == 200


def test_deleting_an_app_revokes_its_tokens(vault: Vault, idp: OidcServer) -> None:
    _, app_id = create_app(vault.server, idp, vault.catcher)
    doomed = Vault(vault.server, idp, vault.oauth_client, vault.catcher, app_id)
    user = doomed.new_user()
    assert doomed.connect_quickly(user)["status"] == "success"
    token = doomed.token(user, withRefreshToken=True)

    with vault.http as http:
        response = http.post("/v1/mgmt/outbound/app/delete", json={"id": app_id})

    assert response.status_code == 200
    assert idp.introspect(token["refreshToken"]) == {"active": False}
    assert idp.introspect(token["accessToken"]) == {"active": False}


def test_an_unresponsive_revocation_endpoint_does_not_keep_a_token_from_being_deleted(
    vault: Vault, idp: OidcServer
) -> None:
    # A revocation endpoint that accepts connections and never answers.
    with socket.socket() as black_hole:
        black_hole.bind(("127.0.0.1", 0))
        black_hole.listen(16)
        revocation_url = f"http://127.0.0.1:{black_hole.getsockname()[1]}/revoke"
        _, app_id = create_app(vault.server, idp, vault.catcher, revocationUrl=revocation_url)
        hung = Vault(vault.server, idp, vault.oauth_client, vault.catcher, app_id)
        user = hung.new_user()
        assert hung.connect_quickly(user)["status"] == "success"
        token = hung.token(user, withRefreshToken=True)

        started = time.monotonic()
        with hung.http as http:
            response = http.delete("/v1/mgmt/outbound/token", params={"id": token["id"]})
        elapsed = time.monotonic() - started

    assert response.status_code == 200
    assert elapsed < 2 * PROVIDER_TIMEOUT + 2
    assert hung.fetch(user).status_code == 404
    # The provider was never told: the token is still alive there (best effort, as promised).
    assert idp.introspect(token["refreshToken"])["active"] is True
