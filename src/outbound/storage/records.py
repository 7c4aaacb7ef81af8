"""The rows the store hands out, secrets already opened and wrapped in :class:`Secret`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, TypeVar

from ..secret import Secret

__all__ = [
    "AppRecord",
    "KeyGrant",
    "ManagementKeyRecord",
    "TokenRecord",
    "TokenWrite",
    "from_row",
]

R = TypeVar("R")


def from_row(record: Callable[..., R], row: Mapping[str, Any], **computed: Any) -> R:
    """The dataclass ``record`` read from ``row``: each field from the column of its name, but
    those given in ``computed`` (decoded JSON, opened secrets, derived values)."""
    names = [f.name for f in fields(record) if f.name not in computed]  # type: ignore[arg-type]
    return record(**{name: row[name] for name in names}, **computed)


@dataclass
class AppRecord:
    project_id: str
    id: str
    name: str
    # the non-secret App wire fields (camelCase), as stored
    config: dict[str, Any]
    client_secret: Secret | None
    created_at: int
    updated_at: int
    # The origins (``scheme://host:port``) the client secret may be sent to: those of the
    # token, refresh and revocation endpoints when the secret was entered. None: not known
    # (an app stored before they were recorded, or whose endpoints could not be found then).
    secret_origins: tuple[str, ...] | None = None
    # Providers send the browser back to the callback shared by every project (an app created
    # before callbacks were per project, and its client id unchanged since), not to its
    # project's own.
    shared_callback: bool = False
    # a GitHub App's private key (grantType github_app_installation)
    private_key: Secret | None = None


@dataclass
class ManagementKeyRecord:
    id: str
    project_id: str
    name: str
    created_at: int
    revoked_at: int | None
    fetch_only: bool = False
    app_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class KeyGrant:
    """What a live management key may do: everything, or only fetch tokens (of ``app_ids``
    when that is not empty)."""

    key_id: str
    fetch_only: bool = False
    app_ids: frozenset[str] = frozenset()

    def may_fetch(self, app_id: str) -> bool:
        return not self.app_ids or app_id in self.app_ids


@dataclass(slots=True)
class TokenRecord:
    id: str
    project_id: str
    app_id: str
    user_id: str
    tenant_id: str
    external_identifier: str
    scopes: list[str]
    access_token: Secret | None
    refresh_token: Secret | None
    id_token: Secret | None
    access_token_type: str
    access_token_expiry: int
    last_refresh_time: int
    last_refresh_error: str
    needs_reconnect: bool
    token_sub: str
    granted_by: str
    extra: dict[str, Any]
    created_at: int
    updated_at: int
    version: int


@dataclass
class TokenWrite:
    """A token to store for (app, user|tenant, external identifier), replacing any there."""

    project_id: str
    app_id: str
    user_id: str
    tenant_id: str
    external_identifier: str = ""
    scopes: list[str] = field(default_factory=list)
    access_token: Secret | None = None
    refresh_token: Secret | None = None
    id_token: Secret | None = None
    access_token_type: str = "Bearer"  # noqa: S105 - a token type, not a secret
    access_token_expiry: int = 0
    token_sub: str = ""
    granted_by: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    # stored as the connection's ``lastRefreshError``: why it holds no refresh token
    note: str = ""
    # the connection's metadata (a JSON object, checked by the caller); None keeps what the
    # connection holds (an official SDK's upload never names it)
    metadata: dict[str, Any] | None = None
