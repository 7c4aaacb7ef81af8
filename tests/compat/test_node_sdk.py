"""The official Descope Node SDK (``@descope/node-sdk``, pinned in ``package.json``), created
with ``baseUrl`` pointing at a live outbound server, through every outbound-application method
— on SQLite and on PostgreSQL (the ``live_server`` fixture).

One ``node node_sdk_steps.mjs`` process per backend runs every step and prints what each SDK
call resolved to (the Node SDK does not throw on an error answer: it resolves to
``{ok: false, code, error: {errorCode, …}}``); the tests here assert on those results.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.support.server import LiveServer

COMPAT_DIR = Path(__file__).parent
SECRET_NAMES = (
    "clientSecret",
    "access",
    "refresh",
    "tenantAccess",
    "userApiKey",
    "tenantApiKey",
    "wrongKey",
)


def ensure_installed() -> None:
    """Run ``install.sh`` (``npm ci``) unless node_modules matches the lockfile."""
    lock = COMPAT_DIR / "package-lock.json"
    installed = COMPAT_DIR / "node_modules" / ".package-lock.json"
    if installed.exists() and installed.stat().st_mtime >= lock.stat().st_mtime:
        return
    subprocess.run(["sh", str(COMPAT_DIR / "install.sh")], check=True, timeout=600)


class DownProvider:
    """A provider's token endpoint during an outage: every request is answered 503 (as RFC
    6749's ``temporarily_unavailable``), and counted."""

    def __init__(self) -> None:
        self.requests = 0
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                provider.requests += 1
                self.rfile.read(int(self.headers.get("content-length") or 0))
                body = b'{"error": "temporarily_unavailable"}'
                self.send_response(503)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def token_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/token"

    def __enter__(self) -> DownProvider:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


class Run:
    """What one run of ``node_sdk_steps.mjs`` printed, with the secrets it was given."""

    def __init__(self, output: dict[str, Any], secrets: dict[str, str], provider_requests: int):
        self.steps: dict[str, dict[str, Any]] = output["steps"]
        self.logged: list[dict[str, Any]] = output["logged"]
        self.secrets = secrets
        self.provider_requests = provider_requests

    def ok(self, name: str) -> Any:
        """The data of a step that succeeded."""
        result = self.steps[name]
        assert "thrown" not in result, f"{name} threw {result['thrown']}"
        assert (result["ok"], result["code"]) == (True, 200), f"{name}: {result}"
        return result["data"]

    def failed(self, name: str, status: int, error_code: str) -> dict[str, str]:
        """The error of a step that failed, checked against the status and errorCode expected."""
        result = self.steps[name]
        assert "thrown" not in result, f"{name} threw {result['thrown']}"
        assert result["ok"] is False, f"{name}: {result}"
        assert (result["code"], result["error"]["errorCode"]) == (status, error_code), result
        return dict(result["error"])


