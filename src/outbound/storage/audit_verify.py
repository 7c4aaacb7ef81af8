"""Verifying one project's audit chain as stored (``outbound audit verify``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..audit.chain import verify
from .audit_checkpoints import missing_checkpoint
from .audit_events import chain_of
from .store import Store
from .store_keys import escrowed_mac_keys

__all__ = ["verify_project"]


async def verify_project(
    store: Store, project_id: str, expected: Sequence[tuple[int, str]] = ()
) -> dict[str, Any]:
    """``{"projectId", "ok", "events", "firstSeq", "lastSeq"}``, plus ``problem``
    (``{"kind", "seq", "message"}``) naming the first edited, inserted or deleted event, or
    the first ``expected`` checkpoint (seq, hash) the chain no longer holds."""
    head, anchor, events = await chain_of(store.db, project_id)
    stored = [item async for item in events]

    # keys dropped since they linked events: their MAC keys as the store keeps them
    escrowed = await escrowed_mac_keys(store.db, store.keyring)

    def key(key_id: str) -> bytes | None:
        found = store.keyring.mac_key(key_id)
        return found[1] if found else escrowed.get(key_id)

    finding = verify(project_id, stored, head, anchor, key) or missing_checkpoint(
        expected, stored, anchor
    )
    report: dict[str, Any] = {
        "projectId": project_id,
        "ok": finding is None,
        "events": len(stored),
        "firstSeq": stored[0].seq if stored else None,
        "lastSeq": stored[-1].seq if stored else None,
        "prunedThrough": anchor.seq if anchor else 0,
    }
    if finding is not None:
        report["problem"] = {"kind": finding.kind, "seq": finding.seq, "message": finding.message}
    return report
