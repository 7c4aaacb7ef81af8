"""``GET /v1/mgmt/outbound/audit``: a project's audit events, oldest first, a page at a time.

``since``/``until`` take epoch seconds or an ISO 8601 time; ``cursor`` is the ``nextCursor`` of
the page before (keyset on the chain's sequence number: stable while events are appended).
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
from ..errors import ApiError
from ..http import authed, json_response
from .tokens import _query_id

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


def _invalid(name: str, what: str) -> ApiError:
    return ApiError("E011003", f"invalid query parameter {name!r}: {what}")


def _time_ms(request: Request, name: str) -> int | None:
    value = request.query_params.get(name, "")
    if not value:
        return None
    try:
        return int(float(value) * 1000)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise _invalid(name, "epoch seconds or an ISO 8601 time") from None
    if parsed.tzinfo is None:
        raise _invalid(name, "an ISO 8601 time needs a time zone (…Z)")
    return int(parsed.timestamp() * 1000)


def _text(request: Request, name: str) -> str | None:
    value = request.query_params.get(name, "")
    if len(value) > _MAX_ID:
        raise _invalid(name, f"at most {_MAX_ID} characters")
    return value or None


def _int(request: Request, name: str, default: int, low: int, high: int) -> int:
    value = request.query_params.get(name, "")
    if not value:
        return default
    if not value.isdigit() or not low <= int(value) <= high:
        raise _invalid(name, f"an integer from {low} to {high}")
    return int(value)


async def list_audit(request: Request) -> Response:
    vault, project_id = await authed(request)
    action = _text(request, "action")
    if action is not None and action not in ACTIONS:
        raise _invalid("action", "one of " + ", ".join(ACTIONS))
    limit = _int(request, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    query = EventQuery(
        since_ms=_time_ms(request, "since"),
        until_ms=_time_ms(request, "until"),
        action=action,
        app_id=_query_id(request, "appId"),
        user_id=_query_id(request, "userId"),
        after_seq=_int(request, "cursor", 0, 0, 2**62),
        limit=limit + 1,
    )
    found = await list_events(vault.store.db, project_id, query)
    page = found[:limit]
    answer: dict[str, Any] = {"events": [event_to_wire(e) for e in page]}
    answer["nextCursor"] = str(page[-1].seq) if len(found) > limit else ""
    return json_response(answer)


routes = [Route("/v1/mgmt/outbound/audit", list_audit, methods=["GET"])]
