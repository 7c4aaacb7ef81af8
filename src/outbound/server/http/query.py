"""Query parameters: the one place the API parses them — ids, whole numbers, epoch times and
page cursors — each refused with a 400 ``E011003`` that names it, never a 500.

Numbers are ASCII digits only (``str.isdigit`` also accepts ``²`` and ``٣``, which ``int``
refuses) within a range the database can hold; times are finite epoch seconds or an ISO 8601
time with a zone.

Cursors are opaque and signed: the server hands out ``base64url(position).base64url(mac)``,
an HMAC-SHA256 over the list it pages (``kind``), the project and the position, with a key
derived from the master key — so every server sharing the store accepts the others'
cursors, and a cursor made up, altered, or taken from another list or project is refused
before anything reads it. (A master-key rotation invalidates the cursors in flight: start
the listing again.)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import math
import re
from datetime import datetime

from starlette.requests import Request

from ...crypto.keyring import Keyring
from .errors import ApiError
from .wire import MAX_EPOCH, checked_id

__all__ = ["query_cursor", "query_id", "query_int", "query_time", "seal_cursor"]

_DIGITS = re.compile(r"[0-9]{1,19}\Z")
# epoch seconds, optionally with a fraction: ASCII only, no exponent, no inf or nan
_EPOCH = re.compile(r"[0-9]{1,13}(?:\.[0-9]{1,9})?\Z")
_MAX_CURSOR = 1024
_MAC_BYTES = 16


def invalid(name: str, what: str) -> ApiError:
    return ApiError("E011003", f"invalid query parameter {name!r}: {what}")


def query_id(request: Request, name: str) -> str | None:
    return checked_id(request.query_params.get(name), name)


def query_int(request: Request, name: str, default: int, low: int, high: int) -> int:
    value = request.query_params.get(name, "")
    if not value:
        return default
    if not _DIGITS.match(value) or not low <= int(value) <= high:
        raise invalid(name, f"a whole number from {low} to {high}")
    return int(value)


def query_time(request: Request, name: str) -> int | None:
    """Epoch milliseconds of ``name`` (epoch seconds or ISO 8601 with a zone), or None."""
    value = request.query_params.get(name, "")
    if not value:
        return None
    if _EPOCH.match(value):
        seconds = float(value)
    else:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise invalid(name, "epoch seconds or an ISO 8601 time") from None
        if parsed.tzinfo is None:
            raise invalid(name, "an ISO 8601 time needs a time zone (…Z)")
        seconds = parsed.timestamp()
    if not math.isfinite(seconds) or not 0 <= seconds <= MAX_EPOCH:
        raise invalid(name, f"a time from 1970 to epoch second {MAX_EPOCH}")
    return int(seconds * 1000)


# -- cursors -----------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(keyring: Keyring, kind: str, project_id: str, position: bytes) -> bytes:
    found = keyring.mac_key()
    assert found is not None  # the primary key's MAC key always exists
    key = hmac.new(found[1], b"outbound page cursor", hashlib.sha256).digest()
    message = b"\0".join((kind.encode(), project_id.encode(), position))
    return hmac.new(key, message, hashlib.sha256).digest()[:_MAC_BYTES]


def seal_cursor(keyring: Keyring, kind: str, project_id: str, position: str) -> str:
    """The opaque ``nextCursor`` for ``position`` of list ``kind``; "" stays "" (last page)."""
    if not position:
        return ""
    raw = position.encode()
    return f"{_b64(raw)}.{_b64(_mac(keyring, kind, project_id, raw))}"


def query_cursor(request: Request, keyring: Keyring, kind: str, project_id: str) -> str | None:
    """The position a ``cursor`` parameter carries, or None; a 400 unless this server (or one
    sharing its store) handed it out for this list and project."""
    cursor = request.query_params.get("cursor", "")
    if not cursor:
        return None
    refused = invalid("cursor", "pass back a nextCursor this API returned")
    if len(cursor) > _MAX_CURSOR or cursor.count(".") != 1:
        raise refused
    body, mac = cursor.split(".")
    try:
        raw, sent = _unb64(body), _unb64(mac)
        position = raw.decode()
    except (binascii.Error, ValueError):
        raise refused from None
    if not hmac.compare_digest(sent, _mac(keyring, kind, project_id, raw)):
        raise refused
    return position
