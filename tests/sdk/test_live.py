"""Every method of ``client.mgmt.outbound_application``, sync and async, against a live server.

Each test runs four times: {sync, async} x {sqlite, postgres}.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
from descope.management.common import AccessType, PromptType, URLParam

from outbound import (
    AsyncClient,
    BadRequestError,
    Client,
    NotFoundError,
    OutboundError,
    UnauthorizedError,
)
from tests.support.browser import press_continue
from tests.support.server import LiveServer

from .conftest import OAUTH_APP, Twin, close, new_secret, unique

FAR_FUTURE = int(time.time()) + 30 * 86400


async def new_app(twin: Twin, **fields: object) -> str:
    created = await twin.call("create_application", unique("app"), **{**OAUTH_APP, **fields})
    return str(created["app"]["id"])


async def test_an_app_for_an_mcp_server(twin: Twin) -> None:
    created = await twin.call(
        "create_application",
        unique("Linear MCP"),
        use_dcr=True,
        resource="https://mcp.linear.app/mcp",
    )
    app = created["app"]
    assert (app["useDcr"], app["resource"], app["dcrUrl"]) == (
        True,
        "https://mcp.linear.app/mcp",
        "",
    )
    assert (app["clientId"], app["hasClientSecret"], app["appType"]) == ("", False, "oauth")

    updated = await twin.call(
        "update_application",
        app["id"],
        app["name"],
        use_dcr=True,
        dcr_url="https://mcp.linear.app/register",
        resource="https://mcp.linear.app/mcp",
    )
    assert updated["app"]["dcrUrl"] == "https://mcp.linear.app/register"
    assert (await twin.call("load_application", app["id"]))["app"] == updated["app"]

    with pytest.raises(BadRequestError, match="useDcr needs"):
        await twin.call("create_application", unique("nowhere"), use_dcr=True)


async def test_application_lifecycle(twin: Twin) -> None:
    name = unique("Calendar")
    created = await twin.call(
        "create_application",
        name,
        "reads calendars",
        "https://logo.example/c.png",
        None,
        new_secret(),
        "client-123",
        None,
        "https://provider.example/authorize",
        [URLParam("hd", "example.com")],
        "https://provider.example/token",
        [{"name": "audience", "value": "api"}],
        "https://provider.example/revoke",
        ["calendar.read"],
        "https://app.example/done",
        None,
        True,
        AccessType.OFFLINE,
        [PromptType.CONSENT],
    )
    app = created["app"]
    assert app["name"] == name
    assert app["description"] == "reads calendars"
    assert app["authorizationUrlParams"] == [{"key": "hd", "value": "example.com"}]
    assert app["tokenUrlParams"] == [{"key": "audience", "value": "api"}]
    assert app["defaultScopes"] == ["calendar.read"]
    assert app["accessType"] == "offline"
    assert app["prompt"] == ["consent"]
    assert app["hasClientSecret"] is True
    assert "clientSecret" not in app

    loaded = await twin.call("load_application", app["id"])
    assert loaded["app"] == app
    listed = await twin.call("load_all_applications")
    assert app["id"] in [a["id"] for a in listed["apps"]]

    # update overwrites every field; an omitted client secret is kept
    updated = await twin.call(
        "update_application", app["id"], name + " v2", token_url="https://provider.example/t2"
    )
    assert updated["app"]["name"] == name + " v2"
    assert updated["app"]["description"] == ""
    assert updated["app"]["tokenUrl"] == "https://provider.example/t2"
    assert updated["app"]["hasClientSecret"] is True

    assert await twin.call("delete_application", app["id"]) is None
    with pytest.raises(NotFoundError) as caught:
        await twin.call("load_application", app["id"])
    assert caught.value.status == caught.value.status_code == 404
    assert caught.value.error_code == "E131001"


async def test_user_token_upload_fetch_and_delete(twin: Twin) -> None:
    app_id = await new_app(twin)
    user = unique("user")
    access, refresh = new_secret(), new_secret()
    uploaded = await twin.call(
        "upload_user_token",
        app_id,
        user,
        None,
        refresh,
        access,
        FAR_FUTURE,
        "Bearer",
        ["read", "write"],
        "octocat",
        None,
        None,
        "admin@example.com",
    )
    assert uploaded == {}

    token = (await twin.call("fetch_token", app_id, user))["token"]
    assert token["token"] == token["accessToken"] == access
    assert token["accessTokenExpiry"] == str(FAR_FUTURE)
    assert token["scopes"] == ["read", "write"]
    assert token["externalIdentifier"] == "octocat"
    assert token["grantedBy"] == "admin@example.com"
    assert "refreshToken" not in token

    with_refresh = await twin.call("fetch_token", app_id, user, None, {"withRefreshToken": True})
    assert with_refresh["token"]["refreshToken"] == refresh

    by_scopes = await twin.call("fetch_token_by_scopes", app_id, user, ["read"])
    assert by_scopes["token"]["token"] == access
    with pytest.raises(NotFoundError) as caught:
        await twin.call("fetch_token_by_scopes", app_id, user, ["admin"])
    assert caught.value.error_code == "E111504"

    assert await twin.call("list_apps_with_user_token", user) == {"appIds": [app_id]}

    assert await twin.call("delete_token", token["id"]) is None
    with pytest.raises(NotFoundError):
        await twin.call("fetch_token", app_id, user)
    assert await twin.call("list_apps_with_user_token", user) == {"appIds": []}


async def test_user_token_in_a_tenant(twin: Twin) -> None:
    app_id = await new_app(twin)
    user, tenant = unique("user"), unique("tenant")
    access = new_secret()
    await twin.call("upload_user_token", app_id, user, tenant, access_token=access, scopes=["read"])
    token = await twin.call("fetch_token", app_id, user, tenant)
    assert token["token"]["token"] == access
    assert token["token"]["tenantId"] == tenant
    scoped = await twin.call("fetch_token_by_scopes", app_id, user, ["read"], None, tenant)
    assert scoped["token"]["token"] == access
    assert await twin.call("list_apps_with_user_token", user, tenant) == {"appIds": [app_id]}


async def test_tenant_tokens(twin: Twin) -> None:
    app_id = await new_app(twin)
    tenant = unique("tenant")
    access = new_secret()
    uploaded = await twin.call(
        "upload_tenant_token",
        app_id,
        tenant,
        new_secret(),
        access,
        FAR_FUTURE,
        None,
        ["admin"],
    )
    assert uploaded == {}
    token = await twin.call("fetch_tenant_token", app_id, tenant)
    assert token["token"]["token"] == access
    assert token["token"]["tenantId"] == tenant
    scoped = await twin.call("fetch_tenant_token_by_scopes", app_id, tenant, ["admin"])
    assert scoped["token"]["token"] == access
    with_refresh = await twin.call(
        "fetch_tenant_token_by_scopes", app_id, tenant, ["admin"], {"withRefreshToken": True}
    )
    assert with_refresh["token"]["hasRefreshToken"] is True
    assert with_refresh["token"]["refreshToken"]


async def test_api_keys(twin: Twin) -> None:
    created = await twin.call("create_application", unique("Stripe"))
    app_id = created["app"]["id"]
    assert created["app"]["appType"] == "apikey"
    user, tenant = unique("user"), unique("tenant")
    user_key, tenant_key = new_secret(), new_secret()
    assert await twin.call("upload_user_api_key", app_id, user, user_key) == {}
    assert await twin.call("upload_tenant_api_key", app_id, tenant, tenant_key) == {}
    assert (await twin.call("fetch_token", app_id, user))["token"]["token"] == user_key
    assert (await twin.call("fetch_tenant_token", app_id, tenant))["token"]["token"] == tenant_key


async def test_batch_uploads_are_all_or_nothing(twin: Twin) -> None:
    app_id = await new_app(twin)
    users = [unique("user"), unique("user")]
    tokens = [{"appId": app_id, "userId": u, "accessToken": new_secret()} for u in users]
    assert await twin.call("batch_upload_user_tokens", tokens) == {"failures": []}
    for user, sent in zip(users, tokens, strict=True):
        fetched = await twin.call("fetch_token", app_id, user)
        assert fetched["token"]["token"] == sent["accessToken"]

    late = unique("user")
    failed = await twin.call(
        "batch_upload_user_tokens",
        [
            {"appId": app_id, "userId": late, "accessToken": new_secret()},
            {"appId": unique("no-such-app"), "userId": late, "accessToken": new_secret()},
        ],
    )
    assert len(failed["failures"]) == 1
    with pytest.raises(NotFoundError):
        await twin.call("fetch_token", app_id, late)

    tenants = [unique("tenant"), unique("tenant")]
    tenant_tokens = [
        {"appId": app_id, "tenantId": t, "refreshToken": new_secret(), "accessToken": new_secret()}
        for t in tenants
    ]
    assert await twin.call("batch_upload_tenant_tokens", tenant_tokens) == {"failures": []}
    fetched = await twin.call("fetch_tenant_token", app_id, tenants[1])
    assert fetched["token"]["token"] == tenant_tokens[1]["accessToken"]


async def test_delete_user_tokens(twin: Twin) -> None:
    app_id, other_app = await new_app(twin), await new_app(twin)
    user = unique("user")
    for app in (app_id, other_app):
        await twin.call("upload_user_token", app, user, access_token=new_secret())
    assert await twin.call("delete_user_tokens", app_id, user) is None
    assert await twin.call("list_apps_with_user_token", user) == {"appIds": [other_app]}
    await twin.call("delete_user_tokens", user_id=user)
    assert await twin.call("list_apps_with_user_token", user) == {"appIds": []}


async def test_server_refusals_are_typed_errors(twin: Twin) -> None:
    with pytest.raises(BadRequestError) as caught:
        await twin.call("delete_user_tokens")
    assert caught.value.status == 400
    assert caught.value.error_code == "E011002"
    # the official SDK's AuthException attributes: status, type, the answer's body
    assert caught.value.error_type == "server error"
    assert '"errorCode":"E011002"' in caught.value.error_message.replace(" ", "")


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_a_wrong_management_key_is_unauthorized(mode: str, live_server: LiveServer) -> None:
    cls = AsyncClient if mode == "async" else Client
    client = cls(live_server.project_id, new_secret(), live_server.base_url)
    try:
        with pytest.raises(UnauthorizedError) as caught:
            await Twin(mode, client).call("load_all_applications")
    finally:
        await close(client)
    assert caught.value.status_code == 401
    assert caught.value.error_code == "E130401"


async def connect_or_skip(twin: Twin, *args: object, **kwargs: object) -> dict[str, str]:
    try:
        result: dict[str, str] = await twin.call("connect", *args, **kwargs)
    except OutboundError as exc:
        if exc.error_code in ("E130404", "E130405"):
            pytest.skip(f"this server has no POST /v1/mgmt/outbound/app/connect ({exc})")
        raise
    return result


async def test_connect_returns_a_link_to_the_providers_consent_page(twin: Twin) -> None:
    app_id = await new_app(twin, default_redirect_url="https://app.example/connected")
    user = unique("user")
    link = await connect_or_skip(
        twin,
        app_id,
        user,
        None,
        "https://app.example/connected?from=sdk",
        ["calendar.read"],
        "octocat",
    )
    opened = await asyncio.to_thread(press_continue, link["url"])
    assert opened.status_code in (302, 303)
    consent = httpx.URL(opened.headers["location"])
    assert str(consent).startswith(OAUTH_APP["authorization_url"])
    assert consent.params["client_id"] == OAUTH_APP["client_id"]
    assert "calendar.read" in consent.params["scope"]
    assert consent.params["code_challenge_method"] == "S256"


async def test_connect_a_tenant(twin: Twin) -> None:
    app_id = await new_app(twin, default_redirect_url="https://app.example/connected")
    link = await connect_or_skip(twin, app_id, tenant_id=unique("tenant"))
    assert link["url"].startswith("http")
    with pytest.raises(NotFoundError):
        await twin.call("connect", unique("no-such-app"), unique("user"))


async def test_list_connections_pages_through_the_projects_connections(twin: Twin) -> None:
    app_id = await new_app(twin)
    users = [unique("lister") for _ in range(5)]
    for user in users:
        await twin.call(
            "upload_user_token", app_id, user, refresh_token=new_secret(), access_token="at"
        )
    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = await twin.call("list_connections", app_id=app_id, limit=2, cursor=cursor)
        seen += page["connections"]
        cursor = page["nextCursor"]
        if not cursor:
            break
    # creation order (ties within a second by id), each once
    assert sorted(c["userId"] for c in seen) == sorted(users)
    assert len(seen) == len(users)
    assert [c["createdTime"] for c in seen] == sorted(c["createdTime"] for c in seen)
    assert {c["status"] for c in seen} == {"active"}
    assert all(c["appId"] == app_id and "accessToken" not in c for c in seen)
    only = await twin.call("list_connections", app_id=app_id, user_id=users[2])
    assert [c["userId"] for c in only["connections"]] == [users[2]]
    with pytest.raises(BadRequestError):
        await twin.call("list_connections", status="broken")


async def test_connection_metadata_round_trips(twin: Twin) -> None:
    app_id = await new_app(twin)
    user, tenant = unique("user"), unique("tenant")
    metadata = {"plan": "pro", "seats": 5, "tags": ["a", "b"]}
    await twin.call("upload_user_token", app_id, user, access_token="t", metadata=metadata)
    await twin.call("upload_tenant_token", app_id, tenant, access_token="t", metadata={"x": 1})
    listed = await twin.call("list_connections", app_id=app_id, metadata=("plan", "pro"))
    (connection,) = listed["connections"]
    assert (connection["userId"], connection["metadata"]) == (user, metadata)
    # an upload without metadata keeps it; set_connection_metadata replaces it
    await twin.call("upload_user_token", app_id, user, access_token="t2")
    replaced = await twin.call("set_connection_metadata", connection["id"], {"plan": "free"})
    assert replaced["connection"]["metadata"] == {"plan": "free"}
    listed = await twin.call("list_connections", app_id=app_id, metadata=("plan", "pro"))
    assert listed["connections"] == []
    (tenant_connection,) = (await twin.call("list_connections", app_id=app_id, tenant_id=tenant))[
        "connections"
    ]
    assert tenant_connection["metadata"] == {"x": 1}
    key_app = (await twin.call("create_application", unique("keys")))["app"]["id"]
    await twin.call("upload_user_api_key", key_app, user, "k", metadata={"k": True})
    (key,) = (await twin.call("list_connections", app_id=key_app))["connections"]
    assert key["metadata"] == {"k": True}
    with pytest.raises(BadRequestError):
        await twin.call("set_connection_metadata", connection["id"], {"x": "y" * 5000})
    # a connect link carries it to the connection it makes (accepted here; made in e2e)
    link = await twin.call("connect", app_id, user, redirect_url=None, metadata={"from": "connect"})
    assert link["url"]
