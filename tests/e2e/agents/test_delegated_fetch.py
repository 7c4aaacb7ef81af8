"""Delegated fetch: an agent holding a user's own access token fetches that user's provider
token through the official SDK's ``outbound_application_by_token`` — no management key.

The user's access token comes from a real authorization server (oidc-provider with resource
indicators: RS256 JWT access tokens whose ``aud`` is the vault, RFC 8707/9068), obtained through
its real authorization-code flow. Tokens that server cannot make (expired, odd claims, an
issuer nobody configured) come from issuers the test runs itself.
"""

from __future__ import annotations

import json
import secrets
import time
import warnings
from typing import Any

import httpx
import jwt
import pytest
from descope import AuthException, DescopeClient
from prometheus_client.parser import text_string_to_metric_families
from tests.e2e.agents.support import (
    FETCH_SCOPE,
    OTHER_RESOURCE,
    projects_cli,
    set_issuer,
    store_token,
    tampered,
    user_token,
)
from tests.e2e.conftest import SERVER_ARGS, Vault, create_app
from tests.support.browser import CallbackCatcher
from tests.support.jwt_issuer import OwnIssuer
from tests.support.oidc_server import OidcClient, OidcServer
from tests.support.server import Store, free_port, running_server


@pytest.fixture(scope="module")
def descope(vault: Vault) -> DescopeClient:
    """The official SDK as an agent holds it: the project id, no management key."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return DescopeClient(project_id=vault.server.project_id, base_url=vault.server.base_url)


def refused(call: Any) -> tuple[int, str]:
    with pytest.raises(AuthException) as caught:
        call()
    return caught.value.status_code or 0, str(caught.value)


def audit_actors(vault: Vault, user: str, count: int) -> list[str]:
    """The actors of the user's fetch events, once ``count`` are written (they are batched)."""
    deadline = time.monotonic() + 10
    while True:
        with vault.http as http:
            response = http.get("/v1/mgmt/outbound/audit", params={"userId": user})
        assert response.status_code == 200, response.text
        events = response.json()["events"]
        actors = [e["actor"] for e in events if e["action"] == "token.fetch"]
        if len(actors) >= count or time.monotonic() > deadline:
            return actors
        time.sleep(0.1)


def test_the_sdk_fetches_its_users_token_with_the_users_own_jwt(
    vault: Vault,
    descope: DescopeClient,
    agents_idp: OidcServer,
    agent_client: OidcClient,
    catcher: CallbackCatcher,
) -> None:
    user = vault.new_user()
    stored = store_token(vault, {"userId": user}, ["read", "write"])
    jwt_token = user_token(agents_idp, agent_client, catcher, user, resource=vault.server.base_url)
    vault.seen.add(jwt_token)
    claims = jwt.decode(jwt_token, options={"verify_signature": False})
    assert (claims["sub"], claims["aud"], claims["scope"]) == (
        user,
        vault.server.base_url,
        FETCH_SCOPE,
    )
    by_token = descope.mgmt.outbound_application_by_token

    token = by_token.fetch_token(token=jwt_token, app_id=vault.app_id, user_id=user)["token"]
    assert token["token"] == token["accessToken"] == stored
    assert token["userId"] == user and token["hasRefreshToken"] is True
    assert "refreshToken" not in token  # access tokens only
    status, text = refused(
        lambda: by_token.fetch_token(
            token=jwt_token, app_id=vault.app_id, user_id=user, options={"withRefreshToken": True}
        )
    )
    assert status == 403 and "E130403" in text and "provider-rt-" not in text

    scoped = by_token.fetch_token_by_scopes(
        token=jwt_token, app_id=vault.app_id, user_id=user, scopes=["read"]
    )["token"]
    assert scoped["accessToken"] == stored
    status, text = refused(
        lambda: by_token.fetch_token_by_scopes(
            token=jwt_token, app_id=vault.app_id, user_id=user, scopes=["admin"]
        )
    )
    assert status == 404 and "E111504" in text  # its own subject: told what is stored

    actor = f"jwt:{user}@{agents_idp.issuer}"
    assert audit_actors(vault, user, 4) == [actor, actor, actor, actor]
    assert jwt_token not in vault.server.log()


