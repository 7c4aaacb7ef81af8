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


def test_a_client_id_under_this_servers_document_path_is_only_for_the_app_it_names(
    live_server: LiveServer,
) -> None:
    """Issue 25, item 14: another project (or app) cannot pass as this app by naming its
    Client ID Metadata Document as its own client id."""
    with live_server.client() as victim:
        app = victim.post(
            "/v1/mgmt/outbound/app/create",
            json={
                "name": "Victim " + live_server.project_id[-6:],
                "useDcr": True,
                "resource": "https://mcp.example.com/mcp",
            },
        ).json()["app"]
    document = f"{live_server.base_url}/v1/outbound/oauth/client/{live_server.project_id}"
    victims_client_id = f"{document}/{app['id']}"
    project_id, key = live_server.new_project()
    with httpx.Client(
        base_url=live_server.base_url, headers={"Authorization": f"Bearer {project_id}:{key}"}
    ) as attacker:
        body = {
            "id": "borrower",
            "name": "borrower",
            "clientId": victims_client_id,
            "tokenUrl": "https://p.example/t",
            "tokenEndpointAuthMethod": "none",
        }
        refused = attacker.post("/v1/mgmt/outbound/app/create", json=body)
        assert refused.status_code == 400, refused.text
        assert refused.json()["errorCode"] == "E011004"
        assert "clientId" in refused.json()["errorMessage"]
        # an update cannot do it either
        plain = {**body, "clientId": "their-own-client"}
        assert attacker.post("/v1/mgmt/outbound/app/create", json=plain).status_code == 200
        moved = attacker.post("/v1/mgmt/outbound/app/update", json={"app": body})
        assert moved.status_code == 400 and "app.clientId" in moved.json()["errorMessage"]
        # its own document's URL (the same path, its own project and app) is fine
        own = {
            **body,
            "clientId": f"{live_server.base_url}/v1/outbound/oauth/client/{project_id}/borrower",
        }
        assert attacker.post("/v1/mgmt/outbound/app/update", json={"app": own}).status_code == 200
