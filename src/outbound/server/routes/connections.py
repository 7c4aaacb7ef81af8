"""``GET /v1/mgmt/outbound/connections``: the project's connections and their status."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ...storage.connections import STATUSES, InvalidCursor, list_connections
from ..errors import ApiError
from ..http import authed, json_response
from ..query import query_cursor, query_id, query_int, seal_cursor

MAX_LIMIT = 1000
DEFAULT_LIMIT = 100


def page_limit(request: Request) -> int:
    return query_int(request, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)


def invalid_cursor() -> ApiError:
    return ApiError(
        "E011003", "invalid query parameter 'cursor': pass back a nextCursor this API returned"
    )


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


routes = [Route("/v1/mgmt/outbound/connections", connections, methods=["GET"])]
