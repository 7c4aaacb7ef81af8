"""Audit checkpoints: a project's chain position, ``{seq, hash}``, published outside the store.

The chain shows an event edited, inserted or deleted between others; it cannot show that the
newest events were cut off together with the head, or a project's whole chain deleted — what
is left (an older copy restored, or nothing) verifies as intact. A checkpoint kept elsewhere
can: the server logs one and sends it as an ``audit.checkpoint`` webhook event whenever the
chain moved since the last (``--audit-checkpoint-interval``), ``outbound audit checkpoint``
prints one, and ``outbound audit verify --expect SEQ:HASH`` fails when the chain no longer
holds it. ``hash`` is the chain's MAC at ``seq`` (hex): it names the whole chain up to there,
and without the master key nobody can make a chain that ends in it.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from dataclasses import dataclass

from ..audit.chain import Finding, Link, StoredEvent
from .connection_events import enqueue_project_event
from .database import Database

__all__ = ["Checkpoint", "current", "missing_checkpoint", "parse_expected", "publish_due"]


@dataclass(frozen=True)
class Checkpoint:
    project_id: str
    seq: int
    hash: str

    def to_json(self) -> dict[str, object]:
        return {"projectId": self.project_id, "seq": self.seq, "hash": self.hash}


def parse_expected(text: str) -> tuple[int, str]:
    """``SEQ:HASH`` as ``outbound audit verify --expect`` takes it."""
    seq, sep, digest = text.partition(":")
    if not sep or not seq.isascii() or not seq.isdigit() or len(digest) != 64:
        raise ValueError(f"--expect {text!r}: give SEQ:HASH as `outbound audit checkpoint` prints")
    try:
        bytes.fromhex(digest)
    except ValueError:
        raise ValueError(f"--expect {text!r}: HASH must be 64 hex digits") from None
    return int(seq), digest.lower()


async def current(db: Database, project_id: str) -> Checkpoint | None:
    """The project's chain as it ends now; None before its first event."""
    row = await db.fetchone(
        "SELECT seq, mac FROM audit_heads WHERE project_id = :project_id",
        {"project_id": project_id},
    )
    if row is None or not row["seq"]:
        return None
    return Checkpoint(project_id, int(row["seq"]), bytes(row["mac"]).hex())


async def publish_due(db: Database) -> list[Checkpoint]:
    """A checkpoint for every project whose chain moved since its last one, each sent to the
    project's webhooks subscribed to ``audit.checkpoint``. Servers sharing the store each try:
    one conditional write per project lets exactly one of them publish a position."""
    published = []
    rows = await db.fetchall(
        "SELECT project_id, seq, mac FROM audit_heads WHERE seq > checkpoint_seq"
        " ORDER BY project_id"
    )
    for row in rows:
        point = Checkpoint(row["project_id"], int(row["seq"]), bytes(row["mac"]).hex())
        async with db.transaction() as tx:
            won = await tx.execute(
                "UPDATE audit_heads SET checkpoint_seq = :seq"
                " WHERE project_id = :project_id AND checkpoint_seq < :seq",
                {"seq": point.seq, "project_id": point.project_id},
            )
            if won:
                await enqueue_project_event(
                    tx, point.project_id, "audit.checkpoint", {"seq": point.seq, "hash": point.hash}
                )
        if won:
            published.append(point)
    return published


def missing_checkpoint(
    expected: Sequence[tuple[int, str]],
    events: Sequence[StoredEvent],
    anchor: Link | None,
) -> Finding | None:
    """The first expected checkpoint the chain no longer holds. One pruned by retention
    (before the anchor) cannot be checked and is taken as held."""
    by_seq = {stored.seq: stored.mac for stored in events}
    pruned_through = anchor.seq if anchor is not None else 0
    for seq, digest in expected:
        if seq < pruned_through:
            continue
        mac = anchor.mac if anchor is not None and seq == pruned_through else by_seq.get(seq)
        if mac is None:
            return Finding(
                "truncated",
                seq,
                f"checkpoint seq {seq} is not in the chain: its events were deleted (or an"
                " older copy of the audit tables restored)",
            )
        if not hmac.compare_digest(mac.hex(), digest):
            return Finding(
                "truncated",
                seq,
                f"the chain at seq {seq} is not the one checkpointed: it was replaced",
            )
    return None
