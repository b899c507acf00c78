"""Alembic environment. The engine and metadata come from
``intake.db.Database.alembic_config()``; there is no ini file."""

from __future__ import annotations

from alembic import context

config = context.config
engine = config.attributes["engine"]
with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=config.attributes["target_metadata"],
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
