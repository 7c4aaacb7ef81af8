"""The one schema both backends share, as SQLAlchemy metadata for alembic.

Queries are plain SQL (see ``store.py``); this module only describes tables so that alembic can
create and migrate them on SQLite and PostgreSQL alike. Booleans are integers and times are
epoch seconds so the same SQL text runs unchanged on both.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy import Table as _Table

metadata = MetaData()

projects = _Table(
    "projects",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(256), nullable=False, server_default=""),
    Column("created_at", BigInteger, nullable=False),
)

management_keys = _Table(
    "management_keys",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("project_id", String(64), nullable=False),
    Column("name", String(256), nullable=False, server_default=""),
    # SHA-256 of the key's secret part; the secret itself is shown once and never stored.
    Column("digest", LargeBinary, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("revoked_at", BigInteger, nullable=True),
    ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
    Index("ix_management_keys_project", "project_id"),
)

apps = _Table(
    "apps",
    metadata,
    Column("project_id", String(64), nullable=False),
    Column("id", String(256), nullable=False),
    Column("name", String(256), nullable=False),
    # Every non-secret App field as one JSON document: an update is a full overwrite anyway.
    Column("config", Text, nullable=False),
    Column("client_secret", LargeBinary, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    PrimaryKeyConstraint("project_id", "id"),
    UniqueConstraint("project_id", "name", name="uq_apps_project_name"),
    ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
)

tokens = _Table(
    "tokens",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("project_id", String(64), nullable=False),
    Column("app_id", String(256), nullable=False),
    # '' stands for "none": a tenant token has user_id '', a user token without tenant has
    # tenant_id ''. Empty strings (not NULL) keep the unique key below a real key on both
    # backends.
    Column("user_id", String(256), nullable=False),
    Column("tenant_id", String(256), nullable=False),
    Column("external_identifier", String(256), nullable=False),
    Column("scopes", Text, nullable=False),
    Column("access_token", LargeBinary, nullable=True),
    Column("refresh_token", LargeBinary, nullable=True),
    Column("id_token", LargeBinary, nullable=True),
    Column("access_token_type", String(64), nullable=False),
    # epoch seconds; 0 = unknown
    Column("access_token_expiry", BigInteger, nullable=False),
    Column("last_refresh_time", BigInteger, nullable=False),
    Column("last_refresh_error", Text, nullable=False, server_default=""),
    Column("needs_reconnect", Integer, nullable=False, server_default="0"),
    Column("token_sub", String(256), nullable=False, server_default=""),
    Column("granted_by", String(256), nullable=False, server_default=""),
    # provider-specific values kept from the token response / callback (instance URL, team id)
    Column("extra", Text, nullable=False, server_default="{}"),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    # bumped by every write of the secret columns, so a refresher can tell it lost a race
    Column("version", Integer, nullable=False, server_default="1"),
    # the refresh lease (see ``leases.py``): which server process is refreshing, until when
    Column("refresh_claim_owner", String(64), nullable=True),
    Column("refresh_claim_until", BigInteger, nullable=False, server_default="0"),
    ForeignKeyConstraint(
        ["project_id", "app_id"], ["apps.project_id", "apps.id"], ondelete="CASCADE"
    ),
    UniqueConstraint(
        "project_id",
        "app_id",
        "user_id",
        "tenant_id",
        "external_identifier",
        name="uq_tokens_owner",
    ),
    Index("ix_tokens_project_user", "project_id", "user_id"),
    Index("ix_tokens_project_tenant", "project_id", "tenant_id"),
    Index("ix_tokens_expiry", "access_token_expiry"),
    # the connections-by-status gauge counts over this index, not the table (70 ms vs 0.7 s
    # for a million rows on SQLite)
    Index("ix_tokens_needs_reconnect", "needs_reconnect"),
)

# A connect flow: a single-use link, then a single-use OAuth state (see ``connect_sessions.py``).
connect_sessions = _Table(
    "connect_sessions",
    metadata,
    Column("link_hash", String(64), primary_key=True),
    Column("state_hash", String(64), nullable=True),
    Column("project_id", String(64), nullable=False),
    Column("app_id", String(256), nullable=False),
    Column("user_id", String(256), nullable=False),
    Column("tenant_id", String(256), nullable=False),
    Column("external_identifier", String(256), nullable=False),
    Column("scopes", Text, nullable=False),
    Column("redirect_url", Text, nullable=False),
    Column("redirect_uri", Text, nullable=False, server_default=""),
    Column("code_verifier", LargeBinary, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("link_expires_at", BigInteger, nullable=False),
    Column("opened_at", BigInteger, nullable=True),
    Column("state_expires_at", BigInteger, nullable=False, server_default="0"),
    Column("completed_at", BigInteger, nullable=True),
    ForeignKeyConstraint(
        ["project_id", "app_id"], ["apps.project_id", "apps.id"], ondelete="CASCADE"
    ),
    Index("ix_connect_sessions_state", "state_hash", unique=True),
    Index("ix_connect_sessions_expiry", "link_expires_at"),
)

# Who signs a project's end-user session tokens (``POST /v1/outbound/oauth/connect``).
project_session_issuers = _Table(
    "project_session_issuers",
    metadata,
    Column("project_id", String(64), primary_key=True),
    Column("issuer", Text, nullable=False),
    Column("jwks_url", Text, nullable=False),
    # '' = the token's aud is not checked
    Column("audience", Text, nullable=False, server_default=""),
    Column("updated_at", BigInteger, nullable=False),
    ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
)

# The audit log (see ``audit/chain.py``): each project's events, hash-chained by ``seq``.
audit_events = _Table(
    "audit_events",
    metadata,
    Column("project_id", String(64), nullable=False),
    Column("seq", BigInteger, nullable=False),
    # epoch milliseconds
    Column("time_ms", BigInteger, nullable=False),
    # key:<management key id>, session:<sub> or system
    Column("actor", Text, nullable=False),
    Column("action", String(64), nullable=False),
    Column("app_id", String(256), nullable=False),
    Column("user_id", String(256), nullable=False),
    Column("tenant_id", String(256), nullable=False),
    Column("token_id", String(64), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("error_code", String(64), nullable=False),
    Column("client", String(128), nullable=False),
    Column("request_id", String(128), nullable=False),
    Column("detail", Text, nullable=False),
    # which master key's derived MAC key made ``mac``
    Column("key_id", String(16), nullable=False),
    Column("mac", LargeBinary, nullable=False),
    PrimaryKeyConstraint("project_id", "seq"),
    ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
    Index("ix_audit_events_time", "project_id", "time_ms"),
)

# Each project's chain ends: the head (last seq and MAC) and the anchor left by pruning.
audit_heads = _Table(
    "audit_heads",
    metadata,
    Column("project_id", String(64), primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("mac", LargeBinary, nullable=False),
    Column("key_id", String(16), nullable=False),
    Column("tag", LargeBinary, nullable=False),
    Column("anchor_seq", BigInteger, nullable=False),
    Column("anchor_mac", LargeBinary, nullable=False),
    Column("anchor_key_id", String(16), nullable=False),
    Column("anchor_tag", LargeBinary, nullable=False),
    ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
)
