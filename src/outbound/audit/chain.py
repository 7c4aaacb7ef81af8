"""Each project's audit events form a hash chain; these pure functions build and check it.

Event *n* of a project carries ``mac_n = MAC(K, mac_{n-1} || canonical(event_n, n))`` where
``K`` is derived from a master key (``Keyring.mac_key``) and named by its key id, so a key
rotation only changes which key later links use. The MAC is keyed BLAKE2b-256 (RFC 7693's
keyed mode, a MAC by design): measured here 3.3 µs an event against 10.9 µs for OpenSSL's
HMAC-SHA256 through ``hmac.digest``, and every fetch is an event. Without the master key
nobody can make a MAC that verifies, so an edited or inserted row fails its own link, and a
deleted one leaves a gap in the sequence numbers.

Two more records close the ends: the *head* (the last sequence number and MAC, with a tag over
both) catches a deleted tail, and the *anchor* (the last pruned event's sequence number and MAC,
tagged likewise) lets verification start where retention pruning cut the chain.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import orjson

from .events import AuditEvent

__all__ = ["Finding", "Link", "StoredEvent", "canonical", "link", "tag", "verify"]


def canonical(event: AuditEvent, seq: int) -> bytes:
    """The bytes a link covers: every field, in a fixed order, with the sequence number."""
    return orjson.dumps(
        [
            1,
            event.project_id,
            seq,
            event.time_ms,
            event.actor,
            event.action,
            event.app_id,
            event.user_id,
            event.tenant_id,
            event.token_id,
            event.outcome,
            event.error_code,
            event.client,
            event.request_id,
            event.detail,
        ]
    )


def link(key: bytes, previous: bytes, event: AuditEvent, seq: int) -> bytes:
    mac = _keyed(key).copy()
    mac.update(previous)
    mac.update(canonical(event, seq))
    return mac.digest()


@functools.lru_cache(maxsize=8)
def _keyed(key: bytes) -> hashlib.blake2b:
    """A MAC state that has absorbed ``key``: keyed BLAKE2b spends a whole compression on the
    key block, and every fetch is an event, so each link copies this state instead (the same
    digest as ``blake2b(previous + canonical, key=key)``)."""
    return hashlib.blake2b(key=key, digest_size=32)


def tag(key: bytes, kind: str, project_id: str, seq: int, mac: bytes) -> bytes:
    """The tag of a head or anchor record: it cannot be moved without the key."""
    message = orjson.dumps([kind, project_id, seq, mac.hex()])
    return hashlib.blake2b(message, key=key, digest_size=32).digest()


@dataclass(frozen=True)
class StoredEvent:
    seq: int
    event: AuditEvent
    key_id: str
    mac: bytes


@dataclass(frozen=True)
class Link:
    """A head or anchor record as stored."""

    seq: int
    mac: bytes
    key_id: str
    tag: bytes


@dataclass(frozen=True)
class Finding:
    """The first thing wrong with a chain. ``kind``: edited, inserted, deleted, unknown_key,
    head, anchor."""

    kind: str
    seq: int
    message: str


KeyLookup = Callable[[str], bytes | None]


def _describe(stored: StoredEvent) -> str:
    e = stored.event
    return f"seq {stored.seq} ({e.action} by {e.actor} at time_ms {e.time_ms})"


def verify(
    project_id: str,
    events: Sequence[StoredEvent],
    head: Link | None,
    anchor: Link | None,
    keys: KeyLookup,
) -> Finding | None:
    """Check one project's chain, events in ``seq`` order. None when it is intact."""
    start = _after_anchor(project_id, anchor, keys)
    if isinstance(start, Finding):
        return start
    previous_seq, previous_mac = start
    if head is None:
        if events:
            return Finding("head", events[0].seq, "the chain's head record was deleted")
        return None
    for index, stored in enumerate(events):
        following = events[index + 1] if index + 1 < len(events) else None
        finding = _check_event(stored, following, previous_seq, previous_mac, head.seq, keys)
        if finding is not None:
            return finding
        previous_seq, previous_mac = stored.seq, stored.mac
    return _check_head(project_id, head, previous_seq, previous_mac, keys)


def _after_anchor(
    project_id: str, anchor: Link | None, keys: KeyLookup
) -> Finding | tuple[int, bytes]:
    """Where the chain starts: (0, b"") or the pruning anchor's (seq, mac), its tag checked."""
    if anchor is None or anchor.seq <= 0:
        return 0, b""
    key = keys(anchor.key_id)
    if key is None:
        return Finding("unknown_key", anchor.seq, f"the anchor names unknown key {anchor.key_id}")
    if not hmac.compare_digest(tag(key, "anchor", project_id, anchor.seq, anchor.mac), anchor.tag):
        return Finding("anchor", anchor.seq, "the pruning anchor was edited")
    return anchor.seq, anchor.mac


def _check_event(
    stored: StoredEvent,
    following: StoredEvent | None,
    previous_seq: int,
    previous_mac: bytes,
    head_seq: int,
    keys: KeyLookup,
) -> Finding | None:
    """What is wrong with one event linked after ``previous_mac``; None when nothing."""
    expected = previous_seq + 1
    if stored.seq < expected or stored.seq > head_seq:
        # a sequence number already used (or pruned), or beyond the last one written
        return Finding("inserted", stored.seq, f"event {_describe(stored)} was inserted")
    key = keys(stored.key_id)
    if key is None:
        return Finding(
            "unknown_key",
            stored.seq,
            f"event {_describe(stored)} is linked with key id {stored.key_id}, which the"
            " master key setting no longer holds",
        )
    if stored.seq > expected:
        last = stored.seq - 1
        span = f"seq {expected}" if last == expected else f"seq {expected}..{last}"
        return Finding(
            "deleted", expected, f"event {span} was deleted (before {_describe(stored)})"
        )
    if hmac.compare_digest(link(key, previous_mac, stored.event, stored.seq), stored.mac):
        return None
    if (
        following is not None
        and following.seq == stored.seq
        and (other := keys(following.key_id)) is not None
        and hmac.compare_digest(
            link(other, previous_mac, following.event, following.seq), following.mac
        )
    ):
        return Finding("inserted", stored.seq, f"event {_describe(stored)} was inserted")
    return Finding("edited", stored.seq, f"event {_describe(stored)} was edited")


def _check_head(
    project_id: str, head: Link, previous_seq: int, previous_mac: bytes, keys: KeyLookup
) -> Finding | None:
    """What is wrong with the head record after the last event (``previous_*``)."""
    key = keys(head.key_id) if head.seq else None
    if head.seq and key is None:
        return Finding("unknown_key", head.seq, f"the head names unknown key {head.key_id}")
    if key is not None and not hmac.compare_digest(
        tag(key, "head", project_id, head.seq, head.mac), head.tag
    ):
        return Finding("head", head.seq, "the chain's head record was edited")
    if head.seq > previous_seq:
        span = (
            f"seq {previous_seq + 1}"
            if head.seq == previous_seq + 1
            else (f"seq {previous_seq + 1}..{head.seq}")
        )
        return Finding("deleted", previous_seq + 1, f"event {span} was deleted (the newest)")
    if head.seq and not hmac.compare_digest(head.mac, previous_mac):
        return Finding("edited", head.seq, f"event seq {head.seq} was edited")
    return None
