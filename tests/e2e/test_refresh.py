"""Refresh on fetch against the real provider: expiry, rotation, force, revoked consent,
an unresponsive provider, and verifyRefresh on upload."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from tests.e2e.conftest import PROVIDER_TIMEOUT, Vault, create_app
from tests.support.database import execute
from tests.support.oidc_server import OidcServer


@pytest.fixture
def connected(vault: Vault, idp: OidcServer) -> Iterator[tuple[str, dict[str, Any]]]:
    """A freshly connected user and their token; the provider's counters start at zero."""
    user = vault.new_user()
    assert vault.connect_quickly(user)["status"] == "success"
    token = vault.token(user, withRefreshToken=True)
    idp.reset()
    yield user, token
    idp.reset()


def test_a_valid_token_is_served_without_asking_the_provider(
    vault: Vault, idp: OidcServer, connected: tuple[str, dict[str, Any]]
) -> None:
    user, token = connected
    for _ in range(3):
        assert vault.token(user)["accessToken"] == token["accessToken"]
    assert idp.grants()["tokenRequests"] == 0


def test_expiry_causes_exactly_one_refresh_with_rotation(
    vault: Vault, idp: OidcServer, connected: tuple[str, dict[str, Any]]
) -> None:
    user, before = connected
    vault.expire(user)

    after = vault.token(user, withRefreshToken=True)
    again = vault.token(user, withRefreshToken=True)

    assert idp.grants() == {"tokenRequests": 1, "success": {"refresh_token": 1}, "error": {}}
    assert after["accessToken"] != before["accessToken"]
    assert again["accessToken"] == after["accessToken"]
    assert int(after["accessTokenExpiry"]) > time.time() + 600
    assert idp.introspect(after["accessToken"])["active"] is True
    # The provider rotated the refresh token: the vault holds the new one, the old one is dead.
    assert after["refreshToken"] != before["refreshToken"]
    assert idp.is_active(after["refreshToken"])
    assert not idp.is_active(before["refreshToken"])
    assert after["scopes"] == before["scopes"]
    assert after["lastRefreshError"] == ""


def test_a_short_lived_token_is_refreshed_as_it_ages(vault: Vault, idp: OidcServer) -> None:
    """No clock tricks: the provider issues 6-second tokens; the vault refreshes one when
    less than half its life is left (its margin, capped by the token's lifetime)."""
    user = vault.new_user()
    idp.set_access_token_ttl(6)
    try:
        assert vault.connect_quickly(user)["status"] == "success"
    finally:
        idp.set_access_token_ttl(3600)
    first = vault.token(user)
    assert int(first["accessTokenExpiry"]) - int(first["lastRefreshTime"]) <= 6
    idp.reset()
    assert vault.token(user)["accessToken"] == first["accessToken"]  # still young

    time.sleep(max(0.0, int(first["accessTokenExpiry"]) - 3 - time.time()) + 0.5)
    second = vault.token(user)

    assert second["accessToken"] != first["accessToken"]
    assert idp.successful_grants("refresh_token") == 1
    assert idp.introspect(second["accessToken"])["active"] is True


def test_force_refresh_refreshes_a_valid_token(
    vault: Vault, idp: OidcServer, connected: tuple[str, dict[str, Any]]
) -> None:
    user, before = connected

    forced = vault.token(user, forceRefresh=True, withRefreshToken=True)

    assert forced["accessToken"] != before["accessToken"]
    assert idp.successful_grants("refresh_token") == 1
    assert vault.token(user)["accessToken"] == forced["accessToken"]
    assert idp.grants()["tokenRequests"] == 1


