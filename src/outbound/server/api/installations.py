"""GitHub App installations as connections: ``POST …/app/tenant/installation/upload``.

The installation id is checked with GitHub before anything is stored — ``GET
/app/installations/{id}`` with the app's JWT answers only for the app's own installations — so
a key holder cannot attach another app's installation (tokens/grants.py)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ...oauth import OAuthConfigError, PermanentOAuthError, TransientOAuthError
from ...storage.grant_tokens import INSTALLATION_KEY, ensure_grant_token
from ..http.errors import ApiError, app_not_found
from ..http.helpers import authed, body, json_response
from ..http.wire import InstallationUpload, require, require_new_id
from ..tokens.grants import verify_installation
from ..tokens.providers import config_error, oauth_error_text
from ..tokens.refresh import provider_unavailable
from ..vault import Vault


async def attach_installation(
    vault: Vault, project_id: str, app_id: str, tenant_id: str, installation_id: str
) -> str:
    """Check ``installation_id`` with GitHub and store it as ``tenant_id``'s connection (its
    token minted on the first fetch); the account it is installed on. ApiError otherwise,
    with nothing stored."""
    app = await vault.store.apps.get(project_id, app_id)
    if app is None:
        raise app_not_found(app_id)
    if app.config.get("grantType") != "github_app_installation":
        raise ApiError(
            "E011004",
            f"outbound app {app_id!r} is not a GitHub App (grantType github_app_installation)",
        )
    try:
        installation = await verify_installation(vault.providers.client, app, installation_id)
    except PermanentOAuthError as exc:
        raise ApiError(
            "E131016",
            f"GitHub refused installation {installation_id} for this app"
            f" ({oauth_error_text(exc)}); nothing was stored",
        ) from None
    except TransientOAuthError as exc:
        raise provider_unavailable(oauth_error_text(exc), exc.retry_after) from None
    except OAuthConfigError as exc:
        raise config_error(exc) from None
    await ensure_grant_token(
        vault.store,
        project_id,
        app_id,
        tenant_id,
        grant_type="github_app_installation",
        scopes=[],
        extra={INSTALLATION_KEY: installation.id, "account": installation.account},
        replace=True,
    )
    return installation.account


async def upload_tenant_installation(request: Request) -> Response:
    vault, project_id = await authed(request)
    upload = await body(request, InstallationUpload)
    app_id = require(upload.app_id, "appId")
    tenant_id = require_new_id(require(upload.tenant_id, "tenantId"), "tenantId")
    installation_id = str(require(upload.installation_id, "installationId"))
    account = await attach_installation(vault, project_id, app_id, tenant_id, installation_id)
    return json_response({"installationId": installation_id, "account": account})


routes = [
    Route(
        "/v1/mgmt/outbound/app/tenant/installation/upload",
        upload_tenant_installation,
        methods=["POST"],
    ),
]
