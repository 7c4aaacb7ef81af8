"""The hash chain's pure verification: each kind of tampering is named at the right event."""

from __future__ import annotations

import dataclasses
import os

from outbound.audit import AuditEvent
from outbound.audit.chain import Link, StoredEvent, link, tag, verify

KEY = os.urandom(32)
PROJECT = "P1"


def keys(key_id: str) -> bytes | None:
    return KEY if key_id == "k1" else None


def chain(n: int) -> tuple[list[StoredEvent], Link]:
    events, mac = [], b""
    for seq in range(1, n + 1):
        e = AuditEvent(PROJECT, "token.fetch", "key:abc", 1_000 + seq, user_id=f"u{seq}")
        mac = link(KEY, mac, e, seq)
        events.append(StoredEvent(seq, e, "k1", mac))
    return events, Link(n, mac, "k1", tag(KEY, "head", PROJECT, n, mac))


def test_an_intact_chain_verifies() -> None:
    events, head = chain(5)
    assert verify(PROJECT, events, head, None, keys) is None


def test_an_edited_field_names_its_event() -> None:
    events, head = chain(5)
    edited = dataclasses.replace(events[2].event, user_id="mallory")
    events[2] = dataclasses.replace(events[2], event=edited)
    finding = verify(PROJECT, events, head, None, keys)
    assert finding is not None and (finding.kind, finding.seq) == ("edited", 3)


def test_a_duplicate_sequence_number_names_the_forged_copy() -> None:
    events, head = chain(5)
    forged = dataclasses.replace(events[1], event=dataclasses.replace(events[1].event, app_id="x"))
    events.insert(1, forged)  # read before the real one
    finding = verify(PROJECT, events, head, None, keys)
    assert finding is not None and (finding.kind, finding.seq) == ("inserted", 2)


def test_events_copied_into_another_project_do_not_verify() -> None:
    events, head = chain(3)
    copied = [
        dataclasses.replace(e, event=dataclasses.replace(e.event, project_id="P2")) for e in events
    ]
    finding = verify("P2", copied, head, None, keys)
    assert finding is not None and (finding.kind, finding.seq) == ("edited", 1)


def test_a_head_moved_back_by_hand_is_found() -> None:
    events, head = chain(5)
    moved = dataclasses.replace(head, seq=4, mac=events[3].mac)
    finding = verify(PROJECT, events[:4], moved, None, keys)
    assert finding is not None and finding.kind == "head"