@pytest.fixture(scope="module")
def run(live_server: LiveServer) -> Iterator[Run]:
    ensure_installed()
    given = {name: secrets.token_urlsafe(24) for name in SECRET_NAMES}
    with DownProvider() as provider:
        request = {
            "baseUrl": live_server.base_url,
            "projectId": live_server.project_id,
            "managementKey": live_server.management_key,
            "run": secrets.token_hex(3),
            "downProviderTokenUrl": provider.token_url,
            "secrets": given,
        }
        result = subprocess.run(
            ["node", str(COMPAT_DIR / "node_sdk_steps.mjs")],
            cwd=COMPAT_DIR,
            input=json.dumps(request),
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode == 0, result.stderr[-3000:]
    yield Run(json.loads(result.stdout), given, provider.requests)


def test_every_step_ran_without_throwing(run: Run) -> None:
    thrown = {name: r["thrown"] for name, r in run.steps.items() if "thrown" in r}
    assert thrown == {}
    assert len(run.steps) >= 60


def test_create_load_update_and_delete_an_application(run: Run) -> None:
    app = run.ok("createApplication")
    assert app["id"].startswith("gcal-")
    assert app["description"] == "the user's calendar"
    assert app["clientId"] == "client-123"
    assert app["authorizationUrlParams"] == [{"key": "hd", "value": "example.com"}]
    assert app["tokenUrlParams"] == [{"key": "audience", "value": "api"}]
    assert app["defaultScopes"] == ["calendar.read"]
    assert app["prompt"] == ["consent", "select_account"]
    assert (app["accessType"], app["pkce"], app["appType"]) == ("offline", True, "oauth")
    assert app["hasClientSecret"] is True
    assert "clientSecret" not in app
    assert (app["useDcr"], app["dcrUrl"]) == (False, "")

    assert run.ok("loadApplication") == app
    assert app in run.ok("loadAllApplications")  # the SDK unwraps {"apps": [...]}

    # update is a full overwrite; the omitted client secret is kept
    updated = run.ok("updateApplication")
    assert updated["description"] == "renamed"
    assert (updated["authorizationUrl"], updated["clientId"], updated["defaultScopes"]) == (
        "",
        "",
        [],
    )
    assert updated["hasClientSecret"] is True
    assert run.ok("loadApplicationAfterUpdate") == updated

    assert run.ok("deleteApplication") == {}
    run.failed("loadDeletedApplication", 404, "E131001")
    assert app["id"] not in {a["id"] for a in run.ok("loadAllApplicationsAfterDelete")}
    run.failed("fetchTokenOfDeletedApplication", 404, "E131001")


def test_dynamic_client_registration_fields_round_trip(run: Run) -> None:
    app = run.ok("createDcrApplication")
    assert (app["useDcr"], app["dcrUrl"]) == (True, "https://mcp.example/register")
    assert (app["clientId"], app["hasClientSecret"], app["appType"]) == ("", False, "oauth")
    assert run.ok("loadDcrApplication") == app

    updated = run.ok("updateDcrApplication")
    assert (updated["useDcr"], updated["dcrUrl"]) == (True, "https://mcp.example/oauth/register")
    assert run.ok("loadDcrApplicationAfterUpdate") == updated
    # update is a full overwrite: fields the SDK leaves out are cleared
    off = run.ok("updateDcrApplicationOff")
    assert (off["useDcr"], off["dcrUrl"]) == (False, "")

    templated = run.ok("createDcrApplicationByTemplate")
    assert (templated["useDcr"], templated["dcrUrl"]) == (True, "https://idp.example/reg")
    assert templated["templateId"] == "linear-mcp"
    assert templated["resource"] == "https://mcp.linear.app/mcp"


def test_application_errors_surface_the_servers_error_code(run: Run) -> None:
    error = run.failed("createApplicationDuplicateId", 409, "E131002")
    assert error["errorDescription"] and error["errorMessage"]
    run.failed("createApplicationDuplicateName", 409, "E131002")
    assert "name" in run.failed("createApplicationWithoutName", 400, "E011002")["errorMessage"]
    run.failed("updateApplicationUnknown", 404, "E131001")
    run.failed("createApplicationByUnknownTemplate", 404, "E131003")


def test_create_an_application_by_template(run: Run) -> None:
    app = run.ok("createApplicationByTemplate")
    assert app["id"].startswith("github-") and app["templateId"] == "github"
    assert app["name"].startswith("GitHub-")
    assert app["authorizationUrl"] == "https://github.com/login/oauth/authorize"
    assert app["defaultScopes"] == ["repo"]
    assert app["clientId"] == "gh-client" and app["hasClientSecret"] is True


def test_fetch_a_user_token(run: Run) -> None:
    assert run.ok("uploadUserToken") == {}
    app_id = run.ok("createApplication")["id"]
    token = run.ok("fetchToken")
    # the seed's documented usage: `token.data.accessToken`
    assert token["accessToken"] == run.secrets["access"]
    assert token["token"] == run.secrets["access"]
    assert token["appId"] == app_id and token["userId"].startswith("user-")
    assert token["tenantId"] == ""
    assert token["accessTokenType"] == "Bearer"
    assert int(token["accessTokenExpiry"]) > 0
    assert token["hasRefreshToken"] is True and "refreshToken" not in token
    assert token["scopes"] == ["calendar.read", "calendar.write"]
    assert token["externalIdentifier"] == "work"
    assert token["grantedBy"] == "admin@example.com"

    with_refresh = run.ok("fetchTokenWithRefreshToken")
    assert with_refresh["refreshToken"] == run.secrets["refresh"]
    assert with_refresh["id"] == token["id"]

    assert run.ok("fetchTokenByScopes")["id"] == token["id"]
    run.failed("fetchTokenByScopesNotGranted", 404, "E111504")
    run.failed("fetchTokenUnknownUser", 404, "E111504")
    run.failed("fetchTokenUnknownApp", 404, "E131001")
    run.failed("uploadUserTokenWithoutTokens", 400, "E011002")
    assert run.ok("listAppsWithUserToken") == [app_id]  # the SDK unwraps {"appIds": [...]}


def test_a_user_token_within_a_tenant(run: Run) -> None:
    assert run.ok("uploadUserTokenInTenant") == {}
    assert run.ok("uploadUserTokenOutsideTenant") == {}
    in_tenant = run.ok("fetchTokenInTenant")
    assert in_tenant["accessToken"] == "in-tenant"
    assert in_tenant["tenantId"].startswith("tenant-")
    assert run.ok("fetchTokenByScopesInTenant")["id"] == in_tenant["id"]
    assert run.ok("listAppsWithUserTokenInTenant") == [in_tenant["appId"]]
    assert run.ok("listAppsWithUserTokenOtherTenant") == []


def test_tenant_tokens(run: Run) -> None:
    assert run.ok("uploadTenantToken") == {}
    token = run.ok("fetchTenantToken")
    assert token["accessToken"] == token["token"] == run.secrets["tenantAccess"]
    assert token["tenantId"].startswith("tenant-") and token["userId"] == ""
    assert token["scopes"] == ["admin"]
    assert run.ok("fetchTenantTokenByScopes")["id"] == token["id"]
    run.failed("fetchTenantTokenByScopesNotGranted", 404, "E111504")


def test_api_keys(run: Run) -> None:
    assert run.ok("createApiKeyApplication")["appType"] == "apikey"
    assert run.ok("uploadUserApiKey") == {}
    assert run.ok("uploadTenantApiKey") == {}
    user_key = run.ok("fetchUserApiKey")
    assert user_key["accessToken"] == run.secrets["userApiKey"]
    assert user_key["accessTokenType"] == "apikey"
    assert run.ok("fetchTenantApiKey")["accessToken"] == run.secrets["tenantApiKey"]


def test_batch_uploads_are_all_or_nothing(run: Run) -> None:
    assert run.ok("batchUploadUserTokens") == {"failures": []}
    assert all(token.startswith("tok-user-") for token in run.ok("fetchBatchUploadedTokens"))

    failures = run.ok("batchUploadUserTokensWithFailures")["failures"]
    assert len(failures) == 2
    unknown_app, no_token = sorted(failures, key=lambda f: f["appId"] != "no-such-app")
    assert unknown_app["errorCode"] == "E131001" and unknown_app["userId"].startswith("user-")
    assert no_token["errorCode"] == "E011002" and no_token["reason"]
    run.failed("fetchAfterFailedBatch", 404, "E111504")  # nothing of the batch was committed

    assert run.ok("batchUploadTenantTokens") == {"failures": []}
    (failure,) = run.ok("batchUploadTenantTokensWithFailures")["failures"]
    assert failure["errorCode"] == "E131001" and failure["tenantId"].startswith("tenant-")


def test_delete_a_token_by_id(run: Run) -> None:
    assert run.ok("deleteTokenById") == {}
    run.failed("fetchTokenAfterDeleteById", 404, "E111504")
    run.failed("deleteTokenByIdAgain", 404, "E111504")
    assert run.ok("listAppsWithUserTokenAfterDelete") == []


def test_delete_user_tokens(run: Run) -> None:
    first = run.ok("createApplication")["id"]
    second = run.ok("createSecondApplication")["id"]
    assert sorted(run.ok("listAppsBeforeDeleteUserTokens")) == sorted([first, second])

    # deleteUserTokens(appId, userId): that user's token of that app only
    assert run.ok("deleteUserTokens") == {}
    assert run.ok("listAppsAfterDeleteUserTokens") == [second]
    assert sorted(run.ok("listBystanderAppsAfterDeleteUserTokens")) == sorted([first, second])

    # deleteUserTokens(appId) sends userId=undefined: every user's token of that app
    assert run.ok("deleteUserTokensOfApp") == {}
    assert run.ok("listAppsAfterDeleteUserTokensOfApp") == []
    assert run.ok("listBystanderAppsAfterDeleteUserTokensOfApp") == [first]

    # deleteUserTokens(undefined, userId) sends appId=undefined: every token of that user
    assert run.ok("deleteUserTokensWithoutAppId") == {}
    assert run.ok("listBystanderAppsAfterDeleteUserTokensWithoutAppId") == []

    # deleteUserTokens() sends both as "undefined": refused, nothing deleted
    run.failed("deleteUserTokensWithoutEither", 400, "E011002")


def test_wrong_management_key_is_refused(run: Run) -> None:
    run.failed("loadAllApplicationsWithWrongKey", 401, "E130401")
    run.failed("fetchTokenWithWrongKey", 401, "E130401")


def test_a_down_provider_answers_at_once_without_sdk_retries(run: Run) -> None:
    # The official SDKs retry a 503 three times over about ten seconds (core-js-sdk's
    # createFetchLogger; descope's http_client); every retry would hit the provider again.
    run.ok("uploadExpiredTokenOfDownProvider")
    error = run.failed("fetchTokenOfDownProvider", 502, "E131011")
    assert "retry" in error["errorMessage"]
    assert run.steps["fetchTokenOfDownProvider"]["retries"] == 0
    assert run.provider_requests == 1


def test_no_call_was_retried_and_the_license_handshake_succeeded(run: Run) -> None:
    assert {name for name, r in run.steps.items() if r.get("retries")} == set()
    responses = [entry for entry in run.logged if entry["lines"][:1] == ["Response"]]
    handshakes = [r for r in responses if r["lines"][1].endswith("/v1/mgmt/license")]
    # one per client: the right key's answered, the wrong key's refused; no warning logged
    assert sorted(line for r in handshakes for line in r["lines"] if line.startswith("Status")) == [
        "Status: 200 OK",
        "Status: 401 Unauthorized",
    ]
    assert [entry for entry in run.logged if entry["level"] == "warn"] == []
    # every answer the SDK logged as an error is one that a step expected to fail
    expected_failures = [r for r in run.steps.values() if r.get("ok") is False]
    failed_responses = [r for r in responses if r["level"] == "error"]
    assert len(failed_responses) == len(expected_failures) + 1  # + the wrong key's handshake


def _spread(run: Run, label: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """What ``updateApplication({...loaded, ...change})`` answered, checked against a reload."""
    loaded = run.ok(f"spreadLoad_{label}")
    updated = run.ok(f"spreadUpdate_{label}")
    assert run.ok(f"spreadReload_{label}") == updated
    return loaded, updated


def _changed(loaded: dict[str, Any], updated: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in updated.items() if loaded.get(k) != v}


def test_a_loaded_app_spread_back_into_update_is_accepted(run: Run) -> None:
    # issue 15: the loaded object carries "templateId": "" and "tenantId": ""
    loaded, updated = _spread(run, "plain")
    assert (loaded["templateId"], loaded["tenantId"]) == ("", "")
    assert _changed(loaded, updated) == {"description": "changed"}

    loaded, updated = _spread(run, "byTemplateWithOverrides")
    assert loaded["templateId"] == "github"
    assert _changed(loaded, updated) == {"defaultScopes": ["repo", "read:org"]}

    created = run.ok("createApplicationByTemplateWithValues")
    loaded, updated = _spread(run, "byTemplateWithValues")
    assert loaded == created and loaded["prompt"] == ["login"]
    assert loaded["authorizationUrl"].startswith("https://my-store.myshopify.com/")
    assert _changed(loaded, updated) == {"description": "my store"}

    created = run.ok("createApplicationWithOutboundFields")
    loaded, updated = _spread(run, "outboundFields")
    assert loaded == created
    assert loaded["tenantId"].startswith("tenant-") and loaded["refreshMargin"] == 600
    assert set(_changed(loaded, updated)) == {"name"}


def test_a_derived_app_type_sent_back_is_read_only(run: Run) -> None:
    loaded, updated = _spread(run, "derivedApiKeyType")
    assert loaded["appType"] == "apikey"
    assert _changed(loaded, updated) == {
        "tokenUrl": "https://provider.example/token",
        "appType": "oauth",
    }


def test_a_fetched_token_spread_back_into_upload_is_accepted(run: Run) -> None:
    fetched = run.ok("fetchTokenToSpread")
    assert fetched["tenantId"] == "" and isinstance(fetched["accessTokenExpiry"], str)
    assert run.ok("uploadSpreadToken") == {}
    again = run.ok("fetchSpreadToken")
    assert again["scopes"] == ["calendar.read", "calendar.write"]
    for field in ("id", "accessToken", "refreshToken", "accessTokenExpiry", "externalIdentifier"):
        assert again[field] == fetched[field]

    tenant_token = run.ok("fetchTenantTokenToSpread")
    assert tenant_token["userId"] == ""
    assert run.ok("uploadSpreadTenantToken") == {}
    assert run.ok("fetchSpreadTenantToken")["accessToken"] == "spread-tenant-2"
