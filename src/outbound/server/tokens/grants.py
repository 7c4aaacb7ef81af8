"""Tokens obtained without a user: RFC 6749 §4.4 client credentials, GitHub App installations.

Neither has a refresh token: the vault obtains the token again when it is due, under the
refresh lease, so that however many callers race on however many servers, one request reaches
the provider (``refresh.LeaseRefresher`` calls :func:`obtain` where it would refresh). What
differs from a refresh:

- **client credentials** — tenant-level (``fetch_tenant_token*``) or app-level (the reserved
  tenant id ``outbound:app``, ``app_fields.APP_LEVEL_TENANT``); the first fetch makes the row
  (``storage.grant_tokens``) and obtains the token. The client secret goes to the token URL
  only, bound to its recorded origin like every client secret (``oauth.origins``). A refusal
  (``invalid_client``, ``invalid_scope``) says the app is wrong, not a user's consent: E131014,
  and the next fetch tries again.
- **GitHub App installations** — a connection per installation, made by uploading its id (or
  by GitHub's install page coming back to the connect callback): checked against the app with
  ``GET /app/installations/{id}`` before anything is stored. Each fetch that finds the token
  due mints a new one-hour installation token with the app's JWT. An installation that is
  gone (404) needs installing again: E131010, as a revoked consent.

Invariants: the private key and the client secret never leave the server except as GitHub's
JWT signature and the token request's client authentication; a token row obtained by a grant
says so in ``extra["grantType"]``.
"""

from __future__ import annotations

import time

from ...app_fields import APP_LEVEL_TENANT
from ...oauth import OAuthClient, OAuthConfigError, PermanentOAuthError, ProviderConfig
from ...oauth.github_app import (
    Installation,
    app_jwt,
    check_installation_id,
    check_private_key,
    installation_token_request,
    installation_url,
    parse_installation,
    parse_installation_token,
)
from ...secret import Secret
from ...storage import AppRecord, Store, TokenRecord
from ...storage.grant_tokens import (
    GRANT_TYPE_KEY,
    INSTALLATION_KEY,
    ensure_grant_token,
    widen_scopes,
)
from ...storage.leases import RefreshedToken
from ..http.errors import ApiError
from .token_state import ASSUMED_LIFETIME

__all__ = [
    "check_grant_app",
    "first_grant_token",
    "obtain",
    "verify_installation",
    "widen_grant_token",
]


def check_grant_app(config: dict[str, object], private_key: Secret | None) -> None:
    """What an app of each grant type needs, checked at create and update: ApiError naming
    the field (a bad PEM is a 400 here, not a failed fetch later)."""
    grant = config.get("grantType") or "authorization_code"
    if grant == "client_credentials":
        if not (config.get("tokenUrl") or config.get("discoveryUrl")):
            raise ApiError(
                "E011002",
                "missing argument 'tokenUrl': a client-credentials app names its token URL"
                " (or a discoveryUrl)",
            )
        if not config.get("clientId"):
            raise ApiError("E011002", "missing argument 'clientId'")
    if grant == "github_app_installation":
        if not config.get("githubAppId"):
            raise ApiError(
                "E011002",
                "missing argument 'githubAppId': the GitHub App's client id or app id",
            )
        if private_key is None:
            raise ApiError(
                "E011002", "missing argument 'privateKey': the GitHub App's private key (PEM)"
            )
        token_url = str(config.get("tokenUrl") or "")
        if token_url and "{installation_id}" not in token_url:
            raise ApiError(
                "E011003",
                "invalid field 'tokenUrl': a GitHub App's token URL names the installation as"
                " {installation_id} (…/app/installations/{installation_id}/access_tokens)",
            )
    if private_key is not None:
        try:
            check_private_key(private_key.reveal())
        except ValueError as exc:
            raise ApiError("E011003", f"invalid field 'privateKey': {exc}") from None


