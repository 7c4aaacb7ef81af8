"""GitHub App installation tokens, as pure functions: the app's JWT, the requests, the answers.

A GitHub App acts in an organisation or account through an *installation*. Its private key
signs a short JWT — RS256, ``iss`` the app's client id or app id, ``iat`` 60 seconds in the past
against clock drift, ``exp`` at most 10 minutes ahead (GitHub, "Generating a JSON Web Token
(JWT) for a GitHub App") — which buys a one-hour installation access token at
``POST /app/installations/{installation_id}/access_tokens`` (GitHub, "Generating an
installation access token for a GitHub App"). ``GET /app/installations/{installation_id}``
with the same JWT answers only for the app's own installations: that is how an installation id
given by a caller, or by a browser coming back from GitHub's install page, is checked.

The app's ``tokenUrl`` names the token endpoint with an ``{installation_id}`` placeholder, so a
GitHub Enterprise Server (``https://HOST/api/v3/…``) and the tests' mock GitHub work alike;
empty means github.com's. The I/O is :meth:`.client.OAuthClient.call`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from ..secret import Secret
from .errors import OAuthConfigError, PermanentOAuthError, TransientOAuthError
from .tokens import retry_after_seconds

__all__ = [
    "DEFAULT_TOKEN_URL",
    "JWT_BACKDATE",
    "JWT_LIFETIME",
    "USERLESS_GRANTS",
    "Installation",
    "InstallationToken",
    "app_jwt",
    "check_private_key",
    "installation_token_request",
    "installation_url",
    "parse_installation",
    "parse_installation_token",
]

# The grant types that obtain tokens without a user (no connect, no refresh token).
USERLESS_GRANTS = ("client_credentials", "github_app_installation")

DEFAULT_TOKEN_URL = "https://api.github.com/app/installations/{installation_id}/access_tokens"  # noqa: S105
# GitHub: "set this 60 seconds in the past"; "no more than 10 minutes into the future". Nine
# minutes ahead keeps a fast clock of ours inside the limit too.
JWT_BACKDATE = 60
JWT_LIFETIME = 540
# GitHub's REST API media type and the API version these requests were written against.
_HEADERS = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
_INSTALLATION_ID = re.compile(r"^[1-9][0-9]{0,19}\Z")


@dataclass(frozen=True)
class Installation:
    id: str
    app_id: str
    # the organisation or user it is installed on ("" when GitHub does not say)
    account: str


@dataclass(frozen=True)
class InstallationToken:
    token: Secret
    expires_at: int
    # the permissions and repository selection GitHub granted (not secret)
    extra: dict[str, Any]


def check_private_key(pem: str) -> None:
    """Raise ``ValueError`` saying what is wrong unless ``pem`` is an RSA private key in PEM
    form, unencrypted, of at least 2048 bits — what GitHub issues and RS256 needs."""
    try:
        key = load_pem_private_key(pem.encode(), password=None)
    except TypeError:
        raise ValueError(
            "the private key is encrypted; give it unencrypted, as GitHub issues it"
        ) from None
    except (ValueError, UnicodeEncodeError):
        raise ValueError(
            "not a PEM private key (expected the .pem file GitHub issues, starting with"
            " '-----BEGIN RSA PRIVATE KEY-----')"
        ) from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("not an RSA private key: GitHub Apps sign their JWTs with RS256")
    if key.key_size < 2048:
        raise ValueError(f"an RSA key of {key.key_size} bits is too short (2048 at least)")


def check_installation_id(value: str) -> str:
    """``value`` when it is an installation id (a positive integer), else ``ValueError``."""
    if not _INSTALLATION_ID.match(value):
        raise ValueError("an installation id is a positive integer")
    return value


def app_jwt(issuer: str, private_key: Secret, now: float) -> Secret:
    """The app's JWT (RS256) at ``now``: ``iat`` backdated, ``exp`` within GitHub's ten
    minutes, ``iss`` the app's client id or app id."""
    issued = int(now) - JWT_BACKDATE
    claims = {"iat": issued, "exp": int(now) + JWT_LIFETIME, "iss": issuer}
    return Secret(jwt.encode(claims, private_key.reveal(), algorithm="RS256"))


def _url(token_url: str, installation_id: str) -> str:
    template = token_url or DEFAULT_TOKEN_URL
    if "{installation_id}" not in template:
        raise OAuthConfigError(
            "missing_installation_placeholder",
            "a GitHub App's tokenUrl names the installation as {installation_id}",
        )
    return template.replace("{installation_id}", check_installation_id(installation_id))


