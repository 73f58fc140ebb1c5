"""Alembic's environment for the case store: migrations run on the connection the store hands
over (``config.attributes["connection"]``), in batch mode so SQLite can alter tables."""

from __future__ import annotations

from alembic import context

from mmcrnet.store.tables import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
