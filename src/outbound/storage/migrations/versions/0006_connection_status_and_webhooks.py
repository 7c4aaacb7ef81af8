"""connection status (refresh failing since, backoff) and webhooks with their outbox

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tokens") as batch:
        batch.add_column(
            sa.Column("failing_since", sa.BigInteger, nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("failure_count", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(
            sa.Column("failing_notified", sa.Integer, nullable=False, server_default="0")
        )
        batch.add_column(
            sa.Column("next_refresh_at", sa.BigInteger, nullable=False, server_default="0")
        )
    op.create_index("ix_tokens_project_created", "tokens", ["project_id", "created_at", "id"])
    op.create_index(
        "ix_tokens_project_app_created", "tokens", ["project_id", "app_id", "created_at", "id"]
    )
    # Partial: the rare statuses' pages are ranges of their own small index.
    for name, where in (
        ("ix_tokens_project_reconnect", "needs_reconnect = 1"),
        ("ix_tokens_project_failing", "failing_since > 0"),
    ):
        op.create_index(
            name,
            "tokens",
            ["project_id", "created_at", "id"],
            sqlite_where=sa.text(where),
            postgresql_where=sa.text(where),
        )
    op.create_table(
        "webhooks",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("project_id", sa.String(64), nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("events", sa.Text, nullable=False),
        sa.Column("secret", sa.LargeBinary, nullable=False),
        sa.Column("previous_secret", sa.LargeBinary, nullable=True),
        sa.Column("previous_until", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
    )
    op.create_index("ix_webhooks_project", "webhooks", ["project_id"])
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("webhook_id", sa.String(64), nullable=False),
        sa.Column("project_id", sa.String(64), nullable=False),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.Float, nullable=False),
        sa.Column("retry_from", sa.BigInteger, nullable=False),
        sa.Column("claim_owner", sa.String(64), nullable=True),
        sa.Column("claim_until", sa.Float, nullable=False, server_default="0"),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("delivered_at", sa.BigInteger, nullable=True),
        sa.ForeignKeyConstraint(["webhook_id"], ["webhooks.id"], ondelete="CASCADE"),
    )
    op.create_index(
        "ix_webhook_deliveries_due", "webhook_deliveries", ["status", "next_attempt_at"]
    )
    op.create_index(
        "ix_webhook_deliveries_webhook", "webhook_deliveries", ["webhook_id", "created_at", "id"]
    )
    op.create_table(
        "webhook_attempts",
        sa.Column("delivery_id", sa.String(64), nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("started_at", sa.Float, nullable=False),
        sa.Column("duration_ms", sa.Integer, nullable=False),
        sa.Column("status_code", sa.Integer, nullable=False),
        sa.Column("error", sa.Text, nullable=False, server_default=""),
        sa.PrimaryKeyConstraint("delivery_id", "attempt"),
        sa.ForeignKeyConstraint(["delivery_id"], ["webhook_deliveries.id"], ondelete="CASCADE"),
    )


def downgrade() -> None:
    op.drop_table("webhook_attempts")
    op.drop_table("webhook_deliveries")
    op.drop_table("webhooks")
    for index in (
        "ix_tokens_project_failing",
        "ix_tokens_project_reconnect",
        "ix_tokens_project_app_created",
        "ix_tokens_project_created",
    ):
        op.drop_index(index, "tokens")
    with op.batch_alter_table("tokens") as batch:
        for column in ("next_refresh_at", "failing_notified", "failure_count", "failing_since"):
            batch.drop_column(column)
