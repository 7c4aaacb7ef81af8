"""The official ``descope`` Python SDK, pointed at a live outbound server, through every
outbound-application method — on SQLite and on PostgreSQL (the ``live_server`` fixture)."""

from __future__ import annotations

import secrets
import time
import warnings
from collections.abc import Iterator

import pytest
from descope import AuthException, DescopeClient
from descope.management.common import AccessType, PromptType, URLParam

from tests.support.server import LiveServer


@pytest.fixture(scope="module")
def descope(live_server: LiveServer) -> Iterator[DescopeClient]:
    with warnings.catch_warnings():
        # the SDK warns about its own configuration on some versions; not our concern here
        warnings.simplefilter("ignore")
        client = DescopeClient(
            project_id=live_server.project_id,
            management_key=live_server.management_key,
            base_url=live_server.base_url,
        )
    yield client


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


def new_oauth_app(descope: DescopeClient, **overrides: object) -> dict:
    fields: dict = {
        "name": unique("Calendar"),
        "description": "the user's calendar",
        "client_id": "client-123",
        "client_secret": secrets.token_urlsafe(16),
        "authorization_url": "https://provider.example/authorize",
        "token_url": "https://provider.example/token",
        "revocation_url": "https://provider.example/revoke",
        "default_scopes": ["calendar.read"],
        "default_redirect_url": "https://app.example/connected",
        "authorization_url_params": [URLParam("hd", "example.com")],
        "token_url_params": [URLParam("audience", "api")],
        "pkce": True,
        "access_type": AccessType.OFFLINE,
        "prompt": [PromptType.CONSENT],
    }
    fields.update(overrides)
    return descope.mgmt.outbound_application.create_application(**fields)["app"]


def test_create_load_update_delete_application(
    descope: DescopeClient, live_server: LiveServer
) -> None:
    apps = descope.mgmt.outbound_application
    app = new_oauth_app(descope)
    assert app["id"]
    assert app["description"] == "the user's calendar"
    assert app["authorizationUrlParams"] == [{"key": "hd", "value": "example.com"}]
    assert app["tokenUrlParams"] == [{"key": "audience", "value": "api"}]
    assert app["prompt"] == ["consent"] and app["accessType"] == "offline"
    assert app["appType"] == "oauth"
    assert app["hasClientSecret"] is True
    assert "clientSecret" not in app
    # one callback per project (issue 25, item 14)
    assert app["callbackUrl"].endswith("/v1/outbound/oauth/callback/" + live_server.project_id)

    loaded = apps.load_application(app["id"])["app"]
    assert loaded == app
    assert app["id"] in {a["id"] for a in apps.load_all_applications()["apps"]}

    # update is a full overwrite; the omitted client secret is kept
    updated = apps.update_application(
        id=app["id"], name=app["name"], description="renamed", token_url=app["tokenUrl"]
    )["app"]
    assert updated["description"] == "renamed"
    assert updated["authorizationUrl"] == ""
    assert updated["defaultScopes"] == []
    assert updated["hasClientSecret"] is True

    apps.delete_application(app["id"])
    with pytest.raises(AuthException) as err:
        apps.load_application(app["id"])
    assert err.value.status_code == 404
    assert app["id"] not in {a["id"] for a in apps.load_all_applications()["apps"]}


def test_a_loaded_app_passed_back_with_one_change(
    descope: DescopeClient, live_server: LiveServer
) -> None:
    """Load → change → update with every loaded value passed back (issue 15): values the
    server answers ("" for absent ones) are accepted, and what this SDK cannot send (the
    template, the tenant) is kept, not cleared."""
    apps = descope.mgmt.outbound_application
    # this SDK has no create-by-template: made over HTTP, as the Node SDK would
    with live_server.client() as client:
        created = client.post(
            "/v1/mgmt/outbound/app/create/bytemplate",
            json={"templateId": "google", "name": unique("Google"), "tenantId": unique("t")},
        ).json()["app"]
    assert created["templateId"] == "google" and created["appType"] == "oauth"
    loaded = apps.load_application(created["id"])["app"]
    app = {**loaded, "description": "changed"}
    updated = apps.update_application(
        id=app["id"],
        name=app["name"],
        description=app["description"],
        logo=app["logo"],
        client_id=app["clientId"],
        discovery_url=app["discoveryUrl"],
        authorization_url=app["authorizationUrl"],
        authorization_url_params=[
            URLParam(p["key"], p["value"]) for p in app["authorizationUrlParams"]
        ],
        token_url=app["tokenUrl"],
        token_url_params=[URLParam(p["key"], p["value"]) for p in app["tokenUrlParams"]],
        revocation_url=app["revocationUrl"],
        default_scopes=app["defaultScopes"],
        default_redirect_url=app["defaultRedirectUrl"],
        callback_domain=app["callbackDomain"],
        pkce=app["pkce"],
        access_type=AccessType(app["accessType"]),
        prompt=[PromptType(p) for p in app["prompt"]],
    )["app"]
    assert updated == apps.load_application(created["id"])["app"] == app


