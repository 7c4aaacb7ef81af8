"""Encryption at rest: canary secrets never appear in the database or the logs, and sealed
values are bound to their row — moved or tampered ciphertext fails cleanly."""

from __future__ import annotations

import secrets
import time

import httpx

from tests.support.database import execute, raw_dump
from tests.support.recording_provider import RecordingProvider
from tests.support.server import LiveServer


def canary(kind: str) -> str:
    return f"CANARY{kind}{secrets.token_hex(12)}"


def create_app(client: httpx.Client, client_secret: str = "") -> str:
    body = {
        "name": "enc-" + secrets.token_hex(4),
        "clientId": "cid",
        "authorizationUrl": "https://p.example/authorize",
        "tokenUrl": "https://p.example/token",
    }
    if client_secret:
        body["clientSecret"] = client_secret
    response = client.post("/v1/mgmt/outbound/app/create", json=body)
    assert response.status_code == 200, response.text
    return str(response.json()["app"]["id"])


def upload(client: httpx.Client, app_id: str, user_id: str, **fields: object) -> None:
    response = client.post(
        "/v1/mgmt/outbound/app/user/oauthtoken/upload",
        json={"appId": app_id, "userId": user_id, **fields},
    )
    assert response.status_code == 200, response.text


def fetch(client: httpx.Client, app_id: str, user_id: str) -> httpx.Response:
    return client.post(
        "/v1/mgmt/outbound/app/user/token/latest",
        json={"appId": app_id, "userId": user_id, "options": {"withRefreshToken": True}},
    )


def test_canary_secrets_appear_in_no_database_byte_and_no_log_line(
    live_server: LiveServer,
) -> None:
    canaries = {k: canary(k) for k in ("ACCESS", "REFRESH", "IDTOKEN", "APIKEY", "CLIENTSECRET")}
    with live_server.client() as client:
        app_id = create_app(client, canaries["CLIENTSECRET"])
        upload(
            client,
            app_id,
            "canary-user",
            accessToken=canaries["ACCESS"],
            refreshToken=canaries["REFRESH"],
            idToken=canaries["IDTOKEN"],
            accessTokenExpiry=int(time.time()) + 3600,
        )
        key_app = client.post(
            "/v1/mgmt/outbound/app/create", json={"name": "keys-" + secrets.token_hex(4)}
        ).json()["app"]["id"]
        assert (
            client.post(
                "/v1/mgmt/outbound/app/user/apikey/upload",
                json={"appId": key_app, "userId": "canary-user", "apiKey": canaries["APIKEY"]},
            ).status_code
            == 200
        )
        # the values do round-trip through the API…
        token = fetch(client, app_id, "canary-user").json()["token"]
        assert token["accessToken"] == canaries["ACCESS"]
        assert token["refreshToken"] == canaries["REFRESH"]
        # …and failing requests that carry them do not echo them into logs either
        client.post(
            "/v1/mgmt/outbound/app/user/oauthtoken/upload",
            json={"appId": "missing-app", "userId": "u", "accessToken": canaries["ACCESS"]},
        )

    dump = raw_dump(live_server.store)
    log = live_server.log()
    for kind, value in canaries.items():
        assert value.encode() not in dump, f"{kind} stored in plaintext"
        assert value not in log, f"{kind} written to the log"
    # the management key is stored only as a digest
    assert live_server.management_key.encode() not in dump
    assert live_server.management_key.split("_", 2)[2].encode() not in dump


def test_ciphertext_copied_into_another_row_does_not_open(live_server: LiveServer) -> None:
    with live_server.client() as client:
        app_id = create_app(client)
        upload(client, app_id, "alice", accessToken="alice-" + secrets.token_hex(8))
        upload(client, app_id, "mallory", accessToken="mallory-" + secrets.token_hex(8))
        alice = fetch(client, app_id, "alice").json()["token"]

        # An attacker with write access to the database moves alice's ciphertext into
        # mallory's row, hoping the vault will hand it out as mallory's token.
        store = live_server.store
        (sealed,) = execute(store, "SELECT access_token FROM tokens WHERE id = ?", (alice["id"],))[
            0
        ]
        execute(
            store,
            "UPDATE tokens SET access_token = ? WHERE app_id = ? AND user_id = ?",
            (sealed, app_id, "mallory"),
        )
        response = fetch(client, app_id, "mallory")
        assert response.status_code == 500
        assert response.json()["errorCode"] == "E131013"
        assert alice["accessToken"] not in response.text
        # alice's own token is untouched and still opens
        assert fetch(client, app_id, "alice").json()["token"]["accessToken"] == alice["accessToken"]


