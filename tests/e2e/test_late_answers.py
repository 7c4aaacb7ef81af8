"""A refresh answer is never lost: against the real oidc-provider, which rotates refresh tokens
and revokes the whole grant when a used one comes back (reuse detection).

- The provider is frozen (SIGSTOP) after it received a refresh request and resumed 15 s later:
  the caller got E131011 in time, and the late answer was kept — the next fetch, on this
  server or another, serves the rotated token, and nobody sent the used refresh token again.
- A proxy loses the provider's answer: the vault retries once at once with the same refresh
  token; a provider with a reuse grace answers it, one without says "reused", which the vault
  reports as such rather than as revoked consent.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from tests.e2e.conftest import PROVIDER_TIMEOUT, SERVER_ARGS, Vault, create_app
from tests.support.database import execute
from tests.support.lossy_proxy import LossyProxy
from tests.support.oidc_server import OidcServer
from tests.support.server import running_server, start_server, stop_server

# Longer than a lease lasts with the tests' provider timeout (2 x 2 + 5 s, see refresh.py):
# a lease that was not renewed would have run out, and another server taken it over.
STOPPED_SECONDS = 15
LEASE_SECONDS = 2 * PROVIDER_TIMEOUT + 5


@pytest.fixture
def connected(vault: Vault, idp: OidcServer) -> Iterator[tuple[str, dict[str, Any]]]:
    user = vault.new_user()
    assert vault.connect_quickly(user)["status"] == "success"
    token = vault.token(user, withRefreshToken=True)
    idp.reset()
    yield user, token
    idp.reset()


@pytest.fixture(scope="module")
def other_server(vault: Vault) -> Iterator[Vault]:
    """A second server on the same database and project, as behind a load balancer."""
    project = (vault.server.project_id, vault.server.management_key)
    with running_server(vault.server.store, project=project, extra_args=SERVER_ARGS) as server:
        other = Vault(server, vault.idp, vault.oauth_client, vault.catcher, vault.app_id)
        yield other
        assert not [s for s in vault.seen | other.seen if s in server.log()]


def _wait_for(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def _freeze_cycle(first: Vault, then: Vault, user: str) -> None:
    """One refresh whose answer comes STOPPED_SECONDS late; asserts what a user would see."""
    idp = first.idp
    before = first.token(user, withRefreshToken=True)
    version = first.row_version(user)
    first.expire(user)
    idp.reset()
    # Requests reaching the token endpoint in the next seconds are held, then answered: the
    # provider is frozen (its timers too) while it holds ours.
    idp.fault("delay", seconds=5)
    outcome: dict[str, Any] = {}

    def fetch() -> None:
        started = time.monotonic()
        outcome["response"] = first.fetch(user)
        outcome["elapsed"] = time.monotonic() - started

    caller = threading.Thread(target=fetch)
    caller.start()
    _wait_for(lambda: idp.grants()["tokenRequests"] >= 1, 5, "the refresh request")
    os.kill(idp.pid, signal.SIGSTOP)
    stopped = time.monotonic()
    try:
        caller.join(PROVIDER_TIMEOUT + 10)
        response = outcome["response"]
        assert response.status_code == 502, response.text
        assert response.json()["errorCode"] == "E131011"
        assert outcome["elapsed"] < PROVIDER_TIMEOUT + 2
        # Past the time a lease lasts unrenewed, the next server still keeps off it.
        time.sleep(max(0.0, stopped + LEASE_SECONDS + 1 - time.monotonic()))
        started = time.monotonic()
        meanwhile = then.fetch(user)
        assert meanwhile.status_code == 502, meanwhile.text
        assert meanwhile.json()["errorCode"] == "E131011"
        assert time.monotonic() - started < PROVIDER_TIMEOUT + 2
        time.sleep(max(0.0, stopped + STOPPED_SECONDS - time.monotonic()))
    finally:
        os.kill(idp.pid, signal.SIGCONT)

    # The late answer is stored once it arrives ...
    _wait_for(lambda: first.row_version(user) != version, 10, "the late answer to be stored")
    after = then.token(user, withRefreshToken=True)
    assert after["accessToken"] != before["accessToken"]
    assert after["refreshToken"] != before["refreshToken"]
    assert after["lastRefreshError"] == ""
    # ... and it is the provider's one answer: one grant, no reuse, nothing revoked.
    assert idp.grants() == {"tokenRequests": 1, "success": {"refresh_token": 1}, "error": {}}
    assert idp.introspect(after["accessToken"])["active"] is True
    assert idp.is_active(after["refreshToken"])


def _cycles(first: Vault, then: Vault, count: int) -> None:
    user = first.new_user()
    assert first.connect_quickly(user)["status"] == "success"
    for _ in range(count):
        _freeze_cycle(first, then, user)
    # No reconnect was ever needed: the original connection is still the one in use.
    with first.http as http:
        listed = http.get("/v1/mgmt/outbound/apps-with-user-token", params={"userId": user})
    assert first.app_id in listed.json()["appIds"]


def test_late_answers_are_kept(vault: Vault, idp: OidcServer) -> None:
    try:
        _cycles(vault, vault, 3)
    finally:
        idp.reset()


def test_late_answers_are_kept_across_servers(
    vault: Vault, other_server: Vault, idp: OidcServer
) -> None:
    try:
        _cycles(vault, other_server, 3)
    finally:
        idp.reset()


@pytest.mark.slow
def test_twenty_late_answers_in_a_row(
    vault: Vault, other_server: Vault, idp: OidcServer, backend: str
) -> None:
    """The issue's 20 cycles, each refresh started on one server and the next fetch on the
    other (about 5 minutes). On SQLite only, to keep the suite's time: PostgreSQL runs the
    same cycle three times on one server and on two (the tests above)."""
    if backend != "sqlite":
        pytest.skip("20 cycles run on SQLite; PostgreSQL runs the 3-cycle tests")
    try:
        _cycles(vault, other_server, 20)
    finally:
        idp.reset()


def _next_fetch_after_recovery(first: Vault, then: Vault) -> None:
    """The provider holds a refresh past the provider timeout, then answers it: the caller was
    told E131011, and the very next fetch (sent before the answer arrives) joins the refresh
    still in flight and returns the late answer's token — not another E131011."""
    idp = first.idp
    user = first.new_user()
    assert first.connect_quickly(user)["status"] == "success"
    before = first.token(user, withRefreshToken=True)
    first.expire(user)
    idp.reset()
    # Held until 1.5 s after the first caller's provider timeout ran out, then answered: past
    # the owner's next lease renewal, which another server used to take as "answer E131011".
    idp.fault("delay", seconds=PROVIDER_TIMEOUT + 1.5)
    try:
        told = first.fetch(user)
        assert told.status_code == 502, told.text
        assert told.json()["errorCode"] == "E131011"

        started = time.monotonic()
        joined = then.fetch(user, withRefreshToken=True)
        waited = time.monotonic() - started

        assert joined.status_code == 200, joined.text
        token = joined.json()["token"]
        then.seen.update((token["accessToken"], token["refreshToken"]))
        assert token["accessToken"] != before["accessToken"]
        assert token["refreshToken"] != before["refreshToken"]
        assert waited < PROVIDER_TIMEOUT + 1
        # The one refresh the provider answered is the one both fetches got.
        assert idp.grants() == {"tokenRequests": 1, "success": {"refresh_token": 1}, "error": {}}
        assert idp.introspect(token["accessToken"])["active"] is True
    finally:
        idp.reset()


