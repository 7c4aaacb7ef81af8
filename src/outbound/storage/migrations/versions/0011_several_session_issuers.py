"""several session issuers per project, and what their tokens need for delegated fetches

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_COMMON = (
    "project_id, issuer, jwks_url, audience, audience_optional, tenant_role, tenant_permission,"
    " updated_at"
)


def upgrade() -> None:
    op.create_table(
        "session_issuers",
        sa.Column("project_id", sa.String(64), primary_key=True),
        sa.Column("issuer", sa.Text, primary_key=True),
        sa.Column("jwks_url", sa.Text, nullable=False),
        sa.Column("audience", sa.Text, nullable=False, server_default=""),
        sa.Column("audience_optional", sa.Integer, nullable=False, server_default="0"),
        sa.Column("tenant_role", sa.Text, nullable=False, server_default=""),
        sa.Column("tenant_permission", sa.Text, nullable=False, server_default=""),
        # delegated fetch (Bearer <projectId>:<JWT> on the fetch paths): the scope a token
        # needs ('' = this issuer's tokens may not fetch), the claim that holds it ('' = scope
        # or scp), the claim userId must equal, and the claim that names the tenants
        sa.Column("fetch_scope", sa.Text, nullable=False, server_default="outbound.token.fetch"),
        sa.Column("scope_claim", sa.Text, nullable=False, server_default=""),
        sa.Column("subject_claim", sa.Text, nullable=False, server_default="sub"),
        sa.Column("tenant_claim", sa.Text, nullable=False, server_default="tenants"),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
    )
    op.execute(
        f"INSERT INTO session_issuers ({_COMMON}) SELECT {_COMMON} FROM project_session_issuers"  # noqa: S608 - constant SQL
    )
    op.drop_table("project_session_issuers")


def downgrade() -> None:
    op.create_table(
        "project_session_issuers",
        sa.Column("project_id", sa.String(64), primary_key=True),
        sa.Column("issuer", sa.Text, nullable=False),
        sa.Column("jwks_url", sa.Text, nullable=False),
        sa.Column("audience", sa.Text, nullable=False, server_default=""),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.Column("audience_optional", sa.Integer, nullable=False, server_default="0"),
        sa.Column("tenant_role", sa.Text, nullable=False, server_default=""),
        sa.Column("tenant_permission", sa.Text, nullable=False, server_default=""),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
    )
    # One issuer per project before this revision: the most recently set one stays.
    op.execute(
        f"INSERT INTO project_session_issuers ({_COMMON}) SELECT {_COMMON} FROM session_issuers"  # noqa: S608 - constant SQL
        " s WHERE NOT EXISTS (SELECT 1 FROM session_issuers t WHERE t.project_id ="
        " s.project_id AND (t.updated_at > s.updated_at OR (t.updated_at = s.updated_at AND"
        " t.issuer > s.issuer)))"
    )
    op.drop_table("session_issuers")
