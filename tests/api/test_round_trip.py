"""What the API answers is accepted back (docs/api.md, "Round trips"), as a property.

The official Node and Go SDKs send a loaded app back whole (`updateApplication({...app,
description})`), and the official Python SDK passes loaded values back as arguments. For any
app configuration, made by `create` or from a template (with overrides), on SQLite and on
PostgreSQL: create → load → update with the loaded object, optionally one field changed →
load again gives the same app with that change. Likewise for tokens: what fetch answers,
uploaded back, is fetched again unchanged.

Hypothesis runs derandomized with a bounded number of examples against one live server per
backend, so the run is the same every time and stays well under a minute.
"""

from __future__ import annotations

import string
import warnings
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from descope import DescopeClient
from descope.management.common import AccessType, PromptType, URLParam
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.support.app_round_trip import (
    EXAMPLES,
    FIELDS,
    SETTINGS,
    apply,
    by_template,
    change,
    create,
    expected_after,
    ident,
    load,
    ok,
    plain_create,
    scope,
    unique,
)
from tests.support.server import LiveServer


@pytest.fixture(scope="module")
def client(live_server: LiveServer) -> Iterator[httpx.Client]:
    with live_server.client() as client:
        yield client


@SETTINGS
@given(how=st.one_of(plain_create, by_template), changed=change)
# a given appType that agrees with the derivation stays given; a derived one follows the URLs
@example(how={"appType": "apikey"}, changed=("tokenUrl", "https://provider.example/token"))
@example(how={}, changed=("tokenUrl", "https://provider.example/token"))
@example(how={"template": ("github", None)}, changed=("templateId", ""))
def test_a_loaded_app_sent_back_with_one_change_is_that_app_with_that_change(
    client: httpx.Client, how: dict[str, Any], changed: tuple[str, Any] | None
) -> None:
    created, type_derived = create(client, how)
    loaded = load(client, created["id"])
    assert loaded == created

    sent, changed = apply(loaded, changed)
    updated = ok(client.post("/v1/mgmt/outbound/app/update", json={"app": sent}))["app"]

    reloaded = load(client, created["id"])
    assert reloaded == updated
    assert reloaded == expected_after(loaded, type_derived, changed)
    # the same object sent again changes nothing: the round trip is a fixed point
    again = ok(client.post("/v1/mgmt/outbound/app/update", json={"app": reloaded}))["app"]
    assert again == reloaded
    # and create takes it too: a copy under a new id and name (the secret is not answered)
    copy_body = {**reloaded, "id": None, "name": unique("copy")}
    copy = ok(client.post("/v1/mgmt/outbound/app/create", json=copy_body))["app"]
    assert copy == {
        **reloaded,
        "id": copy["id"],
        "name": copy_body["name"],
        "hasClientSecret": False,
    }
    for app_id in (created["id"], copy["id"]):
        ok(client.post("/v1/mgmt/outbound/app/delete", json={"id": app_id}))


def test_an_update_that_renames_onto_another_apps_name_is_a_conflict(client: httpx.Client) -> None:
    first, _ = create(client, {})
    second, _ = create(client, {"description": "keep me"})
    response = client.post(
        "/v1/mgmt/outbound/app/update", json={"app": {**second, "name": first["name"]}}
    )
    assert response.status_code == 409, response.text
    assert response.json()["errorCode"] == "E131002" and first["name"] in response.text
    assert load(client, second["id"]) == second


def test_every_field_the_server_answers_is_covered() -> None:
    # a field added to the App answer must be added here, as stored or as read-only
    from outbound.server.http.wire import _APP_FIELDS

    assert set(_APP_FIELDS) - {"id", "name"} == set(FIELDS)


# -- the official Python SDK --------------------------------------------------------------

# what update_application takes, by wire name
SDK_ARGUMENTS = {
    "description": "description",
    "logo": "logo",
    "clientId": "client_id",
    "discoveryUrl": "discovery_url",
    "authorizationUrl": "authorization_url",
    "authorizationUrlParams": "authorization_url_params",
    "tokenUrl": "token_url",
    "tokenUrlParams": "token_url_params",
    "revocationUrl": "revocation_url",
    "defaultScopes": "default_scopes",
    "defaultRedirectUrl": "default_redirect_url",
    "callbackDomain": "callback_domain",
    "pkce": "pkce",
    "accessType": "access_type",
    "prompt": "prompt",
}


def sdk_arguments(app: dict[str, Any]) -> dict[str, Any]:
    """update_application's arguments for ``app``, as a user passes a loaded app back."""
    arguments: dict[str, Any] = {"id": app["id"], "name": app["name"]}
    for wire_name, argument in SDK_ARGUMENTS.items():
        value = app[wire_name]
        if wire_name.endswith("UrlParams"):
            value = [URLParam(p["key"], p["value"]) for p in value]
        elif wire_name == "accessType":
            value = AccessType(value)
        elif wire_name == "prompt":
            value = [PromptType(p) for p in value]
        arguments[argument] = value
    if app.get("clientSecret"):
        arguments["client_secret"] = app["clientSecret"]
    return arguments