def test_the_next_fetch_joins_a_late_refresh(vault: Vault, idp: OidcServer) -> None:
    _next_fetch_after_recovery(vault, vault)


def test_the_next_fetch_joins_another_servers_late_refresh(
    vault: Vault, other_server: Vault, idp: OidcServer
) -> None:
    _next_fetch_after_recovery(vault, other_server)


# -- lost answers -----------------------------------------------------------------------------


@pytest.fixture
def lossy(vault: Vault, idp: OidcServer) -> Iterator[tuple[Vault, LossyProxy, str, str]]:
    """An app whose token endpoint is reached through a proxy that can lose answers, and a
    connected user's token uploaded to it."""
    with LossyProxy(idp.issuer) as proxy:
        _, app_id = create_app(
            vault.server,
            idp,
            vault.catcher,
            discoveryUrl="",
            authorizationUrl=f"{idp.issuer}/auth",
            tokenUrl=f"{proxy.url}/token",
            tokenEndpointAuthMethod="client_secret_basic",
            # the client the uploaded refresh token was issued to
            clientId=vault.oauth_client.client_id,
            clientSecret=vault.oauth_client.client_secret,
        )
        proxied = Vault(vault.server, idp, vault.oauth_client, vault.catcher, app_id)
        user = vault.new_user()
        assert vault.connect_quickly(user)["status"] == "success"
        token = vault.token(user, withRefreshToken=True)
        with vault.http as http:
            uploaded = http.post(
                "/v1/mgmt/outbound/app/user/oauthtoken/upload",
                json={
                    "appId": app_id,
                    "userId": user,
                    "accessToken": token["accessToken"],
                    "refreshToken": token["refreshToken"],
                    "accessTokenExpiry": int(time.time()) - 1,
                },
            )
        assert uploaded.status_code == 200, uploaded.text
        proxied.seen |= vault.seen
        idp.reset()
        yield proxied, proxy, user, token["refreshToken"]
        idp.reset()
        vault.seen |= proxied.seen


