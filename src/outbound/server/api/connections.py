"""``GET /v1/mgmt/outbound/connections``: the project's connections and their status;
``POST /v1/mgmt/outbound/connections/{id}/metadata``: replace one connection's metadata;
``POST /v1/mgmt/outbound/connections/{id}/verify``: ask the provider whose account it is
(``tokens/verify.py``).

The list filters by one metadata key: ``metadata.<key>=<value>`` (docs/api.md)."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ...storage.connections import (
    STATUSES,
    InvalidCursor,
    MetadataFilter,
    list_connections,
)
from ..http.errors import ApiError
from ..http.helpers import authed, body, json_response
from ..http.query import query_cursor, query_id, query_int, seal_cursor
from ..http.wire import ConnectionMetadata, checked_id
from ..tokens.verify import verify_connection

METADATA_PREFIX = "metadata."
# a metadata key the list filters by: printable, bounded, and no '"' or '\' (they would end or
# escape SQLite's quoted JSON path label)
_FILTER_KEY = re.compile(r'[^\x00-\x1f\x7f"\\]{1,256}\Z')

MAX_LIMIT = 1000
DEFAULT_LIMIT = 100


def page_limit(request: Request) -> int:
    return query_int(request, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)


def invalid_cursor() -> ApiError:
    return ApiError(
        "E011003", "invalid query parameter 'cursor': pass back a nextCursor this API returned"
    )


def _metadata_key(name: str) -> str | None:
    """The key a query parameter filters metadata by: ``metadata.<key>`` (as people type it)
    or ``metadata[<key>]`` (OpenAPI's deepObject, as generated clients send it)."""
    if name.startswith(METADATA_PREFIX):
        return name[len(METADATA_PREFIX) :]
    if name.startswith("metadata[") and name.endswith("]"):
        return name[len("metadata[") : -1]
    return None


def metadata_filter(request: Request) -> MetadataFilter | None:
    """The one metadata filter parameter, if any."""
    given = [
        (name, key, value)
        for name, value in request.query_params.multi_items()
        if (key := _metadata_key(name)) is not None
    ]
    if not given:
        return None
    if len(given) > 1:
        raise ApiError(
            "E011003",
            "the connections list filters by one metadata key at a time:"
            " give one metadata.<key>=<value> (or metadata[<key>]=<value>) parameter",
        )
    name, key, value = given[0]
    if not _FILTER_KEY.match(key):
        raise ApiError(
            "E011003",
            f"invalid query parameter {name!r}: the metadata key is 1 to 256"
            " characters without controls, '\"' or '\\'",
        )
    if len(value) > 4096:
        raise ApiError("E011003", f"invalid query parameter {name!r}: at most 4096 characters")
    return MetadataFilter(key, value)


async def connections(request: Request) -> Response:
    vault, project_id = await authed(request)
    status = request.query_params.get("status") or None
    if status is not None and status not in STATUSES:
        raise ApiError("E011003", f"invalid query parameter 'status': one of {', '.join(STATUSES)}")
    try:
        page = await list_connections(
            vault.store.db,
            project_id,
            app_id=query_id(request, "appId"),
            user_id=query_id(request, "userId"),
            tenant_id=query_id(request, "tenantId"),
            status=status,
            metadata=metadata_filter(request),
            limit=page_limit(request),
            cursor=query_cursor(request, vault.store.keyring, "connections", project_id),
        )
    except InvalidCursor:
        raise invalid_cursor() from None
    return json_response(
        {
            "connections": [connection.to_wire() for connection in page.connections],
            "nextCursor": seal_cursor(
                vault.store.keyring, "connections", project_id, page.next_cursor
            ),
        }
    )


async def update_metadata(request: Request) -> Response:
    vault, project_id = await authed(request)
    connection_id = checked_id(request.path_params["id"], "id", "path parameter") or ""
    req = await body(request, ConnectionMetadata)
    if req.metadata is None:  # {} clears it; absent or null is a mistake, not "clear"
        raise ApiError("E011002", "missing argument: metadata (a JSON object; {} clears it)")
    connection = await vault.store.tokens.set_metadata(project_id, connection_id, req.metadata)
    if connection is None:
        raise ApiError("E111504", f"no connection {connection_id!r} in this project")
    return json_response({"connection": connection.to_wire()})


async def verify(request: Request) -> Response:
    vault, project_id = await authed(request)
    connection_id = checked_id(request.path_params["id"], "id", "path parameter") or ""
    verification = await verify_connection(vault, project_id, connection_id)
    return json_response({"verification": verification.to_wire()})


routes = [
    Route("/v1/mgmt/outbound/connections", connections, methods=["GET"]),
    Route("/v1/mgmt/outbound/connections/{id}/metadata", update_metadata, methods=["POST"]),
    Route("/v1/mgmt/outbound/connections/{id}/verify", verify, methods=["POST"]),
]
