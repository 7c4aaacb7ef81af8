"""An audit event, and who caused it: the caller of the current request or background job.

The caller lives in a context variable, set once where a request is authenticated (or a
background round starts), so that code deep in a refresh records the right actor without
passing it through every call.
"""

from __future__ import annotations

import time
from contextvars import ContextVar, Token
from dataclasses import dataclass

__all__ = ["ACTIONS", "SYSTEM", "AuditEvent", "Caller", "caller", "event", "set_caller"]

# What an event records; the API's ``action`` filter accepts exactly these.
ACTIONS = (
    "token.fetch",
    "proxy.call",
    "token.refresh",
    "token.upload",
    "token.delete",
    "app.create",
    "app.update",
    "app.delete",
    "connect.link",
    "connect.completed",
    "connect.failed",
    "connection.metadata",
    "key.create",
    "key.revoke",
)

# Longest stored actor: a session's ``sub`` is the end user's id, bounded like every id.
_MAX_ACTOR = 300


@dataclass(slots=True)
class Caller:
    """Who is asking: ``key:<management key id>``, ``session:<sub>`` or ``system``; where from
    (client address) and which request; ``trigger`` says what set off a refresh (``fetch``,
    ``forceRefresh``, ``background``)."""

    actor: str = "system"
    client: str = ""
    request_id: str = ""
    trigger: str = ""
    # the project the request authenticated for (for logs; events name their own)
    project_id: str = ""


SYSTEM = Caller()
_caller: ContextVar[Caller] = ContextVar("outbound_audit_caller", default=SYSTEM)


def caller() -> Caller:
    return _caller.get()


def set_caller(value: Caller) -> Token[Caller]:
    return _caller.set(value)


@dataclass(slots=True)
class AuditEvent:
    project_id: str
    action: str
    actor: str
    time_ms: int
    app_id: str = ""
    user_id: str = ""
    tenant_id: str = ""
    token_id: str = ""
    # "ok" or "error" (then ``error_code`` is the API error code)
    outcome: str = "ok"
    error_code: str = ""
    client: str = ""
    request_id: str = ""
    # a short, never secret, qualifier: a refresh's trigger, a key's id, a failure's reason
    detail: str = ""


def event(
    project_id: str,
    action: str,
    *,
    app_id: str = "",
    user_id: str = "",
    tenant_id: str = "",
    token_id: str = "",
    error_code: str = "",
    detail: str = "",
) -> AuditEvent:
    """An event caused by the current caller, now."""
    who = _caller.get()
    return AuditEvent(
        project_id,
        action,
        who.actor[:_MAX_ACTOR],
        int(time.time() * 1000),
        app_id,
        user_id,
        tenant_id,
        token_id,
        "error" if error_code else "ok",
        error_code,
        who.client,
        who.request_id,
        detail,
    )