def test_consent_revoked_at_the_provider_needs_reconnection(
    vault: Vault, idp: OidcServer, connected: tuple[str, dict[str, Any]]
) -> None:
    user, _ = connected
    assert idp.revoke_account(user) == 1
    vault.expire(user)

    refused = vault.fetch(user)

    assert refused.status_code == 409
    assert refused.json()["errorCode"] == "E131010"
    assert "invalid_grant" in refused.json()["errorMessage"]
    assert idp.grants()["error"] == {"refresh_token": 1}
    # From now on it is answered without asking the provider again ...
    assert vault.fetch(user).json()["errorCode"] == "E131010"
    assert idp.grants()["tokenRequests"] == 1
    # ... and the app no longer counts as connected for this user.
    with vault.http as http:
        listed = http.get("/v1/mgmt/outbound/apps-with-user-token", params={"userId": user})
    assert vault.app_id not in listed.json()["appIds"]

    # Connecting again brings the connection back.
    assert vault.connect_quickly(user)["status"] == "success"
    token = vault.token(user)
    assert token["lastRefreshError"] == ""
    assert idp.introspect(token["accessToken"])["active"] is True


def test_an_unresponsive_provider_is_a_prompt_retryable_error_and_loses_nothing(
    vault: Vault, idp: OidcServer, connected: tuple[str, dict[str, Any]]
) -> None:
    user, before = connected
    vault.expire(user)
    version = vault.row_version(user)
    idp.fault("hang", seconds=60)

    started = time.monotonic()
    response = vault.fetch(user)
    elapsed = time.monotonic() - started

    assert response.status_code == 502
    assert response.json()["errorCode"] == "E131011"
    assert int(response.headers["retry-after"]) >= 1
    assert elapsed < PROVIDER_TIMEOUT + 2
    # Nothing stored changed, and the refresh token still works at the provider.
    assert vault.row_version(user) == version
    assert idp.is_active(before["refreshToken"])

    # A token that is still alive (only inside the refresh margin) is served meanwhile.
    vault.expire(user, seconds_left=120)
    started = time.monotonic()
    assert vault.token(user)["accessToken"] == before["accessToken"]
    assert time.monotonic() - started < PROVIDER_TIMEOUT + 2
    # The first refresh still waits for its answer (it would keep a late one): no second
    # request goes out with the refresh token it may be rotating.
    assert idp.grants()["tokenRequests"] == 1

    idp.heal()  # the held request is answered 503: the first refresh ends, its lease freed
    deadline = time.monotonic() + 10
    while execute(
        vault.server.store,
        "SELECT refresh_claim_owner FROM tokens WHERE app_id = ? AND user_id = ?",
        (vault.app_id, user),
    )[0][0]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    vault.expire(user)
    recovered = vault.token(user, withRefreshToken=True)
    assert recovered["accessToken"] != before["accessToken"]
    assert idp.introspect(recovered["accessToken"])["active"] is True
    assert idp.is_active(recovered["refreshToken"])


def test_a_token_of_unknown_lifetime_counts_as_an_hour_old_at_most_when_the_provider_fails(
    vault: Vault, idp: OidcServer, connected: tuple[str, dict[str, Any]]
) -> None:
    """A provider that never said when its token expires: the token is taken to live an hour
    from when it was obtained (fetch.ASSUMED_LIFETIME) — served while the provider is down
    within that hour, an E131011 after it, never a token that may be dead."""
    user, before = connected

    def obtained(seconds_ago: int) -> None:
        execute(
            vault.server.store,
            "UPDATE tokens SET access_token_expiry = 0, last_refresh_time = ?"
            " WHERE app_id = ? AND user_id = ?",
            (int(time.time()) - seconds_ago, vault.app_id, user),
        )

    idp.fault("status", seconds=60, status=502)
    obtained(3600 - 120)  # inside the refresh margin, alive: refreshing fails, it is served
    assert vault.token(user)["accessToken"] == before["accessToken"]
    obtained(3600 + 120)  # past its assumed lifetime: not served
    response = vault.fetch(user)
    assert response.status_code == 502
    assert response.json()["errorCode"] == "E131011"
    idp.heal()