def test_a_users_token_asking_for_the_refresh_token_is_refused_like_a_fetch_only_key(
    vault: Vault, extra_issuer: OwnIssuer
) -> None:
    """``withRefreshToken`` with a user's token is 403 ``E130403`` on each of the four fetch
    paths, as for a fetch-only key — not ignored — before any token is read (the same answer
    whether the owner holds a token), and no refresh token is in any answer."""
    user, tenant, nobody = vault.new_user(), "t-" + secrets.token_hex(3), vault.new_user()
    store_token(vault, {"userId": user}, ["read"])
    store_token(vault, {"tenantId": tenant}, ["read"])
    claims = {"scope": FETCH_SCOPE, "aud": "vault"}
    admin = {tenant: {"roles": ["Tenant Admin"]}}
    own = extra_issuer.token(user, tenants=admin, **claims)
    empty = extra_issuer.token(nobody, tenants={"t-none": {"roles": ["Tenant Admin"]}}, **claims)
    app, option = vault.app_id, {"options": {"withRefreshToken": True}}
    base = "/v1/mgmt/outbound/app"
    asks: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
        # path -> (body for the owner with a token, body for one without)
        f"{base}/user/token/latest": ({"userId": user}, {"userId": nobody}),
        f"{base}/user/token": (
            {"userId": user, "scopes": ["read"]},
            {"userId": nobody, "scopes": ["read"]},
        ),
        f"{base}/tenant/token/latest": ({"tenantId": tenant}, {"tenantId": "t-none"}),
        f"{base}/tenant/token": (
            {"tenantId": tenant, "scopes": ["read"]},
            {"tenantId": "t-none", "scopes": ["read"]},
        ),
    }
    with httpx.Client(base_url=vault.server.base_url) as http:
        for path, (held, missing) in asks.items():
            answers = []
            for jwt_token, owner in ((own, held), (empty, missing)):
                auth = {"Authorization": f"Bearer {vault.server.project_id}:{jwt_token}"}
                answer = http.post(path, json={"appId": app, **owner, **option}, headers=auth)
                assert answer.status_code == 403, (path, answer.text)
                assert "provider-rt-" not in answer.text and "provider-at-" not in answer.text
                answers.append(answer.json())
            assert answers[0] == answers[1], path  # nothing about whether a token exists
            assert answers[0]["errorCode"] == "E130403"
            assert "withRefreshToken" in answers[0]["errorMessage"], answers[0]
            # Without the option the same token fetches the access token.
            auth = {"Authorization": f"Bearer {vault.server.project_id}:{own}"}
            served = http.post(path, json={"appId": app, **held}, headers=auth)
            assert served.status_code == 200, (path, served.text)
            assert "refreshToken" not in served.json()["token"]


def test_tenant_fetches_need_the_tenant_and_for_tenant_tokens_the_role(
    vault: Vault, descope: DescopeClient, extra_issuer: OwnIssuer
) -> None:
    user, tenant = vault.new_user(), "t-" + secrets.token_hex(3)
    in_tenant = store_token(vault, {"userId": user, "tenantId": tenant}, ["read"])
    tenant_wide = store_token(vault, {"tenantId": tenant}, ["read"])
    scope = {"scope": FETCH_SCOPE, "aud": "vault"}
    admin = extra_issuer.token(user, tenants={tenant: {"roles": ["Tenant Admin"]}}, **scope)
    member = extra_issuer.token(user, tenants={tenant: {"roles": ["viewer"]}}, **scope)
    outsider = extra_issuer.token(user, tenants={"elsewhere": {"roles": ["Tenant Admin"]}}, **scope)
    by_token = descope.mgmt.outbound_application_by_token
    app = vault.app_id

    assert by_token.fetch_token(member, app, user, tenant_id=tenant)["token"]["token"] == in_tenant
    assert by_token.fetch_tenant_token(admin, app, tenant)["token"]["token"] == tenant_wide
    scoped = by_token.fetch_tenant_token_by_scopes(admin, app, tenant, ["read"])["token"]
    assert scoped["token"] == tenant_wide

    for call in (
        lambda: by_token.fetch_tenant_token(member, app, tenant),  # no role in the tenant
        lambda: by_token.fetch_tenant_token(outsider, app, tenant),  # not in the tenant
        lambda: by_token.fetch_token(outsider, app, user, tenant_id=tenant),
        lambda: by_token.fetch_tenant_token_by_scopes(member, app, tenant, ["read"]),
    ):
        status, text = refused(call)
        assert status == 403 and "E130403" in text, text
        assert in_tenant not in text and tenant_wide not in text


