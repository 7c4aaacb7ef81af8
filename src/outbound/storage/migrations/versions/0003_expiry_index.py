"""index tokens by expiry, for the refresh-ahead worker's round query

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Each refresh-ahead round asks for the tokens expiring soonest; without this index that
    # is a scan of the whole table on every round.
    op.create_index("ix_tokens_expiry", "tokens", ["access_token_expiry"])


def downgrade() -> None:
    op.drop_index("ix_tokens_expiry", table_name="tokens")
