"""The OpenAPI document: valid, covering every route the server answers, served as built."""

from __future__ import annotations

import re
from typing import Any

import httpx
from openapi_spec_validator import validate
from starlette.routing import Mount, Route

from outbound.server.api.endpoints import ENDPOINTS
from outbound.server.api.openapi import build, document
from outbound.server.app import create_app
from outbound.server.config import Settings
from outbound.server.http.errors import ERROR_CODES
from outbound.server.proxy import ROUTE as PROXY_ROUTE
from outbound.server.proxy import ProxyPath
from outbound.server.proxy.route import METHODS
from outbound.server.tokens.fetch import FETCH_PATHS
from outbound.server.tokens.hotpath import HotPath
from tests.support.server import LiveServer


def served_routes() -> set[tuple[str, str]]:
    """(method, path) of every route of the app as ``outbound serve`` builds it, and of the
    hot path in front of it; paths without Starlette's converters (``{id:path}`` -> ``{id}``)."""
    guard: Any = create_app(Settings())
    hot = guard.app
    assert isinstance(hot, HotPath)
    found = {("POST", path) for path in FETCH_PATHS}
    proxy = hot.app
    assert isinstance(proxy, ProxyPath)
    found |= {(method, PROXY_ROUTE) for method in METHODS - {"HEAD"}}
    for route in proxy.app.router.routes:  # type: ignore[attr-defined]
        if route.path in ("/", "/console") or (
            isinstance(route, Mount) and route.path == "/console"
        ):
            # the operator console and the root's redirect to it: pages for a browser
            # (docs/console.md), not the API
            continue
        assert isinstance(route, Route), f"not a plain route: {route!r}"
        path = re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)
        found |= {(method, path) for method in route.methods or () if method != "HEAD"}
    return found


def test_document_is_valid_openapi_3_1() -> None:
    spec = build()
    assert spec["openapi"] == "3.1.0"
    validate(spec)


def test_every_route_has_an_entry_and_every_entry_a_route() -> None:
    documented = {(e.method, e.path) for e in ENDPOINTS}
    served = served_routes()
    assert not served - documented, (
        "routes without an entry in outbound/server/api/endpoints.py ENDPOINTS (add one line each):"
        f" {sorted(served - documented)}"
    )
    assert not documented - served, f"entries without a route: {sorted(documented - served)}"
    assert len(documented) == len(ENDPOINTS), "an endpoint is listed twice"


def test_operations_name_their_error_codes_and_security() -> None:
    spec = build()
    ids = set()
    for path, item in spec["paths"].items():
        for method, op in item.items():
            ids.add(op["operationId"])
            codes = [
                code
                for status, response in op["responses"].items()
                if status[0] in "45"
                for code in _codes(response)
            ]
            assert codes, f"{method} {path} documents no error code"
            assert set(codes) <= set(ERROR_CODES)
            for code in codes:  # each under its own status
                assert str(ERROR_CODES[code].status) in op["responses"]
            if path.startswith("/v1/mgmt/"):
                assert op["security"] == [{"managementKey": []}], path
                assert {"E130401", "E130403"} <= set(codes), path
    assert len(ids) == len(ENDPOINTS)
    schemes = spec["components"]["securitySchemes"]
    assert schemes["managementKey"]["bearerFormat"] == "<projectId>:<managementKey>"
    assert spec["paths"]["/v1/outbound/oauth/connect"]["post"]["security"] == [{"sessionToken": []}]


def _codes(response: dict[str, Any]) -> list[str]:
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    return list(schema.get("properties", {}).get("errorCode", {}).get("enum", []))


def test_request_schemas_are_the_servers_structs() -> None:
    """The document's fetch body is msgspec's schema of wire.FetchToken, limits included."""
    spec = build()
    fetch = spec["components"]["schemas"]["FetchToken"]
    app_id = fetch["properties"]["appId"]["anyOf"][0]
    assert app_id["maxLength"] == 256
    assert fetch["properties"]["scopes"]["anyOf"][0]["maxItems"] == 256
    body = spec["paths"]["/v1/mgmt/outbound/app/user/token"]["post"]["requestBody"]
    # the seed's call: fetchTokenByScopes('app-id', 'user-id', ['read', 'write'])
    assert body["content"]["application/json"]["example"] == {
        "appId": "app-id",
        "userId": "user-id",
        "scopes": ["read", "write"],
    }


def test_served_without_credentials_as_built(live_server: LiveServer) -> None:
    response = httpx.get(live_server.base_url + "/openapi.json", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.content == document()
    assert response.json()["info"]["title"] == "outbound"
