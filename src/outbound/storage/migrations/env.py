"""alembic environment: run against the connection handed in by ``outbound.storage.migrate``."""

from __future__ import annotations

from alembic import context

from outbound.storage.schema import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
