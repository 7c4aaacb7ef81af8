"""providers send browsers back to a callback of the app's own project; apps stored before
keep the shared one

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("apps") as batch:
        batch.add_column(
            sa.Column("shared_callback", sa.Integer, nullable=False, server_default="0")
        )
    # Their redirect URI is registered at their provider already: they keep it until their
    # client id changes.
    op.execute("UPDATE apps SET shared_callback = 1")


def downgrade() -> None:
    with op.batch_alter_table("apps") as batch:
        batch.drop_column("shared_callback")
