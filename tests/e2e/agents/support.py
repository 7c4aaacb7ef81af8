"""What the agents tests share: the project's issuers, a user's JWT access token from the
real authorization server, a stored provider token."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
from tests.e2e.conftest import Vault, scripted_consent
from tests.support.browser import CallbackCatcher
from tests.support.jwt_issuer import OwnIssuer
from tests.support.oidc_server import OidcClient, OidcServer
from tests.support.server import outbound_cli

FETCH_SCOPE = "outbound.token.fetch"
OTHER_RESOURCE = "https://another-api.example.test/"


def trust_both(vault: Vault, agents_idp: OidcServer, extra_issuer: OwnIssuer) -> None:
    """The project trusts both issuers (the second with --add)."""
    set_issuer(vault, agents_idp.issuer, agents_idp.jwks_url, "--audience", vault.server.base_url)
    set_issuer(
        vault,
        extra_issuer.issuer,
        extra_issuer.jwks_url,
        "--audience",
        "vault",
        "--tenant-role",
        "Tenant Admin",
        "--add",
    )


def projects_cli(vault: Vault, command: str, *args: str) -> str:
    store = vault.server.store
    return outbound_cli(
        "projects",
        command,
        "--project",
        vault.server.project_id,
        *args,
        *store.args,
        env=store.env,
    )


def set_issuer(vault: Vault, issuer: str, jwks_url: str, *args: str) -> None:
    out = projects_cli(
        vault, "set-session-issuer", "--issuer", issuer, "--jwks-url", jwks_url, *args
    )
    assert json.loads(out)["issuer"] == issuer


def user_token(
    idp: OidcServer,
    client: OidcClient,
    catcher: CallbackCatcher,
    user: str,
    *,
    resource: str,
    scope: str = FETCH_SCOPE,
) -> str:
    """The user signs in to the agent (authorization code + PKCE, RFC 8707 resource): the JWT
    access token the agent gets for ``resource``."""
    metadata = httpx.get(idp.discovery_url, timeout=10).json()
    state = secrets.token_urlsafe(16)
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    query = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": catcher.url,
        "scope": f"openid {scope}",
        "resource": resource,
        "state": state,
        "code_challenge": challenge.decode(),
        "code_challenge_method": "S256",
    }
    final = scripted_consent(
        f"{metadata['authorization_endpoint']}?{urlencode(query)}", catcher.url, user
    )
    params = dict(parse_qsl(urlsplit(final).query))
    assert params.get("state") == state, final
    response = httpx.post(
        metadata["token_endpoint"],
        data={
            "grant_type": "authorization_code",
            "code": params["code"],
            "redirect_uri": catcher.url,
            "code_verifier": verifier,
            "resource": resource,
        },
        auth=(client.client_id, client.client_secret),
        timeout=10,
    )
    assert response.status_code == 200, response.text
    access_token: str = response.json()["access_token"]
    return access_token


def store_token(vault: Vault, owner: dict[str, str], scopes: list[str]) -> str:
    """Upload a provider token for the owner (user or tenant); its access token."""
    access_token = "provider-at-" + secrets.token_urlsafe(16)
    refresh_token = "provider-rt-" + secrets.token_urlsafe(16)
    kind = "tenant" if "userId" not in owner else "user"
    with vault.http as http:
        response = http.post(
            f"/v1/mgmt/outbound/app/{kind}/oauthtoken/upload",
            json={
                "appId": vault.app_id,
                **owner,
                "accessToken": access_token,
                "refreshToken": refresh_token,
                "accessTokenExpiry": int(time.time()) + 3600,
                "scopes": scopes,
            },
        )
    assert response.status_code == 200, response.text
    vault.seen.update((access_token, refresh_token))
    return access_token


def tampered(token: str) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = "someone-else"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"