def test_every_refusal_is_401_or_403_and_the_same_whether_a_token_exists_or_not(
    vault: Vault,
    descope: DescopeClient,
    agents_idp: OidcServer,
    agent_client: OidcClient,
    catcher: CallbackCatcher,
    extra_issuer: OwnIssuer,
    stranger: OwnIssuer,
) -> None:
    user, victim = vault.new_user(), vault.new_user()
    store_token(vault, {"userId": user}, ["read"])
    store_token(vault, {"userId": victim}, ["read"])
    nobody = vault.new_user()  # holds no token at all
    base = vault.server.base_url
    own = user_token(agents_idp, agent_client, catcher, user, resource=base)
    no_scope = user_token(
        agents_idp, agent_client, catcher, user, resource=base, scope="profile.read"
    )
    wrong_audience = user_token(agents_idp, agent_client, catcher, user, resource=OTHER_RESOURCE)
    now = int(time.time())
    expired = extra_issuer.token(user, aud="vault", scope=FETCH_SCOPE, iat=now - 900, exp=now - 300)
    unknown_issuer = stranger.token(user, aud="vault", scope=FETCH_SCOPE)
    vault.seen.update((own, no_scope, wrong_audience))
    by_token = descope.mgmt.outbound_application_by_token

    cases = {
        # (token, whose tokens it asks for) -> status
        "other subject": (own, victim, 403),
        "missing scope": (no_scope, user, 403),
        "wrong audience": (wrong_audience, user, 401),
        "expired": (expired, user, 401),
        "unknown issuer": (unknown_issuer, user, 401),
        "tampered signature": (tampered(own), victim, 401),
    }
    for name, (token, owner, status) in cases.items():
        answers = set()
        # Asked for an owner who holds a token and for one who holds none: the same answer.
        for target in (owner, nobody):
            got, text = refused(lambda t=token, o=target: by_token.fetch_token(t, vault.app_id, o))
            assert got == status, (name, text)
            answers.add(text)
        assert len(answers) == 1, (name, answers)  # no hint whether a token exists
        assert "provider-at-" not in answers.pop()
    # The token is fine for its own subject.
    assert by_token.fetch_token(own, vault.app_id, user)["token"]["userId"] == user
    status, _ = refused(lambda: by_token.fetch_token(own, vault.app_id, nobody))
    assert status == 403
    # The attempt on another user's token is in the audit log, against that user, by whom.
    deadline = time.monotonic() + 10
    while True:
        with vault.http as http:
            events = http.get("/v1/mgmt/outbound/audit", params={"userId": victim}).json()
        tried = [e for e in events["events"] if e["action"] == "token.fetch"]
        if tried or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert [(e["actor"], e["errorCode"]) for e in tried] == [
        (f"jwt:{user}@{agents_idp.issuer}", "E130403")
    ]
    assert not [t for t in (own, no_scope, wrong_audience, expired) if t in vault.server.log()]


