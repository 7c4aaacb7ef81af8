"""GitHub App installations as connections, against a mock GitHub that checks every JWT as
GitHub documents it (tests/support/mock_github.py): an installation id uploaded for a tenant is
checked with GitHub first, each fetch gets an installation token, minted again before its hour
ends; a bad PEM is refused when the app is made, another app's installation when it is
uploaded."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from tests.e2e.conftest import Vault
from tests.support.database import execute
from tests.support.mock_github import GitHubApp, MockGitHub
from tests.support.server import LiveServer

from outbound import Client

INSTALLATION_UPLOAD = "/v1/mgmt/outbound/app/tenant/installation/upload"


@pytest.fixture(scope="module")
def github() -> Iterator[MockGitHub]:
    with MockGitHub() as github:
        yield github


def create_github_app(
    server: LiveServer, github: MockGitHub, gh_app: GitHubApp, **fields: Any
) -> httpx.Response:
    with server.client() as http:
        return http.post(
            "/v1/mgmt/outbound/app/create",
            json={
                "name": "gh-" + gh_app.app_id,
                "grantType": "github_app_installation",
                "githubAppId": gh_app.client_id,
                "privateKey": gh_app.private_key_pem,
                "tokenUrl": github.token_url,
                **fields,
            },
        )


def new_app(server: LiveServer, github: MockGitHub) -> tuple[GitHubApp, str]:
    gh_app = github.add_app()
    response = create_github_app(server, github, gh_app)
    assert response.status_code == 200, response.text
    app = response.json()["app"]
    assert app["grantType"] == "github_app_installation"
    assert app["hasPrivateKey"] is True and "privateKey" not in app
    assert app["appType"] == "oauth"
    return gh_app, app["id"]


def upload(server: LiveServer, app_id: str, tenant: str, installation_id: Any) -> httpx.Response:
    with server.client() as http:
        return http.post(
            INSTALLATION_UPLOAD,
            json={"appId": app_id, "tenantId": tenant, "installationId": installation_id},
        )


def fetch(server: LiveServer, app_id: str, tenant: str, **options: Any) -> httpx.Response:
    with server.client() as http:
        return http.post(
            "/v1/mgmt/outbound/app/tenant/token/latest",
            json={"appId": app_id, "tenantId": tenant, "options": options or None},
        )


def test_an_uploaded_installation_gives_installation_tokens_minted_again_before_they_end(
    vault: Vault, github: MockGitHub
) -> None:
    server = vault.server
    gh_app, app_id = new_app(server, github)
    installation = github.install(gh_app, "acme-org")
    refused_before = len(github.refused)  # the mock is shared by this module's tests

    uploaded = upload(server, app_id, "acme", int(installation))
    assert uploaded.status_code == 200, uploaded.text
    assert uploaded.json() == {"installationId": installation, "account": "acme-org"}
    assert github.lookups.count(installation) == 1

    token = fetch(server, app_id, "acme").json()["token"]
    assert token["accessToken"].startswith("ghs_")
    assert token["hasRefreshToken"] is False
    assert token["extra"]["installationId"] == installation
    assert token["extra"]["account"] == "acme-org"
    assert token["extra"]["repository_selection"] == "all"
    (minted,) = github.mints(installation)
    assert minted.token == token["accessToken"]
    assert int(token["accessTokenExpiry"]) == minted.expires_at
    # the JWT as GitHub documents it (the mock refused nothing, and checked these)
    claims = minted.jwt_claims
    assert claims["iss"] == gh_app.client_id
    assert claims["exp"] - claims["iat"] <= 600
    assert time.time() - 70 <= claims["iat"] <= time.time() - 50
    assert github.refused[refused_before:] == []

    # Within its hour: the same token from the store.
    for _ in range(3):
        assert fetch(server, app_id, "acme").json()["token"]["accessToken"] == minted.token
    assert len(github.mints(installation)) == 1

    # Four minutes left (inside the refresh margin), still valid at GitHub: minted again
    # before it ends.
    left = int(time.time()) + 240
    execute(
        server.store,
        "UPDATE tokens SET access_token_expiry = ?, last_refresh_time = ?"
        " WHERE app_id = ? AND tenant_id = ?",
        (left, left - 3600, app_id, "acme"),
    )
    renewed = fetch(server, app_id, "acme").json()["token"]
    assert renewed["accessToken"] != minted.token
    assert len(github.mints(installation)) == 2
    assert github.is_valid(minted.token)  # the old one had not ended yet
    assert github.is_valid(renewed["accessToken"])
    assert github.refused[refused_before:] == []
    assert int(renewed["accessTokenExpiry"]) > time.time() + 3500

    # Our SDK fetches it as any tenant token.
    sdk = Client(server.project_id, server.management_key, base_url=server.base_url)
    got = sdk.mgmt.outbound_application.fetch_tenant_token(app_id, "acme")["token"]
    assert got["accessToken"] == renewed["accessToken"]
    assert gh_app.private_key_pem.splitlines()[1] not in server.log()


def test_a_bad_pem_is_refused_when_the_app_is_made(vault: Vault, github: MockGitHub) -> None:
    gh_app = github.add_app()
    ec_key = (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    short = github.add_app(key_size=1024).private_key_pem
    truncated = gh_app.private_key_pem[: len(gh_app.private_key_pem) // 2]
    for pem, says in (
        ("not a key", "not a PEM private key"),
        (truncated, "not a PEM private key"),
        (ec_key, "not an RSA private key"),
        (short, "too short"),
    ):
        response = create_github_app(vault.server, github, gh_app, privateKey=pem)
        assert response.status_code == 400, response.text
        assert response.json()["errorCode"] == "E011003"
        assert "privateKey" in response.json()["errorMessage"]
        assert says in response.json()["errorMessage"]
    missing = create_github_app(vault.server, github, gh_app, privateKey=None)
    assert missing.status_code == 400 and "privateKey" in missing.json()["errorMessage"]
    with vault.server.client() as http:
        names = [a["name"] for a in http.get("/v1/mgmt/outbound/apps").json()["apps"]]
    assert "gh-" + gh_app.app_id not in names

    # An update keeps the stored key when it omits it, and checks a new one.
    gh_app, app_id = new_app(vault.server, github)
    with vault.server.client() as http:
        app = http.get(f"/v1/mgmt/outbound/app/{app_id}").json()["app"]
        fields = {k: v for k, v in app.items() if k not in ("hasClientSecret", "hasPrivateKey")}
        kept = http.post("/v1/mgmt/outbound/app/update", json={"app": fields})
        assert kept.status_code == 200 and kept.json()["app"]["hasPrivateKey"] is True
        bad = http.post(
            "/v1/mgmt/outbound/app/update", json={"app": {**fields, "privateKey": "nope"}}
        )
        assert bad.status_code == 400 and "privateKey" in bad.json()["errorMessage"]


def test_another_apps_installation_is_refused_and_nothing_is_stored(
    vault: Vault, github: MockGitHub
) -> None:
    server = vault.server
    _, app_id = new_app(server, github)
    other_app = github.add_app()
    theirs = github.install(other_app, "globex")

    refused = upload(server, app_id, "acme", theirs)
    assert refused.status_code == 400, refused.text
    assert refused.json()["errorCode"] == "E131016"
    unknown = upload(server, app_id, "acme", "99999999999")
    assert unknown.status_code == 400 and unknown.json()["errorCode"] == "E131016"
    bad = upload(server, app_id, "acme", "12ab")
    assert bad.status_code == 400 and bad.json()["errorCode"] == "E011003"
    assert fetch(server, app_id, "acme").status_code == 404
    assert github.mints(theirs) == []


def test_an_uninstalled_app_asks_for_installing_again(vault: Vault, github: MockGitHub) -> None:
    server = vault.server
    gh_app, app_id = new_app(server, github)
    installation = github.install(gh_app, "initech")
    assert upload(server, app_id, "initech", installation).status_code == 200
    assert fetch(server, app_id, "initech").status_code == 200

    github.uninstall(installation)
    gone = fetch(server, app_id, "initech", forceRefresh=True)
    assert gone.status_code == 409, gone.text
    assert gone.json()["errorCode"] == "E131010"
    with server.client() as http:
        (connection,) = [
            c
            for c in http.get("/v1/mgmt/outbound/connections", params={"appId": app_id}).json()[
                "connections"
            ]
            if c["tenantId"] == "initech"
        ]
    assert connection["status"] == "reconnect_required"

    # Installed again (a new installation id): uploading it makes the connection work again.
    again = github.install(gh_app, "initech")
    assert upload(server, app_id, "initech", again).status_code == 200
    assert fetch(server, app_id, "initech").json()["token"]["extra"]["installationId"] == again


def test_a_jwt_github_refuses_is_a_configuration_error(vault: Vault, github: MockGitHub) -> None:
    """The app names another GitHub App's id: GitHub cannot verify the JWT (401)."""
    server = vault.server
    gh_app, app_id = new_app(server, github)
    installation = github.install(gh_app, "umbrella")
    assert upload(server, app_id, "umbrella", installation).status_code == 200
    impostor = github.add_app()
    with server.client() as http:
        app = http.get(f"/v1/mgmt/outbound/app/{app_id}").json()["app"]
        fields = {k: v for k, v in app.items() if k not in ("hasClientSecret", "hasPrivateKey")}
        response = http.post(
            "/v1/mgmt/outbound/app/update",
            json={"app": {**fields, "privateKey": impostor.private_key_pem}},
        )
    assert response.status_code == 200, response.text
    refused_before = len(github.refused)
    deadline = time.monotonic() + 10
    while (answer := fetch(server, app_id, "umbrella")).status_code == 200:
        assert time.monotonic() < deadline  # the configuration cache (5 s) runs out
        time.sleep(0.5)
    assert answer.status_code == 409 and answer.json()["errorCode"] == "E131014"
    assert len(github.refused) > refused_before
