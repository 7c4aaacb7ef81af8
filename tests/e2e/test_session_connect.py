"""The end user's own connect request: ``POST /v1/outbound/oauth/connect`` with a session JWT.

The session issuer is the real test provider (``oidc-provider``): its id tokens, signed with
its published keys, are the session tokens. Tokens it cannot make (expired, ES256) come from a
second issuer the test runs itself, with a JWKS of its own.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import jwt
import pytest
from tests.e2e.conftest import Vault, scripted_consent
from tests.support.browser import CallbackCatcher
from tests.support.database import execute
from tests.support.jwt_issuer import OwnIssuer
from tests.support.jwt_issuer import own_issuer as run_own_issuer
from tests.support.oidc_server import OidcServer
from tests.support.server import outbound_cli

CONNECT = "/v1/outbound/oauth/connect"


# -- a second issuer, run by the test ---------------------------------------------------------


@pytest.fixture(scope="module")
def own_issuer() -> Iterator[OwnIssuer]:
    with run_own_issuer() as issuer:
        yield issuer


# -- session tokens from the real provider ----------------------------------------------------


@dataclass
class Session:
    user: str
    id_token: str
    client_id: str
    jwks_url: str


def sign_in(idp: OidcServer, catcher: CallbackCatcher, user: str) -> Session:
    """The user signs in at the provider (an app of its own); the id token it gets back."""
    client = idp.add_client([catcher.url])
    metadata = httpx.get(idp.discovery_url, timeout=10).json()
    state = secrets.token_urlsafe(16)
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    query = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": catcher.url,
        "scope": "openid email",
        "state": state,
        "code_challenge": challenge.decode(),
        "code_challenge_method": "S256",
    }
    final = scripted_consent(
        f"{metadata['authorization_endpoint']}?{urlencode(query)}", catcher.url, user
    )
    params = dict(parse_qsl(urlsplit(final).query))
    assert params["state"] == state
    response = httpx.post(
        metadata["token_endpoint"],
        data={
            "grant_type": "authorization_code",
            "code": params["code"],
            "redirect_uri": catcher.url,
            "code_verifier": verifier,
        },
        auth=(client.client_id, client.client_secret),
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return Session(user, response.json()["id_token"], client.client_id, metadata["jwks_uri"])


@pytest.fixture(scope="module")
def session(vault: Vault, idp: OidcServer, catcher: CallbackCatcher) -> Session:
    signed_in = sign_in(idp, catcher, vault.new_user())
    vault.seen.add(signed_in.id_token)
    return signed_in


def set_issuer(vault: Vault, issuer: str, jwks_url: str, audience: str = "", *extra: str) -> None:
    """Configure the project's issuer; without ``audience``, with the explicit opt-out."""
    store = vault.server.store
    args = ["--project", vault.server.project_id, "--issuer", issuer, "--jwks-url", jwks_url]
    out = outbound_cli(
        "projects",
        "set-session-issuer",
        *args,
        *(["--audience", audience] if audience else ["--no-audience"]),
        *extra,
        *store.args,
        env=store.env,
    )
    assert json.loads(out)["issuer"] == issuer


def connect(vault: Vault, token: str, **body: Any) -> httpx.Response:
    return httpx.post(
        vault.server.base_url + CONNECT,
        json={"appId": vault.app_id, **body},
        headers={"Authorization": f"Bearer {vault.server.project_id}:{token}"},
        timeout=30,
    )


def sessions_count(vault: Vault) -> int:
    """Connect sessions in progress: a refused request must add none. (Ended ones are purged
    within minutes, so the table's size proves nothing.)"""
    now = int(time.time())
    rows = execute(
        vault.server.store,
        "SELECT COUNT(*) FROM connect_sessions WHERE completed_at IS NULL"
        " AND (link_expires_at >= ? OR state_expires_at >= ?)",
        (now, now),
    )
    return int(rows[0][0])


def assert_refused(vault: Vault, response: httpx.Response, why: str) -> None:
    assert response.status_code == 401, response.text
    answer = response.json()
    assert answer["errorCode"] == "E130401"
    assert why in answer["errorMessage"]


# -- the tests --------------------------------------------------------------------------------