def test_scp_lists_and_a_configured_subject_claim(
    vault: Vault, descope: DescopeClient, extra_issuer: OwnIssuer, issuers_restored: None
) -> None:
    user = vault.new_user()
    stored = store_token(vault, {"userId": user}, ["read"])
    by_token = descope.mgmt.outbound_application_by_token
    scp = extra_issuer.token("agent-session-1", aud="vault", scp=[FETCH_SCOPE], uid=user)

    status, _ = refused(lambda: by_token.fetch_token(scp, vault.app_id, user))
    assert status == 403  # sub is not the user

    set_issuer(
        vault,
        extra_issuer.issuer,
        extra_issuer.jwks_url,
        "--audience",
        "vault",
        "--subject-claim",
        "uid",
        "--add",
    )
    assert by_token.fetch_token(scp, vault.app_id, user)["token"]["token"] == stored
    # An issuer whose tokens may not fetch at all.
    set_issuer(
        vault,
        extra_issuer.issuer,
        extra_issuer.jwks_url,
        "--audience",
        "vault",
        "--subject-claim",
        "uid",
        "--fetch-scope",
        "",
        "--add",
    )
    status, _ = refused(lambda: by_token.fetch_token(scp, vault.app_id, user))
    assert status == 403


def test_removing_an_issuer_stops_its_tokens(
    vault: Vault,
    descope: DescopeClient,
    extra_issuer: OwnIssuer,
    agents_idp: OidcServer,
    issuers_restored: None,
) -> None:
    user = vault.new_user()
    store_token(vault, {"userId": user}, ["read"])
    token = extra_issuer.token(user, aud="vault", scope=FETCH_SCOPE)
    by_token = descope.mgmt.outbound_application_by_token
    assert by_token.fetch_token(token, vault.app_id, user)["token"]["userId"] == user

    projects_cli(vault, "remove-session-issuer", "--issuer", extra_issuer.issuer)
    status, _ = refused(lambda: by_token.fetch_token(token, vault.app_id, user))
    assert status == 401
    listed = [
        json.loads(line)["issuer"] for line in projects_cli(vault, "session-issuers").splitlines()
    ]
    assert listed == [agents_idp.issuer]


def test_metrics_count_delegated_fetches_apart(
    store: Store, idp: OidcServer, catcher: CallbackCatcher, extra_issuer: OwnIssuer
) -> None:
    port = free_port()
    with running_server(store, extra_args=[*SERVER_ARGS, "--metrics-port", str(port)]) as server:
        oauth_client, app_id = create_app(server, idp, catcher)
        observed = Vault(server, idp, oauth_client, catcher, app_id)
        set_issuer(observed, extra_issuer.issuer, extra_issuer.jwks_url, "--audience", "vault")
        user = observed.new_user()
        store_token(observed, {"userId": user}, ["read"])
        with observed.http as http:
            assert http.post(
                "/v1/mgmt/outbound/app/user/token/latest", json={"appId": app_id, "userId": user}
            ).is_success
        token = extra_issuer.token(user, aud="vault", scope=FETCH_SCOPE)
        for owner, expected in ((user, 200), (user, 200), ("someone-else", 403)):
            response = httpx.post(
                server.base_url + "/v1/mgmt/outbound/app/user/token/latest",
                json={"appId": app_id, "userId": owner},
                headers={"Authorization": f"Bearer {server.project_id}:{token}"},
            )
            assert response.status_code == expected, response.text
        unsigned = token.rsplit(".", 1)[0] + ".AAAA"
        response = httpx.post(
            server.base_url + "/v1/mgmt/outbound/app/user/token/latest",
            json={"appId": app_id, "userId": user},
            headers={"Authorization": f"Bearer {server.project_id}:{unsigned}"},
        )
        assert response.status_code == 401

        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    delegated = {
        dict(labels)["outcome"]: value
        for (name, labels), value in samples.items()
        if name == "outbound_delegated_token_fetches_total"
    }
    assert delegated == {"ok": 2, "E130403": 1, "E130401": 1}
    # All fetches that reached the store, the key's among them.
    assert samples[("outbound_token_fetches_total", (("outcome", "ok"),))] == 3
