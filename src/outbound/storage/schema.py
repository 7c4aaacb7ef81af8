"""The one schema both backends share, as SQLAlchemy metadata for alembic.

Queries are plain SQL, in the repositories (``keys.py``, ``apps.py``, ``tokens.py`` and the
others); this module only describes tables so that alembic can create and migrate them on
SQLite and PostgreSQL alike. Booleans are integers and times are epoch seconds so the same SQL
text runs unchanged on both.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
    text,
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
    # keyed digest of the key's secret part, bound to the project and key id (``key_digests``);
    # the secret itself is shown once and never stored.
    Column("digest", LargeBinary, nullable=False),
    # 1: keyed digest; 0: the plain SHA-256 of earlier releases (converted once, then refused)
    Column("digest_kind", Integer, nullable=False, server_default="0"),
    Column("created_at", BigInteger, nullable=False),
    Column("revoked_at", BigInteger, nullable=True),
    # 1: the key may only fetch tokens, of the apps in ``app_ids`` (JSON list; '' = any app)
    Column("fetch_only", Integer, nullable=False, server_default="0"),
    Column("app_ids", Text, nullable=False, server_default=""),
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
    # a GitHub App's private key (PEM), sealed like the client secret
    Column("private_key", LargeBinary, nullable=True),
    # JSON list of the origins the client secret may be sent to (NULL: not known).
    Column("secret_origins", Text, nullable=True),
    # 1: the app still uses the callback URL shared by every project (created before callbacks
    # were per project); the first update of its client id ends that
    Column("shared_callback", Integer, nullable=False, server_default="0"),
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
    # Connection status (see ``connections.py``): since when refreshes have failed transiently
    # (0: they have not), how many times, whether connection.refresh_failing went out, and the
    # earliest time a background round tries again (exponential backoff).
    Column("failing_since", BigInteger, nullable=False, server_default="0"),
    Column("failure_count", Integer, nullable=False, server_default="0"),
    Column("failing_notified", Integer, nullable=False, server_default="0"),
    Column("next_refresh_at", BigInteger, nullable=False, server_default="0"),
    # the connection's metadata: a JSON object of at most 4 KiB the app sets (upload, connect,
    # update); plain text, never a secret (docs/security.md)
    Column("metadata", Text, nullable=False, server_default="{}"),
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
    # the connections list: keyset pages in creation order, per project, app or status
    Index("ix_tokens_project_created", "project_id", "created_at", "id"),
    Index("ix_tokens_project_app_created", "project_id", "app_id", "created_at", "id"),
    # The two rare statuses get partial indexes: a page of them is a range of their own index,
    # whatever the planner's statistics say (a fresh PostgreSQL load has none).
    Index(
        "ix_tokens_project_reconnect",
        "project_id",
        "created_at",
        "id",
        sqlite_where=text("needs_reconnect = 1"),
        postgresql_where=text("needs_reconnect = 1"),
    ),
    Index(
        "ix_tokens_project_failing",
        "project_id",
        "created_at",
        "id",
        sqlite_where=text("failing_since > 0"),
        postgresql_where=text("failing_since > 0"),
    ),
    # the connections-by-status gauge counts over this index, not the table (70 ms vs 0.7 s
    # for a million rows on SQLite)
    Index("ix_tokens_needs_reconnect", "needs_reconnect"),
    # the console's connections page: one app's connections of one status, in creation order
    Index(
        "ix_tokens_project_app_status",
        "project_id",
        "app_id",
        "needs_reconnect",
        "failing_since",
        "created_at",
        "id",
    ),
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
    # SHA-256 of the cookie of the browser that opened the link; the callback must present it
    Column("browser_hash", String(64), nullable=True),
    Column("granted_by", String(256), nullable=False, server_default=""),
    # the metadata the finished connection gets (NULL: it keeps what it holds)
    Column("metadata", Text, nullable=True),
    ForeignKeyConstraint(
        ["project_id", "app_id"], ["apps.project_id", "apps.id"], ondelete="CASCADE"
    ),
    Index("ix_connect_sessions_state", "state_hash", unique=True),
    Index("ix_connect_sessions_expiry", "link_expires_at"),
    Index("ix_connect_sessions_owner", "project_id", "user_id", "tenant_id"),
)

# A device-flow connect (RFC 8628; ``device_connects.py``): the provider's device code
# (sealed), polled by one server at a time under a lease, until tokens, a refusal or expiry.
device_connects = _Table(
    "device_connects",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("project_id", String(64), nullable=False),
    Column("app_id", String(256), nullable=False),
    Column("user_id", String(256), nullable=False),
    Column("tenant_id", String(256), nullable=False),
    Column("external_identifier", String(256), nullable=False),
    Column("scopes", Text, nullable=False),
    Column("metadata", Text, nullable=True),
    Column("granted_by", String(256), nullable=False, server_default=""),
    Column("device_code", LargeBinary, nullable=False),
    # pending → connected | failed
    Column("status", String(16), nullable=False),
    Column("error", String(64), nullable=False, server_default=""),
    Column("poll_interval", Integer, nullable=False),
    Column("next_poll_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("polls", Integer, nullable=False, server_default="0"),
    # the poll lease: the one server polling this device code, until when
    Column("claim_owner", String(64), nullable=True),
    Column("claim_until", BigInteger, nullable=False, server_default="0"),
    Column("token_id", String(64), nullable=False, server_default=""),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    ForeignKeyConstraint(
        ["project_id", "app_id"], ["apps.project_id", "apps.id"], ondelete="CASCADE"
    ),
    Index("ix_device_connects_due", "status", "next_poll_at"),
    Index("ix_device_connects_project", "project_id", "created_at"),
)

# Who signs a project's end users' tokens: session tokens for ``POST /v1/outbound/oauth/connect``
# and access tokens for delegated fetches (several issuers per project).
session_issuers = _Table(
    "session_issuers",
    metadata,
    Column("project_id", String(64), primary_key=True),
    Column("issuer", Text, primary_key=True),
    Column("jwks_url", Text, nullable=False),
    # values the token's aud must contain one of, space-separated; '' = none configured
    Column("audience", Text, nullable=False, server_default=""),
    # 1: the issuer cannot set an audience and the operator said so (--no-audience)
    Column("audience_optional", Integer, nullable=False, server_default="0"),
    # what a token must carry to connect (or fetch for) a whole tenant
    Column("tenant_role", Text, nullable=False, server_default=""),
    Column("tenant_permission", Text, nullable=False, server_default=""),
    # delegated fetch: the scope needed ('' = off), the claim holding it ('' = scope or scp),
    # the claim userId must equal, the claim naming the tenants
    Column("fetch_scope", Text, nullable=False, server_default="outbound.token.fetch"),
    Column("scope_claim", Text, nullable=False, server_default=""),
    Column("subject_claim", Text, nullable=False, server_default="sub"),
    Column("tenant_claim", Text, nullable=False, server_default="tenants"),
    Column("updated_at", BigInteger, nullable=False),
    ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
)

# A project's webhook endpoints (Standard Webhooks). The signing secret is sealed like every
# other secret; after a rotation the previous one keeps signing until ``previous_until``.
webhooks = _Table(
    "webhooks",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("project_id", String(64), nullable=False),
    Column("url", Text, nullable=False),
    # JSON list of event types
    Column("events", Text, nullable=False),
    Column("secret", LargeBinary, nullable=False),
    Column("previous_secret", LargeBinary, nullable=True),
    Column("previous_until", BigInteger, nullable=False, server_default="0"),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
    Index("ix_webhooks_project", "project_id"),
)

# A webhook event's payload, stored once however many webhooks it goes to; deleted with its
# last delivery (``WebhookStore.prune``).
webhook_events = _Table(
    "webhook_events",
    metadata,
    # the webhook-id header: the same on every attempt, so receivers can deduplicate
    Column("id", String(64), primary_key=True),
    Column("project_id", String(64), nullable=False),
    Column("event_type", String(64), nullable=False),
    Column("payload", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
    Index("ix_webhook_events_created", "created_at"),
)

# The outbox: one row per (event, webhook), written in the transaction that changed the
# connection; senders claim rows with a lease (see ``webhooks.py``).
webhook_deliveries = _Table(
    "webhook_deliveries",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("webhook_id", String(64), nullable=False),
    Column("project_id", String(64), nullable=False),
    Column("event_id", String(64), nullable=False),
    Column("event_type", String(64), nullable=False),
    # pending | delivered | failed
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", Float, nullable=False),
    # retries stop (status failed) once this many seconds have passed since retry_from
    Column("retry_from", BigInteger, nullable=False),
    Column("claim_owner", String(64), nullable=True),
    Column("claim_until", Float, nullable=False, server_default="0"),
    Column("created_at", BigInteger, nullable=False),
    Column("delivered_at", BigInteger, nullable=True),
    ForeignKeyConstraint(["webhook_id"], ["webhooks.id"], ondelete="CASCADE"),
    ForeignKeyConstraint(["event_id"], ["webhook_events.id"], ondelete="CASCADE"),
    # due ones (status pending), and finished ones past the retention (delivered, failed:
    # next_attempt_at is then when the last attempt was made)
    Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    Index("ix_webhook_deliveries_webhook", "webhook_id", "created_at", "id"),
    Index("ix_webhook_deliveries_event", "event_id"),
)

webhook_attempts = _Table(
    "webhook_attempts",
    metadata,
    Column("delivery_id", String(64), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("started_at", Float, nullable=False),
    Column("duration_ms", Integer, nullable=False),
    # 0: no HTTP answer (refused, timeout …; see error)
    Column("status_code", Integer, nullable=False),
    Column("error", Text, nullable=False, server_default=""),
    PrimaryKeyConstraint("delivery_id", "attempt"),
    ForeignKeyConstraint(["delivery_id"], ["webhook_deliveries.id"], ondelete="CASCADE"),
)

# The OAuth client an app registered for itself (RFC 7591, ``useDcr``); see
# ``registrations.py``. One row per app; the claim columns make exactly one server register.
client_registrations = _Table(
    "client_registrations",
    metadata,
    Column("project_id", String(64), nullable=False),
    Column("app_id", String(256), nullable=False),
    # the authorization server and redirect URI the client was registered for: a change of
    # either calls for a new registration
    Column("issuer", Text, nullable=False, server_default=""),
    Column("redirect_uri", Text, nullable=False, server_default=""),
    # NULL until the registration succeeded
    Column("client_id", Text, nullable=True),
    Column("client_secret", LargeBinary, nullable=True),
    Column("token_endpoint_auth_method", String(32), nullable=False, server_default=""),
    # RFC 7592 management credentials, when the server issued them
    Column("registration_access_token", LargeBinary, nullable=True),
    Column("registration_client_uri", Text, nullable=False, server_default=""),
    Column("claim_owner", String(64), nullable=True),
    Column("claim_until", BigInteger, nullable=False, server_default="0"),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    PrimaryKeyConstraint("project_id", "app_id"),
    ForeignKeyConstraint(
        ["project_id", "app_id"], ["apps.project_id", "apps.id"], ondelete="CASCADE"
    ),
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
    # the audit list's filters, each in seq order: a filter matching nothing reads nothing
    Index("ix_audit_events_user", "project_id", "user_id", "seq"),
    Index("ix_audit_events_app", "project_id", "app_id", "seq"),
    Index("ix_audit_events_action", "project_id", "action", "seq"),
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
    # the last seq published as a checkpoint (log line, ``audit.checkpoint`` webhook event)
    Column("checkpoint_seq", BigInteger, nullable=False, server_default="0"),
    ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
)

# Operator console sessions and one-time sign-in links (see ``console_sessions.py``): only the
# SHA-256 of the cookie's (or link's) secret is kept.
console_sessions = _Table(
    "console_sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),
    # session | link
    Column("kind", String(16), nullable=False),
    Column("project_id", String(64), nullable=False),
    Column("key_id", String(32), nullable=False, server_default=""),
    Column("csrf", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("last_seen_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("ended_at", BigInteger, nullable=True),
    ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
    Index("ix_console_sessions_expiry", "expires_at"),
)

# Every master key that has sealed something in this store, by key id (see ``store_keys.py``),
# with the secrets derived from it that must outlive it, sealed like every other secret.
store_keys = _Table(
    "store_keys",
    metadata,
    Column("key_id", String(16), primary_key=True),
    Column("secrets", LargeBinary, nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

# Secrets of the store itself, by name (``key_digests.py``: the management key digest key),
# sealed like every other secret.
store_secrets = _Table(
    "store_secrets",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", LargeBinary, nullable=False),
    Column("created_at", BigInteger, nullable=False),
)
