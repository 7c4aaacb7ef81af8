"""refresh leases on tokens; connect sessions (single-use links and OAuth states)

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Who is refreshing a token right now, and until when: the lease that makes a refresh
    # exact across processes sharing the database.
    with op.batch_alter_table("tokens") as batch:
        batch.add_column(sa.Column("refresh_claim_owner", sa.String(64), nullable=True))
        batch.add_column(
            sa.Column("refresh_claim_until", sa.BigInteger, nullable=False, server_default="0")
        )
    op.create_table(
        "connect_sessions",
        # SHA-256 (hex) of the link id and of the OAuth state: the database never holds either.
        sa.Column("link_hash", sa.String(64), primary_key=True),
        sa.Column("state_hash", sa.String(64), nullable=True),
        sa.Column("project_id", sa.String(64), nullable=False),
        sa.Column("app_id", sa.String(256), nullable=False),
        sa.Column("user_id", sa.String(256), nullable=False),
        sa.Column("tenant_id", sa.String(256), nullable=False),
        sa.Column("external_identifier", sa.String(256), nullable=False),
        sa.Column("scopes", sa.Text, nullable=False),
        sa.Column("redirect_url", sa.Text, nullable=False),
        sa.Column("redirect_uri", sa.Text, nullable=False, server_default=""),
        # the PKCE verifier, sealed by the keyring
        sa.Column("code_verifier", sa.LargeBinary, nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("link_expires_at", sa.BigInteger, nullable=False),
        sa.Column("opened_at", sa.BigInteger, nullable=True),
        sa.Column("state_expires_at", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("completed_at", sa.BigInteger, nullable=True),
        sa.ForeignKeyConstraint(
            ["project_id", "app_id"], ["apps.project_id", "apps.id"], ondelete="CASCADE"
        ),
    )
    op.create_index("ix_connect_sessions_state", "connect_sessions", ["state_hash"], unique=True)
    op.create_index("ix_connect_sessions_expiry", "connect_sessions", ["link_expires_at"])


def downgrade() -> None:
    op.drop_table("connect_sessions")
    with op.batch_alter_table("tokens") as batch:
        batch.drop_column("refresh_claim_until")
        batch.drop_column("refresh_claim_owner")