def test_a_session_token_connects_its_own_subject_end_to_end(
    vault: Vault, idp: OidcServer, session: Session
) -> None:
    set_issuer(vault, idp.issuer, session.jwks_url, audience=session.client_id)

    response = connect(vault, session.id_token, options={"scopes": ["openid", "read"]})

    assert response.status_code == 200, response.text
    assert set(response.json()) == {"url"}
    link = response.json()["url"]
    vault.seen.add(httpx.URL(link).params["link"])
    final = scripted_consent(link, vault.catcher.url, session.user)
    assert dict(parse_qsl(urlsplit(final).query)) == {"status": "success"}
    token = vault.token(session.user)
    assert (
        token["userId"]
        == session.user
        == jwt.decode(session.id_token, options={"verify_signature": False})["sub"]
    )
    assert idp.introspect(token["accessToken"])["sub"] == session.user
    assert session.id_token not in vault.server.log()


def test_without_a_configured_issuer_the_request_is_refused(vault: Vault, session: Session) -> None:
    execute(vault.server.store, "DELETE FROM session_issuers")
    before = sessions_count(vault)

    response = connect(vault, session.id_token)

    assert_refused(vault, response, "no session issuer configured")
    assert sessions_count(vault) == before


def _tampered(token: str) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = "someone-else"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


def _unsigned(token: str) -> str:
    payload = token.split(".")[1]
    header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
    return f"{header}.{payload}."


def _hs256(token: str) -> str:
    claims = jwt.decode(token, options={"verify_signature": False})
    return jwt.encode(claims, secrets.token_bytes(32), algorithm="HS256")


@pytest.mark.parametrize(
    ("forge", "why"),
    [
        (_tampered, "signature does not verify"),
        (_unsigned, "algorithm 'none' is not accepted"),
        (_hs256, "algorithm 'HS256' is not accepted"),
        (lambda token: "not-a-jwt", "not a well-formed JWT"),
    ],
    ids=["tampered", "alg-none", "hs256", "garbage"],
)
def test_a_forged_token_is_refused_and_creates_nothing(
    vault: Vault, idp: OidcServer, session: Session, forge: Any, why: str
) -> None:
    set_issuer(vault, idp.issuer, session.jwks_url, audience=session.client_id)
    before = sessions_count(vault)
    forged = forge(session.id_token)

    response = connect(vault, forged)

    assert_refused(vault, response, why)
    assert sessions_count(vault) == before
    assert forged not in vault.server.log()


def test_a_token_from_another_issuer_or_for_another_audience_is_refused(
    vault: Vault, idp: OidcServer, session: Session
) -> None:
    before = sessions_count(vault)

    set_issuer(vault, "https://sessions.example.com", session.jwks_url)
    assert_refused(vault, connect(vault, session.id_token), "issuer (iss)")
    set_issuer(vault, idp.issuer, session.jwks_url, audience="another-app")
    assert_refused(vault, connect(vault, session.id_token), "audience (aud)")

    assert sessions_count(vault) == before
    assert session.id_token not in vault.server.log()


def test_es256_tokens_verify_and_expired_ones_are_refused(
    vault: Vault, own_issuer: OwnIssuer
) -> None:
    set_issuer(vault, own_issuer.issuer, own_issuer.jwks_url, audience="my-app")
    user = vault.new_user()
    now = int(time.time())

    fresh = own_issuer.token(user, aud=["my-app", "other"])
    within_leeway = own_issuer.token(user, aud="my-app", exp=now - 30)
    expired = own_issuer.token(user, aud="my-app", iat=now - 600, exp=now - 120)
    no_sub = own_issuer.token("", aud="my-app")
    bidi_sub = own_issuer.token("\u202e" + user, aud="my-app")

    assert connect(vault, fresh).status_code == 200
    assert connect(vault, within_leeway).status_code == 200
    before = sessions_count(vault)
    assert_refused(vault, connect(vault, expired), "has expired")
    assert_refused(vault, connect(vault, no_sub), "subject (sub)")
    assert_refused(vault, connect(vault, bidi_sub), "subject (sub)")
    assert sessions_count(vault) == before
    log = vault.server.log()
    assert not [t for t in (fresh, within_leeway, expired) if t in log]


