"""operator console sessions and one-time sign-in links; an index for one app's connections
of one status

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "console_sessions",
        sa.Column("id_hash", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("project_id", sa.String(64), nullable=False),
        sa.Column("key_id", sa.String(32), nullable=False, server_default=""),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("last_seen_at", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
        sa.Column("ended_at", sa.BigInteger, nullable=True),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
    )
    op.create_index("ix_console_sessions_expiry", "console_sessions", ["expires_at"])
    # One app's connections of one status, in creation order (the console's filtered list).
    op.create_index(
        "ix_tokens_project_app_status",
        "tokens",
        ["project_id", "app_id", "needs_reconnect", "failing_since", "created_at", "id"],
    )


def downgrade() -> None:
    op.drop_index("ix_tokens_project_app_status", table_name="tokens")
    op.drop_table("console_sessions")