@pytest.mark.parametrize(
    ("fault", "retry_after"),
    [
        ({"mode": "status", "status": 502}, None),
        ({"mode": "status", "status": 429, "retry_after": 7}, 7),
        ({"mode": "oversize", "size": 2 * 1024 * 1024}, None),
    ],
    ids=["502-page", "429-retry-after", "oversize-answer"],
)
def test_provider_failures_are_transient(
    vault: Vault,
    idp: OidcServer,
    connected: tuple[str, dict[str, Any]],
    fault: dict[str, Any],
    retry_after: int | None,
) -> None:
    user, before = connected
    vault.expire(user)
    version = vault.row_version(user)
    mode, settings = fault["mode"], {k: v for k, v in fault.items() if k != "mode"}
    idp.fault(mode, seconds=60, **settings)

    response = vault.fetch(user)

    assert response.status_code == 502
    assert response.json()["errorCode"] == "E131011"
    if retry_after is not None:
        assert response.headers["retry-after"] == str(retry_after)
    assert vault.row_version(user) == version
    idp.heal()
    assert vault.token(user)["accessToken"] != before["accessToken"]


def _upload(vault: Vault, user: str, **fields: Any) -> httpx.Response:
    with vault.http as http:
        return http.post(
            "/v1/mgmt/outbound/app/user/oauthtoken/upload",
            json={"appId": vault.app_id, "userId": user, **fields},
        )


def test_verify_refresh_stores_the_refreshed_token(
    vault: Vault, idp: OidcServer, connected: tuple[str, dict[str, Any]]
) -> None:
    _user, token = connected
    other = vault.new_user()

    response = _upload(
        vault, other, refreshToken=token["refreshToken"], accessToken="stale", verifyRefresh=True
    )

    assert response.status_code == 200, response.text
    assert idp.successful_grants("refresh_token") == 1
    stored = vault.token(other, withRefreshToken=True)
    assert stored["accessToken"] != "stale"
    assert idp.introspect(stored["accessToken"])["active"] is True
    assert stored["refreshToken"] != token["refreshToken"]  # rotated, and kept
    assert idp.is_active(stored["refreshToken"])


def test_verify_refresh_stores_nothing_when_the_provider_refuses(
    vault: Vault, idp: OidcServer
) -> None:
    user = vault.new_user()

    refused = _upload(vault, user, refreshToken="not-a-real-refresh-token", verifyRefresh=True)

    assert refused.status_code == 400
    assert refused.json()["errorCode"] == "E131015"
    assert "not-a-real-refresh-token" not in refused.text
    assert vault.fetch(user).status_code == 404


def test_verify_refresh_stores_nothing_when_the_provider_is_down(
    vault: Vault, idp: OidcServer, connected: tuple[str, dict[str, Any]]
) -> None:
    _user, token = connected
    other = vault.new_user()
    idp.fault("status", status=503, seconds=60)

    response = _upload(vault, other, refreshToken=token["refreshToken"], verifyRefresh=True)

    assert response.status_code == 502
    assert response.json()["errorCode"] == "E131011"
    assert vault.fetch(other).status_code == 404


def test_an_apps_refresh_margin_replaces_the_servers(vault: Vault, idp: OidcServer) -> None:
    _, app_id = create_app(vault.server, idp, vault.catcher, refreshMargin=60)
    patient = Vault(vault.server, idp, vault.oauth_client, vault.catcher, app_id)
    user = patient.new_user()
    assert patient.connect_quickly(user)["status"] == "success"
    before = patient.token(user)
    idp.reset()

    # Two minutes left: inside the server's 5-minute margin, outside the app's minute.
    patient.expire(user, seconds_left=120)
    assert patient.token(user)["accessToken"] == before["accessToken"]
    assert idp.grants()["tokenRequests"] == 0

    patient.expire(user, seconds_left=30)
    assert patient.token(user)["accessToken"] != before["accessToken"]
    assert idp.successful_grants("refresh_token") == 1