def test_a_tenant_needs_the_tokens_tenants_claim(vault: Vault, own_issuer: OwnIssuer) -> None:
    set_issuer(vault, own_issuer.issuer, own_issuer.jwks_url)
    user = vault.new_user()

    member = own_issuer.token(user, tenants={"T1": {"roles": []}})

    assert connect(vault, member, tenantId="T1").status_code == 200
    assert_refused(vault, connect(vault, member, tenantId="T2"), "does not name tenant 'T2'")
    assert_refused(
        vault, connect(vault, own_issuer.token(user), tenantId="T1", tenantLevel=True), "T1"
    )
    spoof = connect(vault, member, userId="someone-else")
    assert spoof.status_code == 400 and spoof.json()["errorCode"] == "E011004"


def test_the_audience_is_required_unless_explicitly_waived(
    vault: Vault, own_issuer: OwnIssuer
) -> None:
    store = vault.server.store
    base = ["--project", vault.server.project_id, "--issuer", own_issuer.issuer]
    base += ["--jwks-url", own_issuer.jwks_url, *store.args]
    with pytest.raises(RuntimeError, match="--no-audience"):
        outbound_cli("projects", "set-session-issuer", *base, env=store.env)
    user = vault.new_user()
    no_aud = own_issuer.token(user)

    # An issuer stored without an audience (as older versions allowed) is not trusted...
    set_issuer(vault, own_issuer.issuer, own_issuer.jwks_url, "my-app")
    assert_refused(vault, connect(vault, no_aud), "no 'aud' claim")  # aud is required
    execute(store, "UPDATE session_issuers SET audience = ''")
    assert_refused(vault, connect(vault, own_issuer.token(user, aud="x")), "no audience")
    # ... until the operator waives it explicitly.
    set_issuer(vault, own_issuer.issuer, own_issuer.jwks_url)
    assert connect(vault, no_aud).status_code == 200


def test_a_tenant_level_connection_needs_the_configured_role_and_records_the_subject(
    vault: Vault, own_issuer: OwnIssuer
) -> None:
    user = vault.new_user()
    tenant = "tl-" + secrets.token_hex(3)
    admin = own_issuer.token(user, aud="my-app", tenants={tenant: {"roles": ["Tenant Admin"]}})
    member = own_issuer.token(user, aud="my-app", tenants={tenant: {"roles": ["viewer"]}})
    body = {"tenantId": tenant, "tenantLevel": True}
    before = sessions_count(vault)

    set_issuer(vault, own_issuer.issuer, own_issuer.jwks_url, "my-app")
    off = connect(vault, admin, **body)  # no role configured: off
    assert off.status_code == 403 and off.json()["errorCode"] == "E130403", off.text
    assert "--tenant-role" in off.json()["errorMessage"]

    set_issuer(
        vault, own_issuer.issuer, own_issuer.jwks_url, "my-app", "--tenant-role", "Tenant Admin"
    )
    refused = connect(vault, member, **body)
    assert refused.status_code == 403 and refused.json()["errorCode"] == "E130403"
    assert sessions_count(vault) == before
    assert connect(vault, member, tenantId=tenant).status_code == 200  # as a user: fine

    allowed = connect(vault, admin, **body)
    assert allowed.status_code == 200, allowed.text
    link = allowed.json()["url"]
    vault.seen.add(httpx.URL(link).params["link"])
    final = scripted_consent(link, vault.catcher.url, "admin-of-" + tenant)
    assert dict(parse_qsl(urlsplit(final).query)) == {"status": "success"}
    with vault.http as http:
        token = http.post(
            "/v1/mgmt/outbound/app/tenant/token/latest",
            json={"appId": vault.app_id, "tenantId": tenant},
        ).json()["token"]
    assert token["tenantId"] == tenant and token["userId"] == ""
    assert token["grantedBy"] == user  # the session token's sub


def test_the_cli_refuses_an_unknown_project(vault: Vault, own_issuer: OwnIssuer) -> None:
    store = vault.server.store
    with pytest.raises(RuntimeError, match="no project 'P-nope'"):
        outbound_cli(
            "projects",
            "set-session-issuer",
            *["--project", "P-nope", "--issuer", own_issuer.issuer, "--no-audience"],
            *["--jwks-url", own_issuer.jwks_url, *store.args],
            env=store.env,
        )
