"""``GET /v1/mgmt/outbound/audit``: a project's audit events, oldest first, a page at a time.

``since``/``until`` take epoch seconds or an ISO 8601 time; ``cursor`` is the ``nextCursor`` of
the page before (keyset on the chain's sequence number: stable while events are appended),
signed like every cursor (``server/http/query.py``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ...audit.chain import StoredEvent
from ...audit.events import ACTIONS
from ...storage.audit_events import EventQuery, list_events
from ..http.helpers import authed, json_response
from ..http.query import invalid, query_cursor, query_id, query_int, query_time, seal_cursor

__all__ = ["event_to_wire", "routes"]

MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
_MAX_ID = 256


def _iso(time_ms: int) -> str:
    seconds, millis = divmod(time_ms, 1000)
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{millis:03d}Z"


def event_to_wire(stored: StoredEvent) -> dict[str, Any]:
    e = stored.event
    return {
        "seq": stored.seq,
        "time": _iso(e.time_ms),
        "timeMs": e.time_ms,
        "projectId": e.project_id,
        "actor": e.actor,
        "action": e.action,
        "appId": e.app_id,
        "userId": e.user_id,
        "tenantId": e.tenant_id,
        "tokenId": e.token_id,
        "outcome": e.outcome,
        "errorCode": e.error_code,
        "clientAddress": e.client,
        "requestId": e.request_id,
        "detail": e.detail,
    }


def _text(request: Request, name: str) -> str | None:
    value = request.query_params.get(name, "")
    if len(value) > _MAX_ID:
        raise invalid(name, f"at most {_MAX_ID} characters")
    return value or None


async def list_audit(request: Request) -> Response:
    vault, project_id = await authed(request)
    action = _text(request, "action")
    if action is not None and action not in ACTIONS:
        raise invalid("action", "one of " + ", ".join(ACTIONS))
    limit = query_int(request, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    cursor = query_cursor(request, vault.store.keyring, "audit", project_id)
    query = EventQuery(
        since_ms=query_time(request, "since"),
        until_ms=query_time(request, "until"),
        action=action,
        app_id=query_id(request, "appId"),
        user_id=query_id(request, "userId"),
        # a sealed cursor holds a seq this server answered; afterSeq resumes after an event
        # the caller has (``outbound audit tail --follow``)
        after_seq=int(cursor) if cursor else query_int(request, "afterSeq", 0, 0, 2**62),
        limit=limit + 1,
    )
    found = await list_events(vault.store.db, project_id, query)
    page = found[:limit]
    answer: dict[str, Any] = {"events": [event_to_wire(e) for e in page]}
    position = str(page[-1].seq) if len(found) > limit else ""
    answer["nextCursor"] = seal_cursor(vault.store.keyring, "audit", project_id, position)
    return json_response(answer)


routes = [Route("/v1/mgmt/outbound/audit", list_audit, methods=["GET"])]
