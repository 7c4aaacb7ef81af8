"""connections carry a small JSON metadata object; a connect flow carries it to the token

Revision ID: 0017
Revises: 0016
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tokens") as batch:
        batch.add_column(sa.Column("metadata", sa.Text(), nullable=False, server_default="{}"))
    with op.batch_alter_table("connect_sessions") as batch:
        # NULL: the connect named no metadata, so the connection keeps what it holds
        batch.add_column(sa.Column("metadata", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("connect_sessions") as batch:
        batch.drop_column("metadata")
    with op.batch_alter_table("tokens") as batch:
        batch.drop_column("metadata")
