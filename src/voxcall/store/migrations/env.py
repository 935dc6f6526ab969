"""Alembic environment: voxcall passes its own connection (see voxcall.store.migrate)."""

from __future__ import annotations

from alembic import context

from voxcall.store.schema import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters by copying tables
)
with context.begin_transaction():
    context.run_migrations()