def test_a_lost_answer_is_retried_within_the_providers_grace(
    lossy: tuple[Vault, LossyProxy, str, str], idp: OidcServer
) -> None:
    proxied, proxy, user, before = lossy
    idp.set_refresh_reuse_grace(30)
    proxy.drop_next(1)

    refreshed = proxied.token(user, withRefreshToken=True)

    # One immediate retry with the same refresh token, answered thanks to the grace.
    assert proxy.forwarded == 2 and proxy.dropped == 1
    assert idp.grants() == {"tokenRequests": 2, "success": {"refresh_token": 2}, "error": {}}
    assert refreshed["refreshToken"] != before
    assert refreshed["lastRefreshError"] == ""
    assert idp.introspect(refreshed["accessToken"])["active"] is True
    # The token stays usable: the next refresh, with the stored refresh token, works.
    idp.set_refresh_reuse_grace(0)
    proxied.expire(user)
    again = proxied.token(user, withRefreshToken=True)
    assert again["accessToken"] != refreshed["accessToken"]
    assert idp.is_active(again["refreshToken"])
    assert proxy.forwarded == 3


def test_a_lost_answer_without_grace_is_reported_as_reuse(
    lossy: tuple[Vault, LossyProxy, str, str], idp: OidcServer
) -> None:
    proxied, proxy, user, _ = lossy
    proxy.drop_next(1)

    refused = proxied.fetch(user)

    assert refused.status_code == 409, refused.text
    assert refused.json()["errorCode"] == "E131010"
    assert "refresh token reused after a lost answer" in refused.json()["errorMessage"]
    assert proxy.forwarded == 2 and proxy.dropped == 1
    # The provider rotated on the first request and revoked the grant on the retry.
    assert idp.grants() == {
        "tokenRequests": 2,
        "success": {"refresh_token": 1},
        "error": {"refresh_token": 1},
    }
    assert "refresh token reused after a lost answer" in proxied.server.log()
    # A consent revoked by its user reads differently (tests/e2e/test_refresh.py).
    assert proxied.fetch(user).json()["errorCode"] == "E131010"
    assert proxy.forwarded == 2


def test_a_graceful_shutdown_waits_for_a_late_answer(vault: Vault, idp: OidcServer) -> None:
    user = vault.new_user()
    assert vault.connect_quickly(user)["status"] == "success"
    before = vault.token(user)
    project = (vault.server.project_id, vault.server.management_key)
    server = start_server(vault.server.store, project=project, extra_args=SERVER_ARGS)
    leaving = Vault(server, idp, vault.oauth_client, vault.catcher, vault.app_id)
    try:
        version = leaving.row_version(user)
        leaving.expire(user)
        idp.reset()
        idp.fault("delay", seconds=PROVIDER_TIMEOUT + 3)  # answered 3 s after the caller left
        assert leaving.fetch(user).json()["errorCode"] == "E131011"

        server.process.send_signal(signal.SIGTERM)
        server.process.wait(timeout=20)

        assert leaving.row_version(user) != version
        assert idp.grants()["success"] == {"refresh_token": 1}
    finally:
        stop_server(server)
        idp.reset()
    after = vault.token(user)
    assert after["accessToken"] != before["accessToken"]
    assert idp.introspect(after["accessToken"])["active"] is True


def test_an_answer_later_than_the_commit_timeout_is_the_documented_window(
    vault: Vault, idp: OidcServer
) -> None:
    """Past --refresh-commit-timeout the answer is lost (docs/operations.md): the row says so,
    and the provider's refusal of the next refresh is reported as reuse, not revoked consent."""
    user = vault.new_user()
    assert vault.connect_quickly(user)["status"] == "success"
    project = (vault.server.project_id, vault.server.management_key)
    args = [*SERVER_ARGS, "--refresh-commit-timeout", "3"]
    with running_server(vault.server.store, project=project, extra_args=args) as server:
        impatient = Vault(server, idp, vault.oauth_client, vault.catcher, vault.app_id)
        impatient.expire(user)
        idp.reset()
        try:
            idp.fault("delay", seconds=6)  # answered (and rotated) after the vault gave up
            assert impatient.fetch(user).json()["errorCode"] == "E131011"
            _wait_for(lambda: idp.successful_grants("refresh_token") == 1, 10, "the rotation")
            (note,) = execute(
                server.store,
                "SELECT last_refresh_error FROM tokens WHERE app_id = ? AND user_id = ?",
                (vault.app_id, user),
            )[0]
            assert note.startswith("the provider's answer to a refresh was lost")

            refused = impatient.fetch(user)
        finally:
            idp.reset()
        assert refused.json()["errorCode"] == "E131010"
        assert "refresh token reused after a lost answer" in refused.json()["errorMessage"]
        assert "refresh token reused after a lost answer" in server.log()
