"""Connection metadata survives the official SDKs' untouched paths.

The official Descope SDKs (Python ``descope``, Node ``@descope/node-sdk``) know nothing of
metadata: they never send it and ignore fields they do not know. A connection whose metadata
was set through outbound's own API is re-uploaded, fetched, batch-uploaded and listed by them
here; every call must still work, and the metadata must still be there afterwards — on SQLite
and PostgreSQL. Our own SDK round-trips it (tests/sdk/test_live.py).
"""

from __future__ import annotations

import json
import secrets
import subprocess
import warnings
from typing import Any

import httpx
from descope import DescopeClient

from tests.support.server import LiveServer

from .test_node_sdk import COMPAT_DIR, ensure_installed

META = {"plan": "pro", "seats": 5, "owner": {"team": "ünïcode"}}


def _ids() -> dict[str, str]:
    tag = secrets.token_hex(4)
    return {
        "userId": f"user-{tag}",
        "tenantId": f"tenant-{tag}",
        "batchUser": f"batch-{tag}",
        "keyUser": f"key-{tag}",
    }


def _prepare(http: httpx.Client, ids: dict[str, str]) -> dict[str, str]:
    """Two apps (OAuth, API key) and four connections, each with metadata set by our API."""
    apps = {}
    for name, fields in (
        ("appId", {"tokenUrl": "https://provider.example/token"}),
        ("keyAppId", {}),
    ):
        response = http.post(
            "/v1/mgmt/outbound/app/create",
            json={"name": f"meta-{secrets.token_hex(4)}", **fields},
        )
        assert response.status_code == 200, response.text
        apps[name] = response.json()["app"]["id"]
    uploads = [
        ("user/oauthtoken", {"appId": apps["appId"], "userId": ids["userId"], "accessToken": "a"}),
        (
            "tenant/oauthtoken",
            {"appId": apps["appId"], "tenantId": ids["tenantId"], "accessToken": "t"},
        ),
        (
            "user/oauthtoken",
            {"appId": apps["appId"], "userId": ids["batchUser"], "accessToken": "b"},
        ),
        ("user/apikey", {"appId": apps["keyAppId"], "userId": ids["keyUser"], "apiKey": "k"}),
    ]
    for kind, body in uploads:
        response = http.post(
            f"/v1/mgmt/outbound/app/{kind}/upload", json={**body, "metadata": META}
        )
        assert response.status_code == 200, response.text
    return apps


def _metadata_kept(http: httpx.Client, apps: dict[str, str], ids: dict[str, str]) -> None:
    for app_id, owner in (
        (apps["appId"], {"userId": ids["userId"]}),
        (apps["appId"], {"tenantId": ids["tenantId"]}),
        (apps["appId"], {"userId": ids["batchUser"]}),
        (apps["keyAppId"], {"userId": ids["keyUser"]}),
    ):
        found = http.get("/v1/mgmt/outbound/connections", params={"appId": app_id, **owner})
        (connection,) = [
            c for c in found.json()["connections"] if c["userId"] == owner.get("userId", "")
        ]
        assert connection["metadata"] == META, (owner, connection)
    # and still found by it
    found = http.get(
        "/v1/mgmt/outbound/connections", params={"appId": apps["appId"], "metadata.plan": "pro"}
    )
    assert len(found.json()["connections"]) == 3


def test_the_python_sdk_keeps_metadata(live_server: LiveServer) -> None:
    ids = _ids()
    with live_server.client() as http:
        apps = _prepare(http, ids)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            descope = DescopeClient(
                project_id=live_server.project_id,
                management_key=live_server.management_key,
                base_url=live_server.base_url,
            )
        sdk = descope.mgmt.outbound_application
        app_id = apps["appId"]
        sdk.upload_user_token(app_id, ids["userId"], access_token="py-user", scopes=["read"])
        assert sdk.fetch_token(app_id, ids["userId"])["token"]["accessToken"] == "py-user"
        token = sdk.fetch_token_by_scopes(app_id, ids["userId"], ["read"])["token"]
        assert token["accessToken"] == "py-user"
        sdk.upload_tenant_token(app_id, ids["tenantId"], access_token="py-tenant")
        assert (
            sdk.fetch_tenant_token(app_id, ids["tenantId"])["token"]["accessToken"] == "py-tenant"
        )
        result = sdk.batch_upload_user_tokens(
            [{"appId": app_id, "userId": ids["batchUser"], "accessToken": "py-batch"}]
        )
        assert result.get("failures", []) == []
        sdk.upload_user_api_key(apps["keyAppId"], ids["keyUser"], "py-key")
        assert sdk.fetch_token(apps["keyAppId"], ids["keyUser"])["token"]["accessToken"] == "py-key"
        assert app_id in sdk.list_apps_with_user_token(ids["userId"])["appIds"]
        _metadata_kept(http, apps, ids)


def test_the_node_sdk_keeps_metadata(live_server: LiveServer) -> None:
    ensure_installed()
    ids = _ids()
    with live_server.client() as http:
        apps = _prepare(http, ids)
        request = {
            "baseUrl": live_server.base_url,
            "projectId": live_server.project_id,
            "managementKey": live_server.management_key,
            **apps,
            **ids,
        }
        result = subprocess.run(
            ["node", str(COMPAT_DIR / "node_sdk_metadata.mjs")],
            cwd=COMPAT_DIR,
            input=json.dumps(request),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        steps: dict[str, Any] = json.loads(result.stdout)["steps"]
        for name, outcome in steps.items():
            assert (outcome.get("ok"), outcome.get("code")) == (True, 200), (name, outcome)
        assert steps["fetchToken"]["data"]["accessToken"] == "node-user"
        assert steps["fetchTenantToken"]["data"]["accessToken"] == "node-tenant"
        assert steps["fetchUserApiKey"]["data"]["accessToken"] == "node-key"
        _metadata_kept(http, apps, ids)
