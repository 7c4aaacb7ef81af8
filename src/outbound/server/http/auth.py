"""Management authentication: ``Authorization: Bearer <projectId>:<managementKey>``."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from starlette.requests import Request

from ...audit import caller, set_caller
from ...storage import Store
from ...storage.keys import split_key
from .errors import ApiError, fetch_only_key

__all__ = [
    "authenticate",
    "authenticate_header",
    "claimed_project",
    "invalid_key",
    "key_actor",
    "parse_authorization",
]

_MAX_HEADER = 512
# A user's access token (delegation.py) is longer than a key: RS256 JWTs run to a few KiB.
_MAX_JWT_HEADER = 16 * 1024


async def authenticate(
    request: Request, store: Store, admit: Callable[[str], None] | None = None
) -> str:
    """The project the request's (full) management key belongs to; a 401 for a key that is
    not live, a 403 for a fetch-only key (those reach only the fetch endpoints).
    ``admit(key id)`` applies the per-key request limit."""
    return await authenticate_header(request.headers.get("authorization", ""), store, admit)


async def authenticate_header(
    header: str, store: Store, admit: Callable[[str], None] | None = None
) -> str:
    project_id, key = parse_authorization(header)
    grant = await store.keys.authenticate(project_id, key)
    if grant is None:
        raise invalid_key()
    if admit is not None:
        admit(grant.key_id)
    set_caller(dataclasses.replace(caller(), actor=key_actor(key), project_id=project_id))
    if grant.fetch_only:
        raise fetch_only_key()
    return project_id


def claimed_project(header: str) -> str:
    """The project id an Authorization header claims ('' when it claims none): what failed
    authentications are counted against."""
    _, _, credentials = header.partition(" ")
    project_id, sep, _ = credentials.strip().partition(":")
    return project_id if sep else ""


def key_actor(key: str) -> str:
    """The audit actor of a management key: its id (the public part), never the key."""
    parts = split_key(key)
    return f"key:{parts[0]}" if parts else "key:?"


def parse_authorization(header: str) -> tuple[str, str]:
    """(project id, management key — or a user's JWT on the fetch paths) as the header claims
    them; not yet checked."""
    if not header or len(header) > (_MAX_JWT_HEADER if "." in header else _MAX_HEADER):
        raise ApiError("E130401", "send Authorization: Bearer <projectId>:<managementKey>")
    scheme, _, credentials = header.partition(" ")
    project_id, sep, key = credentials.strip().partition(":")
    if scheme.lower() != "bearer" or not sep or not project_id or not key:
        raise ApiError("E130401", "send Authorization: Bearer <projectId>:<managementKey>")
    return project_id, key


def invalid_key() -> ApiError:
    # One answer for unknown project, unknown key, revoked key and another project's key.
    return ApiError("E130401", "the project id or management key is not valid")
