"""the origins an app's client secret is bound to

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # NULL for the apps already stored: their endpoints are resolved (discovery included)
    # only by the server, which records the origins the next time the secret is entered or an
    # update moves an endpoint.
    with op.batch_alter_table("apps") as batch:
        batch.add_column(sa.Column("secret_origins", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("apps") as batch:
        batch.drop_column("secret_origins")