@pytest.fixture(scope="module")
def descope(live_server: LiveServer) -> DescopeClient:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return DescopeClient(
            project_id=live_server.project_id,
            management_key=live_server.management_key,
            base_url=live_server.base_url,
        )


sdk_change = st.one_of(
    st.none(),
    st.sampled_from(sorted(SDK_ARGUMENTS)).flatmap(
        lambda name: st.tuples(st.just(name), FIELDS[name])
    ),
)


@settings(SETTINGS, max_examples=EXAMPLES // 2)
@given(how=st.one_of(plain_create, by_template), changed=sdk_change)
def test_the_python_sdk_sends_a_loaded_app_back(
    client: httpx.Client,
    descope: DescopeClient,
    how: dict[str, Any],
    changed: tuple[str, Any] | None,
) -> None:
    apps = descope.mgmt.outbound_application
    created, type_derived = create(client, how)
    loaded = apps.load_application(created["id"])["app"]
    assert loaded == created

    sent, changed = apply(loaded, changed)
    updated = apps.update_application(**sdk_arguments(sent))["app"]

    # what the SDK cannot send (templateId, tenantId, appType…) is kept, not cleared
    expected = expected_after(loaded, type_derived, changed)
    assert apps.load_application(created["id"])["app"] == updated == expected
    apps.delete_application(created["id"])


# -- tokens -------------------------------------------------------------------------------

token_fields = st.fixed_dictionaries(
    {"accessToken": st.text(string.ascii_letters + string.digits + "-._~", min_size=1)},
    optional={
        "refreshToken": st.text(string.ascii_letters + string.digits, min_size=1, max_size=40),
        # unknown (0) or not yet expired: these tokens have no provider to be refreshed at
        "accessTokenExpiry": st.one_of(st.just(0), st.integers(2_100_000_000, 2**40)),
        "accessTokenType": st.sampled_from(["Bearer", "bearer", "MAC"]),
        "scopes": st.lists(scope, unique=True, max_size=4),
        "externalIdentifier": ident,
        "grantedBy": st.text(string.ascii_letters + "@.", max_size=20),
    },
)
# what a fetch answers that the upload does not take (or that names another token)
TOKEN_OUTPUT_ONLY = {"id", "token", "hasRefreshToken", "lastRefreshTime", "lastRefreshError"}


@pytest.fixture(scope="module")
def token_app(client: httpx.Client) -> str:
    # no token URL: the server never refreshes these tokens, so a fetch answers them as stored
    app = ok(client.post("/v1/mgmt/outbound/app/create", json={"name": unique("tokens")}))
    return str(app["app"]["id"])


def fetch(client: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    body = {**body, "options": {"withRefreshToken": True}}
    token: dict[str, Any] = ok(client.post(f"/v1/mgmt/outbound/app/{path}", json=body))["token"]
    return token


@settings(SETTINGS, max_examples=EXAMPLES // 2)
@given(fields=token_fields, tenant_level=st.booleans(), in_tenant=st.booleans())
def test_a_fetched_token_uploaded_back_is_fetched_unchanged(
    client: httpx.Client,
    token_app: str,
    fields: dict[str, Any],
    tenant_level: bool,
    in_tenant: bool,
) -> None:
    owner = {"tenantId": unique("tenant")} if tenant_level else {"userId": unique("user")}
    if in_tenant and not tenant_level:
        owner["tenantId"] = unique("tenant")
    kind = "tenant" if tenant_level else "user"
    ok(
        client.post(
            f"/v1/mgmt/outbound/app/{kind}/oauthtoken/upload",
            json={"appId": token_app, **owner, **fields},
        )
    )
    lookup = {"appId": token_app, **owner}
    if fields.get("externalIdentifier"):
        lookup["externalIdentifier"] = fields["externalIdentifier"]
    first = fetch(client, f"{kind}/token/latest", lookup)

    # sent back whole, to the single and the batch upload: accepted, and nothing changes
    ok(client.post(f"/v1/mgmt/outbound/app/{kind}/oauthtoken/upload", json=first))
    second = fetch(client, f"{kind}/token/latest", lookup)
    batch = ok(
        client.post(
            f"/v1/mgmt/outbound/app/{kind}/oauthtoken/batch/upload", json={"tokens": [first]}
        )
    )
    assert batch == {"failures": []}
    third = fetch(client, f"{kind}/token/latest", lookup)
    # the fetched object also works as a fetch request (tenantId "" / externalIdentifier "")
    fourth = fetch(client, f"{kind}/token/latest", first)

    def stable(token: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in token.items() if k not in ("lastRefreshTime",)}

    assert stable(second) == stable(third) == stable(fourth) == stable(first)
    assert set(first) >= TOKEN_OUTPUT_ONLY
