"""webhook events stored once: deliveries reference their event's payload instead of each
holding a copy

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "webhook_events",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("project_id", sa.String(64), nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
    )
    op.create_index("ix_webhook_events_created", "webhook_events", ["created_at"])
    # Every delivery of one event carries the same payload: keep one copy, the first
    # delivery's (by id), per event.
    op.execute(
        "INSERT INTO webhook_events (id, project_id, event_type, payload, created_at)"
        " SELECT d.event_id, d.project_id, d.event_type, d.payload, d.created_at"
        " FROM webhook_deliveries d WHERE d.id = (SELECT MIN(o.id) FROM webhook_deliveries o"
        " WHERE o.event_id = d.event_id)"
    )
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.drop_column("payload")
        batch.create_foreign_key(
            "fk_webhook_deliveries_event",
            "webhook_events",
            ["event_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch.create_index("ix_webhook_deliveries_event", ["event_id"])


def downgrade() -> None:
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.drop_index("ix_webhook_deliveries_event")
        batch.drop_constraint("fk_webhook_deliveries_event", type_="foreignkey")
        batch.add_column(sa.Column("payload", sa.Text, nullable=False, server_default=""))
    op.execute(
        "UPDATE webhook_deliveries SET payload = (SELECT e.payload FROM webhook_events e"
        " WHERE e.id = webhook_deliveries.event_id)"
    )
    op.drop_index("ix_webhook_events_created", table_name="webhook_events")
    op.drop_table("webhook_events")
