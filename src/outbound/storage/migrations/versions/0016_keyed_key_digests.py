"""management key digests keyed and bound to their project: the store's own secrets
(``store_secrets``, sealed) and each key's digest kind (0: the SHA-256 of earlier releases,
converted once at the next start)

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "store_secrets",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    with op.batch_alter_table("management_keys") as batch:
        batch.add_column(sa.Column("digest_kind", sa.Integer, nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("management_keys") as batch:
        batch.drop_column("digest_kind")
    op.drop_table("store_secrets")
