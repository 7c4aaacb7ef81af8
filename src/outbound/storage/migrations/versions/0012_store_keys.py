"""the master keys a store was sealed with, and the secrets derived from them that must
outlive them (the audit chain's MAC keys); the last audit checkpoint published per project

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "store_keys",
        sa.Column("key_id", sa.String(16), primary_key=True),
        sa.Column("secrets", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    with op.batch_alter_table("audit_heads") as batch:
        batch.add_column(
            sa.Column("checkpoint_seq", sa.BigInteger, nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("audit_heads") as batch:
        batch.drop_column("checkpoint_seq")
    op.drop_table("store_keys")
