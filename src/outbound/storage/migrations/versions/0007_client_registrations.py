"""the OAuth client each useDcr app registered for itself (RFC 7591)

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "client_registrations",
        sa.Column("project_id", sa.String(64), nullable=False),
        sa.Column("app_id", sa.String(256), nullable=False),
        sa.Column("issuer", sa.Text, nullable=False, server_default=""),
        sa.Column("redirect_uri", sa.Text, nullable=False, server_default=""),
        sa.Column("client_id", sa.Text, nullable=True),
        sa.Column("client_secret", sa.LargeBinary, nullable=True),
        sa.Column("token_endpoint_auth_method", sa.String(32), nullable=False, server_default=""),
        sa.Column("registration_access_token", sa.LargeBinary, nullable=True),
        sa.Column("registration_client_uri", sa.Text, nullable=False, server_default=""),
        sa.Column("claim_owner", sa.String(64), nullable=True),
        sa.Column("claim_until", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("project_id", "app_id"),
        sa.ForeignKeyConstraint(
            ["project_id", "app_id"], ["apps.project_id", "apps.id"], ondelete="CASCADE"
        ),
    )


def downgrade() -> None:
    op.drop_table("client_registrations")
