"""the audit list's filters (user, app, action) are served by indexes in seq order

Revision ID: 0015
Revises: 0014
"""

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

_INDEXES = {
    "ix_audit_events_user": ["project_id", "user_id", "seq"],
    "ix_audit_events_app": ["project_id", "app_id", "seq"],
    "ix_audit_events_action": ["project_id", "action", "seq"],
}


def upgrade() -> None:
    for name, columns in _INDEXES.items():
        op.create_index(name, "audit_events", columns)


def downgrade() -> None:
    for name in _INDEXES:
        op.drop_index(name, "audit_events")