def installation_token_request(
    token_url: str, installation_id: str, app_token: Secret
) -> tuple[str, dict[str, str]]:
    """URL and headers of ``POST …/app/installations/{id}/access_tokens`` (no body: the
    token gets every permission and repository of the installation)."""
    return _url(token_url, installation_id), _auth(app_token)


def installation_url(
    token_url: str, installation_id: str, app_token: Secret
) -> tuple[str, dict[str, str]]:
    """URL and headers of ``GET …/app/installations/{id}`` (the installation, if it is the
    app's own)."""
    url = _url(token_url, installation_id)
    return url.removesuffix("/access_tokens"), _auth(app_token)


def _auth(app_token: Secret) -> dict[str, str]:
    # GitHub: "if you are passing a JSON web token (JWT), you must use Authorization: Bearer"
    return {**_HEADERS, "Authorization": f"Bearer {app_token.reveal()}"}


def _refused(status: int, what: str, retry_after: str | None) -> Exception:
    if status in (429, 408) or status >= 500:
        return TransientOAuthError(
            "rate_limited" if status == 429 else "server_error",
            f"GitHub answered HTTP {status} to {what}",
            status_code=status,
            retry_after=retry_after_seconds(retry_after),
        )
    if status == 404:
        # not this app's installation, or uninstalled since
        return PermanentOAuthError(
            "installation_not_found",
            "GitHub does not know this installation for the app (uninstalled, or another app's)",
            status_code=status,
        )
    if status == 403:
        # an installation suspended by its owner, or a secondary rate limit
        if retry_after:
            return TransientOAuthError(
                "rate_limited",
                f"GitHub answered HTTP 403 to {what}",
                status_code=status,
                retry_after=retry_after_seconds(retry_after),
            )
        return PermanentOAuthError(
            "installation_suspended",
            "GitHub refused the installation (HTTP 403: suspended?)",
            status_code=status,
        )
    # 401: the JWT was refused — wrong app id or private key, or a clock far off
    return OAuthConfigError(
        "invalid_app_jwt",
        f"GitHub refused the app's JWT (HTTP {status}): check githubAppId, the private key"
        " and this server's clock",
    )


def _json(body: bytes) -> dict[str, Any] | None:
    try:
        payload = json.loads(body)
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None


def parse_installation_token(
    status: int, body: bytes, retry_after: str | None = None
) -> InstallationToken:
    """Read GitHub's answer to the token request (201 ``{"token", "expires_at", …}``)."""
    if status != 201 and status != 200:
        raise _refused(status, "the installation token request", retry_after)
    payload = _json(body)
    token = payload.get("token") if payload else None
    expires = payload.get("expires_at") if payload else None
    if not isinstance(token, str) or not token or not isinstance(expires, str):
        raise TransientOAuthError(
            "malformed_response", "GitHub's installation token answer has no token or expiry"
        )
    try:
        expires_at = int(datetime.fromisoformat(expires.replace("Z", "+00:00")).timestamp())
    except ValueError:
        raise TransientOAuthError(
            "malformed_response", "GitHub's installation token expiry is not a time"
        ) from None
    extra: dict[str, Any] = {}
    assert payload is not None
    for key in ("permissions", "repository_selection"):
        if key in payload:
            extra[key] = payload[key]
    return InstallationToken(Secret(token), expires_at, extra)


def parse_installation(
    status: int, body: bytes, expected_app: str, retry_after: str | None = None
) -> Installation:
    """Read ``GET /app/installations/{id}``: the installation, checked to be the app's."""
    if status != 200:
        raise _refused(status, "the installation lookup", retry_after)
    payload = _json(body)
    if payload is None or not isinstance(payload.get("id"), int):
        raise TransientOAuthError("malformed_response", "GitHub's installation answer is not one")
    app_id = str(payload.get("app_id", ""))
    client_id = str(payload.get("client_id", ""))
    if expected_app not in (app_id, client_id):
        raise PermanentOAuthError(
            "installation_not_found", "the installation belongs to another GitHub App"
        )
    account = payload.get("account")
    login = account.get("login", "") if isinstance(account, dict) else ""
    return Installation(str(payload["id"]), app_id, login if isinstance(login, str) else "")