def test_a_fetched_token_passed_back_to_upload(descope: DescopeClient) -> None:
    apps = descope.mgmt.outbound_application
    app = new_oauth_app(descope)
    user = unique("user")
    apps.upload_user_token(
        app["id"], user, access_token="a1", refresh_token="r1", access_token_expiry=2**33
    )
    token = apps.fetch_token(app["id"], user, None, {"withRefreshToken": True})["token"]
    assert (token["tenantId"], token["externalIdentifier"]) == ("", "")
    apps.upload_user_token(
        app_id=token["appId"],
        user_id=token["userId"],
        tenant_id=token["tenantId"],
        refresh_token=token["refreshToken"],
        access_token="a2",
        access_token_expiry=token["accessTokenExpiry"],  # a string, as fetch answers it
        access_token_type=token["accessTokenType"],
        scopes=token["scopes"],
        external_identifier=token["externalIdentifier"],
        granted_by=token["grantedBy"],
    )
    again = apps.fetch_token(app["id"], user, None, {"withRefreshToken": True})["token"]
    assert {**token, "accessToken": "a2", "token": "a2"} == {
        **again,
        "lastRefreshTime": token["lastRefreshTime"],
    }


def test_create_with_explicit_id_and_duplicates(descope: DescopeClient) -> None:
    app_id = unique("gcal")
    app = new_oauth_app(descope, id=app_id)
    assert app["id"] == app_id
    with pytest.raises(AuthException) as err:
        new_oauth_app(descope, id=app_id)
    assert err.value.status_code == 409
    with pytest.raises(AuthException) as err:
        new_oauth_app(descope, name=app["name"])
    assert err.value.status_code == 409


def test_user_token_upload_fetch_and_delete(descope: DescopeClient) -> None:
    apps = descope.mgmt.outbound_application
    app = new_oauth_app(descope)
    user = unique("user")
    expiry = int(time.time()) + 3600
    access, refresh = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    apps.upload_user_token(
        app["id"],
        user,
        refresh_token=refresh,
        access_token=access,
        access_token_expiry=expiry,
        scopes=["calendar.read", "calendar.write"],
        external_identifier="work",
        id_token="header.payload.sig",
        granted_by="admin@example.com",
    )

    token = apps.fetch_token(app["id"], user)["token"]
    assert token["token"] == access  # the seed's documented usage: result["token"]["token"]
    assert token["accessToken"] == access
    assert token["accessTokenExpiry"] == str(expiry)
    assert token["accessTokenType"] == "Bearer"
    assert token["hasRefreshToken"] is True
    assert "refreshToken" not in token
    assert token["scopes"] == ["calendar.read", "calendar.write"]
    assert token["externalIdentifier"] == "work"
    assert token["grantedBy"] == "admin@example.com"
    assert token["appId"] == app["id"] and token["userId"] == user

    with_refresh = apps.fetch_token(app["id"], user, None, {"withRefreshToken": True})["token"]
    assert with_refresh["refreshToken"] == refresh

    by_scopes = apps.fetch_token_by_scopes(app["id"], user, ["calendar.read"])["token"]
    assert by_scopes["id"] == token["id"]
    with pytest.raises(AuthException) as err:
        apps.fetch_token_by_scopes(app["id"], user, ["gmail.send"])
    assert err.value.status_code == 404
    assert "E111504" in str(err.value.error_message)  # the SDK keeps our JSON body as the message

    assert app["id"] in apps.list_apps_with_user_token(user)["appIds"]

    apps.delete_token(token["id"])
    with pytest.raises(AuthException) as err:
        apps.fetch_token(app["id"], user)
    assert err.value.status_code == 404
    assert apps.list_apps_with_user_token(user)["appIds"] == []


def test_delete_user_tokens(descope: DescopeClient) -> None:
    apps = descope.mgmt.outbound_application
    first, second = new_oauth_app(descope), new_oauth_app(descope)
    user, other = unique("user"), unique("user")
    for app in (first, second):
        apps.upload_user_token(app["id"], user, access_token=secrets.token_urlsafe(16))
    apps.upload_user_token(first["id"], other, access_token=secrets.token_urlsafe(16))
    assert sorted(apps.list_apps_with_user_token(user)["appIds"]) == sorted(
        [first["id"], second["id"]]
    )

    apps.delete_user_tokens(app_id=first["id"], user_id=user)
    assert apps.list_apps_with_user_token(user)["appIds"] == [second["id"]]
    apps.delete_user_tokens(user_id=user)
    assert apps.list_apps_with_user_token(user)["appIds"] == []
    # the other user's token is untouched
    assert apps.fetch_token(first["id"], other)["token"]["userId"] == other
    apps.delete_user_tokens(app_id=first["id"])
    with pytest.raises(AuthException):
        apps.fetch_token(first["id"], other)


