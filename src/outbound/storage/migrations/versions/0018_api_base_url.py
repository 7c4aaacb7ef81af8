"""apps made from a template get the template's API base URL (the proxy's apiBaseUrl)

Apps keep their configuration as JSON, so the new App field needs no column: apps created
from now on take ``apiBaseUrl`` from their template (with its values filled in), and this
fills it in for the apps made before, when their template has one without per-instance
values. (An app whose template's URL needs values — a shop, a domain — is left without: the
values were not kept; setting ``apiBaseUrl`` by an update fixes it.)

Revision ID: 0018
Revises: 0017
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def _api_base_urls() -> dict[str, str]:
    try:
        from outbound.catalog import all_templates
    except ImportError:  # the catalog is optional
        return {}
    return {
        t.id: t.spec.api_base_url
        for t in all_templates()
        if t.spec.api_base_url and "{" not in t.spec.api_base_url
    }


def upgrade() -> None:
    urls = _api_base_urls()
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT project_id, id, config FROM apps")).fetchall()
    for project_id, app_id, text in rows:
        config = json.loads(text)
        url = urls.get(config.get("templateId") or "")
        if not url or config.get("apiBaseUrl"):
            continue
        config["apiBaseUrl"] = url
        bind.execute(
            sa.text("UPDATE apps SET config = :config WHERE project_id = :project AND id = :id"),
            {"config": json.dumps(config), "project": project_id, "id": app_id},
        )


def downgrade() -> None:
    # Earlier releases ignore the field; a value set by hand is not dropped.
    pass
