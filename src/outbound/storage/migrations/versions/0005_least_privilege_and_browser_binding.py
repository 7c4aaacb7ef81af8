"""fetch-only management keys; connect sessions bound to a browser; session-issuer policy

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A key that may only fetch tokens (of the apps listed, JSON; '' = any app).
    with op.batch_alter_table("management_keys") as batch:
        batch.add_column(sa.Column("fetch_only", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("app_ids", sa.Text, nullable=False, server_default=""))
    with op.batch_alter_table("connect_sessions") as batch:
        # SHA-256 of the cookie set in the browser that pressed "continue": the callback must
        # come back with it. NULL only on sessions opened before this revision.
        batch.add_column(sa.Column("browser_hash", sa.String(64), nullable=True))
        # who started the connection (a session token's sub; the user for management links)
        batch.add_column(sa.Column("granted_by", sa.String(256), nullable=False, server_default=""))
    op.create_index(
        "ix_connect_sessions_owner", "connect_sessions", ["project_id", "user_id", "tenant_id"]
    )
    with op.batch_alter_table("project_session_issuers") as batch:
        # 1: the operator said this issuer cannot set an audience (--no-audience)
        batch.add_column(
            sa.Column("audience_optional", sa.Integer, nullable=False, server_default="0")
        )
        # the role or permission a session token needs for a tenant-level connection
        batch.add_column(sa.Column("tenant_role", sa.Text, nullable=False, server_default=""))
        batch.add_column(sa.Column("tenant_permission", sa.Text, nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("project_session_issuers") as batch:
        batch.drop_column("tenant_permission")
        batch.drop_column("tenant_role")
        batch.drop_column("audience_optional")
    op.drop_index("ix_connect_sessions_owner", "connect_sessions")
    with op.batch_alter_table("connect_sessions") as batch:
        batch.drop_column("granted_by")
        batch.drop_column("browser_hash")
    with op.batch_alter_table("management_keys") as batch:
        batch.drop_column("app_ids")
        batch.drop_column("fetch_only")