def test_tenant_tokens(descope: DescopeClient) -> None:
    apps = descope.mgmt.outbound_application
    app = new_oauth_app(descope)
    tenant = unique("tenant")
    access = secrets.token_urlsafe(16)
    apps.upload_tenant_token(
        app["id"],
        tenant,
        access_token=access,
        access_token_expiry=int(time.time()) + 600,
        scopes=["admin"],
    )
    latest = apps.fetch_tenant_token(app["id"], tenant)["token"]
    assert latest["token"] == access and latest["tenantId"] == tenant and latest["userId"] == ""
    assert (
        apps.fetch_tenant_token_by_scopes(app["id"], tenant, ["admin"])["token"]["id"]
        == latest["id"]
    )
    with pytest.raises(AuthException) as err:
        apps.fetch_tenant_token_by_scopes(app["id"], tenant, ["superuser"])
    assert err.value.status_code == 404


def test_user_token_within_a_tenant(descope: DescopeClient) -> None:
    apps = descope.mgmt.outbound_application
    app = new_oauth_app(descope)
    user, tenant = unique("user"), unique("tenant")
    apps.upload_user_token(app["id"], user, tenant_id=tenant, access_token="in-tenant")
    apps.upload_user_token(app["id"], user, access_token="no-tenant")
    assert apps.fetch_token(app["id"], user, tenant)["token"]["token"] == "in-tenant"
    assert app["id"] in apps.list_apps_with_user_token(user, tenant)["appIds"]


def test_api_keys(descope: DescopeClient) -> None:
    apps = descope.mgmt.outbound_application
    app = descope.mgmt.outbound_application.create_application(name=unique("Stripe"))["app"]
    assert app["appType"] == "apikey"
    user, tenant = unique("user"), unique("tenant")
    apps.upload_user_api_key(app["id"], user, "sk_user_" + secrets.token_hex(8))
    apps.upload_tenant_api_key(app["id"], tenant, "sk_tenant_" + secrets.token_hex(8))
    user_key = apps.fetch_token(app["id"], user)["token"]
    assert user_key["token"].startswith("sk_user_")
    assert user_key["accessTokenType"] == "apikey"
    assert apps.fetch_tenant_token(app["id"], tenant)["token"]["token"].startswith("sk_tenant_")


def test_batch_uploads_are_all_or_nothing(descope: DescopeClient) -> None:
    apps = descope.mgmt.outbound_application
    app = new_oauth_app(descope)
    users = [unique("user") for _ in range(3)]
    result = apps.batch_upload_user_tokens(
        [{"appId": app["id"], "userId": u, "accessToken": f"tok-{u}"} for u in users]
    )
    assert result.get("failures", []) == []
    for u in users:
        assert apps.fetch_token(app["id"], u)["token"]["token"] == f"tok-{u}"

    late = unique("user")
    result = apps.batch_upload_user_tokens(
        [
            {"appId": app["id"], "userId": late, "accessToken": "fine"},
            {"appId": "no-such-app", "userId": late, "accessToken": "x"},
            {"appId": app["id"], "userId": late},  # neither token
        ]
    )
    failures = result["failures"]
    assert {f["appId"] for f in failures} == {"no-such-app", app["id"]}
    assert all(f["errorCode"] and f["reason"] for f in failures)
    with pytest.raises(AuthException):
        apps.fetch_token(app["id"], late)  # nothing of the batch was committed

    tenants = [unique("tenant") for _ in range(2)]
    result = apps.batch_upload_tenant_tokens(
        [{"appId": app["id"], "tenantId": t, "refreshToken": f"r-{t}"} for t in tenants]
    )
    assert result.get("failures", []) == []


def test_upload_replaces_the_previous_token(descope: DescopeClient) -> None:
    apps = descope.mgmt.outbound_application
    app = new_oauth_app(descope)
    user = unique("user")
    apps.upload_user_token(app["id"], user, access_token="first")
    first_id = apps.fetch_token(app["id"], user)["token"]["id"]
    apps.upload_user_token(app["id"], user, access_token="second")
    second = apps.fetch_token(app["id"], user)["token"]
    assert second["token"] == "second"
    assert second["id"] == first_id  # same connection, new secret


def test_verify_refresh_upload_is_a_clear_client_error_without_the_engine(
    descope: DescopeClient,
) -> None:
    apps = descope.mgmt.outbound_application
    app = new_oauth_app(descope)
    user = unique("user")
    try:
        apps.upload_user_token(
            app["id"], user, refresh_token="not-a-real-refresh-token", verify_refresh=True
        )
    except AuthException as exc:
        assert exc.status_code is not None and 400 <= exc.status_code < 600
    with pytest.raises(AuthException):
        apps.fetch_token(app["id"], user)  # nothing was written


def test_tokens_of_an_app_without_client_credentials_are_served(descope: DescopeClient) -> None:
    # An app used only for uploaded (migrated) tokens needs no client id or secret.
    apps = descope.mgmt.outbound_application
    app = apps.create_application(name=unique("Migrated"), token_url="https://p.example/token")[
        "app"
    ]
    user = unique("user")
    apps.upload_user_token(
        app["id"],
        user,
        access_token="still-good",
        refresh_token="kept-for-later",
        access_token_expiry=int(time.time()) + 3600,
    )
    assert apps.fetch_token(app["id"], user)["token"]["token"] == "still-good"
