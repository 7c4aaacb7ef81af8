"""initial schema: projects, management keys, apps, tokens

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "projects",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(256), nullable=False, server_default=""),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "management_keys",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("project_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(256), nullable=False, server_default=""),
        sa.Column("digest", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("revoked_at", sa.BigInteger, nullable=True),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
    )
    op.create_index("ix_management_keys_project", "management_keys", ["project_id"])
    op.create_table(
        "apps",
        sa.Column("project_id", sa.String(64), nullable=False),
        sa.Column("id", sa.String(256), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("config", sa.Text, nullable=False),
        sa.Column("client_secret", sa.LargeBinary, nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("project_id", "id"),
        sa.UniqueConstraint("project_id", "name", name="uq_apps_project_name"),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
    )
    op.create_table(
        "tokens",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("project_id", sa.String(64), nullable=False),
        sa.Column("app_id", sa.String(256), nullable=False),
        sa.Column("user_id", sa.String(256), nullable=False),
        sa.Column("tenant_id", sa.String(256), nullable=False),
        sa.Column("external_identifier", sa.String(256), nullable=False),
        sa.Column("scopes", sa.Text, nullable=False),
        sa.Column("access_token", sa.LargeBinary, nullable=True),
        sa.Column("refresh_token", sa.LargeBinary, nullable=True),
        sa.Column("id_token", sa.LargeBinary, nullable=True),
        sa.Column("access_token_type", sa.String(64), nullable=False),
        sa.Column("access_token_expiry", sa.BigInteger, nullable=False),
        sa.Column("last_refresh_time", sa.BigInteger, nullable=False),
        sa.Column("last_refresh_error", sa.Text, nullable=False, server_default=""),
        sa.Column("needs_reconnect", sa.Integer, nullable=False, server_default="0"),
        sa.Column("token_sub", sa.String(256), nullable=False, server_default=""),
        sa.Column("granted_by", sa.String(256), nullable=False, server_default=""),
        sa.Column("extra", sa.Text, nullable=False, server_default="{}"),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.ForeignKeyConstraint(
            ["project_id", "app_id"], ["apps.project_id", "apps.id"], ondelete="CASCADE"
        ),
        sa.UniqueConstraint(
            "project_id",
            "app_id",
            "user_id",
            "tenant_id",
            "external_identifier",
            name="uq_tokens_owner",
        ),
    )
    op.create_index("ix_tokens_project_user", "tokens", ["project_id", "user_id"])
    op.create_index("ix_tokens_project_tenant", "tokens", ["project_id", "tenant_id"])


def downgrade() -> None:
    op.drop_table("tokens")
    op.drop_table("apps")
    op.drop_table("management_keys")
    op.drop_table("projects")
