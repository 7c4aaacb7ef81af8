"""device-flow connects (RFC 8628): the device code, sealed, polled under a lease

Revision ID: 0020
Revises: 0019
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "device_connects",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("project_id", sa.String(64), nullable=False),
        sa.Column("app_id", sa.String(256), nullable=False),
        sa.Column("user_id", sa.String(256), nullable=False),
        sa.Column("tenant_id", sa.String(256), nullable=False),
        sa.Column("external_identifier", sa.String(256), nullable=False),
        sa.Column("scopes", sa.Text, nullable=False),
        sa.Column("metadata", sa.Text, nullable=True),
        sa.Column("granted_by", sa.String(256), nullable=False, server_default=""),
        sa.Column("device_code", sa.LargeBinary, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.String(64), nullable=False, server_default=""),
        sa.Column("poll_interval", sa.Integer, nullable=False),
        sa.Column("next_poll_at", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
        sa.Column("polls", sa.Integer, nullable=False, server_default="0"),
        sa.Column("claim_owner", sa.String(64), nullable=True),
        sa.Column("claim_until", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("token_id", sa.String(64), nullable=False, server_default=""),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id", "app_id"], ["apps.project_id", "apps.id"], ondelete="CASCADE"
        ),
    )
    op.create_index("ix_device_connects_due", "device_connects", ["status", "next_poll_at"])
    op.create_index("ix_device_connects_project", "device_connects", ["project_id", "created_at"])


def downgrade() -> None:
    op.drop_table("device_connects")
