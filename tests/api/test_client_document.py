"""The Client ID Metadata Document an app that registers its own client serves (the MCP
authorization spec of 2025-11-25): public, stable, and only for such apps."""

from __future__ import annotations

import httpx

from tests.support.server import LiveServer


def test_an_app_serves_its_client_metadata_document(live_server: LiveServer) -> None:
    with live_server.client() as client:
        app = client.post(
            "/v1/mgmt/outbound/app/create",
            json={
                "name": "Document " + live_server.project_id[-6:],
                "useDcr": True,
                "resource": "https://mcp.example.com/mcp",
                "logo": "https://app.example/logo.png",
            },
        ).json()["app"]
        plain = client.post(
            "/v1/mgmt/outbound/app/create",
            json={
                "name": "Plain " + live_server.project_id[-6:],
                "tokenUrl": "https://p.example/t",
            },
        ).json()["app"]
    base = f"{live_server.base_url}/v1/outbound/oauth/client/{live_server.project_id}"

    # no management key: authorization servers fetch it
    response = httpx.get(f"{base}/{app['id']}")
    assert response.status_code == 200
    assert response.json() == {
        "client_id": f"{base}/{app['id']}",
        "client_name": app["name"],
        "redirect_uris": [app["callbackUrl"]],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
        "logo_uri": "https://app.example/logo.png",
    }
    assert httpx.get(f"{base}/{plain['id']}").status_code == 404
    assert httpx.get(f"{base}/no-such-app").status_code == 404