def test_a_flipped_byte_fails_cleanly(live_server: LiveServer) -> None:
    with live_server.client() as client:
        app_id = create_app(client)
        value = "bob-" + secrets.token_hex(8)
        upload(client, app_id, "bob", accessToken=value)
        token_id = fetch(client, app_id, "bob").json()["token"]["id"]
        store = live_server.store
        (sealed,) = execute(store, "SELECT access_token FROM tokens WHERE id = ?", (token_id,))[0]
        tampered = bytearray(sealed)
        tampered[-5] ^= 0x01
        execute(
            store, "UPDATE tokens SET access_token = ? WHERE id = ?", (bytes(tampered), token_id)
        )
        response = fetch(client, app_id, "bob")
        assert response.status_code == 500
        assert response.json()["errorCode"] == "E131013"
        assert value not in response.text
        # the other endpoints keep working
        assert client.get("/v1/mgmt/outbound/apps").status_code == 200


def test_client_secret_is_write_only(live_server: LiveServer) -> None:
    secret = canary("CS")
    with live_server.client() as client:
        app_id = create_app(client, secret)
        for response in (
            client.get(f"/v1/mgmt/outbound/app/{app_id}"),
            client.get("/v1/mgmt/outbound/apps"),
        ):
            assert secret not in response.text
            assert "clientSecret" not in response.text


def test_an_older_sealed_value_put_back_after_a_refresh_does_not_open(
    live_server: LiveServer,
) -> None:
    """Rollback of a refreshed token by a database writer (issue 25, item 20): the access and
    refresh tokens sealed before a refresh, copied back into the row with SQL, do not open —
    their associated data names the version the row had then. The fetch fails closed (500
    ``E131013``), neither the old nor the new token is in the answer, and a forced refresh
    never sends the old refresh token to the provider."""
    with RecordingProvider() as provider, live_server.client() as client:
        app_id = "rollback-" + secrets.token_hex(3)
        old_access, old_refresh = "at-old-" + secrets.token_hex(8), "rt-old-" + secrets.token_hex(8)
        created = client.post(
            "/v1/mgmt/outbound/app/create",
            json={
                "id": app_id,
                "name": app_id,
                "clientId": "cid",
                "clientSecret": "cs-" + secrets.token_hex(8),
                "discoveryUrl": provider.discovery_url,
            },
        )
        assert created.status_code == 200, created.text
        upload(
            client,
            app_id,
            "u",
            accessToken=old_access,
            refreshToken=old_refresh,
            accessTokenExpiry=int(time.time()) + 3600,
        )
        token_id = fetch(client, app_id, "u").json()["token"]["id"]
        store = live_server.store
        select = "SELECT access_token, refresh_token, version FROM tokens WHERE id = ?"
        [(sealed_access, sealed_refresh, old_version)] = execute(store, select, (token_id,))

        refreshed = client.post(
            "/v1/mgmt/outbound/app/user/token/latest",
            json={"appId": app_id, "userId": "u", "options": {"forceRefresh": True}},
        )
        assert refreshed.status_code == 200, refreshed.text
        new_access = refreshed.json()["token"]["accessToken"]
        assert new_access != old_access
        [(current_access, _, version)] = execute(store, select, (token_id,))
        assert version == old_version + 1
        sent_before = len(provider.carrying(old_refresh))

        # The attack: the values sealed before the refresh, put back into the row as it is.
        execute(
            store,
            "UPDATE tokens SET access_token = ?, refresh_token = ? WHERE id = ?",
            (bytes(sealed_access), bytes(sealed_refresh), token_id),
        )
        response = fetch(client, app_id, "u")
        assert response.status_code == 500, response.text
        assert response.json()["errorCode"] == "E131013"
        assert old_access not in response.text and new_access not in response.text
        assert old_refresh not in response.text

        # The old refresh token alone, the access token current: the refresh token is never
        # handed out, and a forced refresh never sends it to the provider.
        execute(
            store,
            "UPDATE tokens SET access_token = ? WHERE id = ?",
            (bytes(current_access), token_id),
        )
        with_refresh = fetch(client, app_id, "u")
        assert with_refresh.status_code == 500, with_refresh.text
        assert with_refresh.json()["errorCode"] == "E131013"
        forced = client.post(
            "/v1/mgmt/outbound/app/user/token/latest",
            json={"appId": app_id, "userId": "u", "options": {"forceRefresh": True}},
        )
        for answer in (with_refresh, forced):
            assert old_refresh not in answer.text and old_access not in answer.text
        assert len(provider.carrying(old_refresh)) == sent_before
