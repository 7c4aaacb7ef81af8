"""The audit log: who read or changed which secret or connection, when, and with what outcome.

Every event belongs to one project's hash chain (``chain.py``): a MAC, keyed from the master
key, over the event and the MAC of the event before it, so that editing, inserting or deleting
a stored event is found by ``outbound audit verify``. Events never carry a secret.

- ``events.py``: the event record and the request's caller (actor, client, request id);
- ``chain.py``: the chain itself, pure functions (MAC, verification);
- ``storage/audit_log.py`` writes them — in the transaction of the change it records, or
  batched for fetches — and ``storage/audit_events.py`` holds the SQL.
"""

from .events import (
    SYSTEM,
    AuditEvent,
    Caller,
    caller,
    event,
    set_caller,
)

__all__ = ["SYSTEM", "AuditEvent", "Caller", "caller", "event", "set_caller"]
