"""apps hold a GitHub App's private key, sealed like the client secret (grantType
github_app_installation); the grant type itself lives in the stored configuration, where an
app stored before reads as authorization_code

Revision ID: 0019
Revises: 0018
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("apps") as batch:
        batch.add_column(sa.Column("private_key", sa.LargeBinary, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("apps") as batch:
        batch.drop_column("private_key")
