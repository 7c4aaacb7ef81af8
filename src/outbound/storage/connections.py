"""Connections: the token rows as an operator sees them — status, never a secret.

A connection is ``active``, ``refresh_failing`` (the provider has failed transiently since
``failing_since``, ``failure_count`` times) or ``reconnect_required`` (the provider refused the
refresh token; only a new connect or upload helps). The status follows from the row's columns,
so every write that already kept them keeps the status too.

A connection also carries ``metadata``: a small JSON object the app sets (upload, connect,
update: at most ``MAX_METADATA`` bytes encoded), stored as plain JSON text and shown wherever the
connection is — never a secret (docs/security.md). The list filters by one of its top-level
keys (:class:`MetadataFilter`), comparing the value's JSON text on both backends.

The list pages by keyset on ``(created_at, id)``: a page never repeats or skips a row however
many rows are inserted meanwhile (new rows sort after every existing cursor), and each page is
an index range scan (``ix_tokens_project_*``), as fast at a million rows as at ten.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any

import orjson

from .database import Database, Row
from .errors import InvalidCursor
from .records import from_row

__all__ = [
    "COLUMNS",
    "MAX_METADATA",
    "STATUSES",
    "Connection",
    "ConnectionPage",
    "InvalidCursor",
    "MetadataFilter",
    "connection_from_row",
    "dump_metadata",
    "list_connections",
    "status_of",
]

STATUSES = ("active", "refresh_failing", "reconnect_required")
# the most a connection's metadata may take, as compact UTF-8 JSON
MAX_METADATA = 4096


def dump_metadata(metadata: dict[str, Any]) -> str:
    """The stored (and compared) text of ``metadata``: compact JSON, UTF-8 unescaped."""
    return orjson.dumps(metadata).decode()


@dataclass(frozen=True)
class MetadataFilter:
    """Connections whose metadata's top-level ``key`` holds ``value``: the string ``value``,
    or the JSON scalar it reads as (``5``, ``true``, ``null``) — compared as JSON text."""

    key: str
    value: str

    def candidates(self) -> list[str]:
        texts = [orjson.dumps(self.value).decode()]
        try:
            scalar = orjson.loads(self.value)
        except orjson.JSONDecodeError:
            return texts
        if scalar is None or isinstance(scalar, bool | int | float):
            texts.append(orjson.dumps(scalar).decode())
        return texts


@dataclass(frozen=True)
class Connection:
    id: str
    project_id: str
    app_id: str
    user_id: str
    tenant_id: str
    status: str
    scopes: list[str]
    access_token_expiry: int
    last_refresh_time: int
    last_refresh_error: str
    failing_since: int
    failure_count: int
    created_at: int
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_wire(self) -> dict[str, Any]:
        # Times as strings of epoch seconds, like the Token object's.
        return {
            "id": self.id,
            "appId": self.app_id,
            "userId": self.user_id,
            "tenantId": self.tenant_id,
            "status": self.status,
            "scopes": self.scopes,
            "accessTokenExpiry": str(self.access_token_expiry),
            "lastRefreshTime": str(self.last_refresh_time),
            "lastRefreshError": self.last_refresh_error,
            "failingSince": str(self.failing_since) if self.failing_since else "",
            "failureCount": self.failure_count,
            "createdTime": str(self.created_at),
            "metadata": self.metadata,
        }


@dataclass(frozen=True)
class ConnectionPage:
    connections: list[Connection]
    next_cursor: str


def status_of(row: Row) -> str:
    if row["needs_reconnect"]:
        return "reconnect_required"
    if row["failing_since"]:
        return "refresh_failing"
    return "active"


def connection_from_row(row: Row) -> Connection:
    """The non-secret part of a token row (``SELECT *`` or ``RETURNING *``)."""
    scopes = row["scopes"]
    return from_row(
        Connection,
        row,
        status=status_of(row),
        scopes=orjson.loads(scopes) if isinstance(scopes, str | bytes) else list(scopes),
        metadata=_metadata_of(row),
    )


def _metadata_of(row: Row) -> dict[str, Any]:
    try:
        text = row["metadata"]
    except (IndexError, KeyError):  # a row read without it (the webhook paths' own reads)
        return {}
    metadata: dict[str, Any] = orjson.loads(text) if text else {}
    return metadata


# Only the columns a connection shows: the sealed secrets never leave the database here.
COLUMNS = (
    "id, project_id, app_id, user_id, tenant_id, scopes, needs_reconnect, access_token_expiry,"
    " last_refresh_time, last_refresh_error, failing_since, failure_count, created_at, metadata"
)

_STATUS_SQL = {
    "active": " AND needs_reconnect = 0 AND failing_since = 0",
    "refresh_failing": " AND needs_reconnect = 0 AND failing_since > 0",
    "reconnect_required": " AND needs_reconnect = 1",
}


def encode_cursor(created_at: int, token_id: str) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([created_at, token_id])).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, str]:
    try:
        value = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError):
        raise InvalidCursor(cursor) from None
    if (
        not isinstance(value, list)
        or len(value) != 2
        or type(value[0]) is not int  # bool is an int too
        or not 0 <= value[0] < 2**62  # what both databases hold
        or not isinstance(value[1], str)
    ):
        raise InvalidCursor(cursor)
    return value[0], value[1]


def _metadata_sql(db: Database, wanted: MetadataFilter, params: dict[str, Any]) -> str:
    """The WHERE term of a metadata filter. Both backends compare the JSON text of the key's
    value: SQLite's ``->`` and PostgreSQL's ``json`` (not ``jsonb``) ``->`` keep it as stored,
    and it was stored by :func:`dump_metadata`, as the candidates are."""
    candidates = wanted.candidates()
    names = [f"m_value{index}" for index in range(len(candidates))]
    params.update(zip(names, candidates, strict=True))
    listed = ", ".join(f":{name}" for name in names)
    if db.url.is_postgres:
        params["m_key"] = wanted.key
        return f" AND CAST(CAST(metadata AS json) -> :m_key AS text) IN ({listed})"
    # a JSON path; the key was checked to hold no '"' (it would end the quoted label)
    params["m_key"] = f'$."{wanted.key}"'
    return f" AND metadata -> :m_key IN ({listed})"


async def list_connections(
    db: Database,
    project_id: str,
    *,
    app_id: str | None = None,
    user_id: str | None = None,
    tenant_id: str | None = None,
    status: str | None = None,
    metadata: MetadataFilter | None = None,
    limit: int = 100,
    cursor: str | None = None,
) -> ConnectionPage:
    """One page of the project's connections in creation order, filtered; ``next_cursor`` is
    empty on the last page."""
    sql = f"SELECT {COLUMNS} FROM tokens WHERE project_id = :project_id"  # noqa: S608
    params: dict[str, Any] = {"project_id": project_id, "limit": limit + 1}
    for column, value in (("app_id", app_id), ("user_id", user_id), ("tenant_id", tenant_id)):
        if value is not None:
            sql += f" AND {column} = :{column}"
            params[column] = value
    if status is not None:
        sql += _STATUS_SQL[status]
    if metadata is not None:
        sql += _metadata_sql(db, metadata, params)
    if cursor:
        created_at, token_id = decode_cursor(cursor)
        # A row value: both backends turn it into one index range (the spelled-out OR made
        # PostgreSQL sort the whole project for a page near the start).
        sql += " AND (created_at, id) > (:c_created, :c_id)"
        params.update(c_created=created_at, c_id=token_id)
    if user_id is not None or tenant_id is not None:
        # An owner has a handful of rows: find them by the owner indexes and sort those.
        # (Without statistics SQLite would rather walk the project's creation-order index to
        # skip the sort — through every row of the project. "+ 0" keeps it from doing that.)
        sql += " ORDER BY created_at + 0, id LIMIT :limit"
    else:
        sql += " ORDER BY created_at, id LIMIT :limit"
    rows = await db.scan(sql, params)  # a status filter may walk the project's rows
    more = len(rows) > limit
    page = [connection_from_row(row) for row in rows[:limit]]
    last = page[-1] if more and page else None
    return ConnectionPage(page, encode_cursor(last.created_at, last.id) if last else "")