async def first_grant_token(
    store: Store, project_id: str, app_id: str, user_id: str, tenant_id: str, scopes: list[str]
) -> TokenRecord | None:
    """For a fetch that found no token: the empty row of a client-credentials app's tenant or
    app-level token, made now (to be obtained under the lease); None for any other app or
    owner (the fetch answers 404 as before)."""
    if user_id:
        return None
    app = await store.apps.get(project_id, app_id)
    if app is None or app.config.get("grantType") != "client_credentials":
        return None
    return await ensure_grant_token(
        store,
        project_id,
        app_id,
        tenant_id or APP_LEVEL_TENANT,
        grant_type="client_credentials",
        scopes=scopes or list(app.config.get("defaultScopes") or []),
    )


async def widen_grant_token(
    store: Store, token: TokenRecord, scopes: list[str]
) -> TokenRecord | None:
    """For a by-scopes fetch that found the owner's client-credentials token without some of
    ``scopes``: the row, now asking for its scopes and these (to be obtained again, under the
    lease); None for any other token (the fetch answers 404 as before)."""
    if token.extra.get(GRANT_TYPE_KEY) != "client_credentials" or token.needs_reconnect:
        return None
    return await widen_scopes(store, token, list(dict.fromkeys([*token.scopes, *scopes])))


def _issuer_and_key(app: AppRecord) -> tuple[str, Secret]:
    issuer = str(app.config.get("githubAppId") or "")
    if not issuer or app.private_key is None:
        raise OAuthConfigError(
            "missing_github_app", "the GitHub App's id or private key is not set"
        )
    return issuer, app.private_key


async def verify_installation(
    client: OAuthClient, app: AppRecord, installation_id: str, *, clock: float | None = None
) -> Installation:
    """The installation, if it is this GitHub App's (``GET /app/installations/{id}`` with the
    app's JWT); raises the engine's errors otherwise."""
    try:
        check_installation_id(installation_id)
    except ValueError as exc:
        raise ApiError("E011003", f"invalid field 'installationId': {exc}") from None
    issuer, key = _issuer_and_key(app)
    jwt_ = app_jwt(issuer, key, time.time() if clock is None else clock)
    url, headers = installation_url(str(app.config.get("tokenUrl") or ""), installation_id, jwt_)
    status, answer_headers, body = await client.call("GET", url, headers)
    return parse_installation(status, body, issuer, answer_headers.get("retry-after"))


async def obtain(
    client: OAuthClient,
    app: AppRecord,
    config: ProviderConfig,
    token: TokenRecord,
    *,
    timeout: float | None = None,
) -> RefreshedToken:
    """A new token for ``token``'s row, by the app's grant (under the row's lease)."""
    if config.grant_type == "github_app_installation":
        issuer, key = _issuer_and_key(app)
        installation_id = str(token.extra.get(INSTALLATION_KEY, ""))
        url, headers = installation_token_request(
            config.token_url, installation_id, app_jwt(issuer, key, time.time())
        )
        status, answer_headers, body = await client.call("POST", url, headers)
        minted = parse_installation_token(status, body, answer_headers.get("retry-after"))
        return RefreshedToken(
            access_token=minted.token,
            refresh_token=None,
            id_token=None,
            token_type="token",  # noqa: S106 - GitHub's scheme name, not a secret
            expires_at=minted.expires_at,
            scopes=None,
            subject=installation_id,
            extra=minted.extra,
        )
    if config.grant_type != "client_credentials":
        raise OAuthConfigError(
            "not_a_grant_app", "the app no longer obtains tokens without a user; connect instead"
        )
    try:
        answer = await client.client_credentials(config, scopes=token.scopes, timeout=timeout)
    except PermanentOAuthError as exc:
        # The app's own credentials or scopes were refused: fixing the app is the cure, and
        # there is no user's consent to mark as gone.
        raise OAuthConfigError(exc.error, exc.description) from None
    if answer.access_token is None:
        raise OAuthConfigError("malformed_response", "the token answer has no access token")
    return RefreshedToken(
        access_token=answer.access_token,
        refresh_token=None,  # RFC 6749 §4.4.3: "A refresh token SHOULD NOT be included"
        id_token=None,
        token_type=answer.token_type or "Bearer",
        # an unknown lifetime is assumed, never "forever": the token is obtained again then
        expires_at=answer.expires_at or int(time.time()) + ASSUMED_LIFETIME,
        scopes=list(answer.scopes) if answer.scopes is not None else None,
        subject=answer.subject,
        extra=dict(answer.extra),
    )
