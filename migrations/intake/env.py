"""Alembic environment. The engine and metadata come from
``intake.db.Database.alembic_config()``; there is no ini file.

On SQLite, batch mode rebuilds a table to change it (create a copy, copy
the rows, drop the old one, rename the copy). With foreign keys on, that
DROP deletes every row referring to the table first (ON DELETE CASCADE):
an upgrade would empty the child tables. So foreign keys are off during
the migration, checked with ``PRAGMA foreign_key_check`` before the commit,
and on again after it (https://www.sqlite.org/lang_altertable.html,
"Making Other Kinds Of Table Schema Changes").
"""

from __future__ import annotations

from alembic import context

config = context.config
engine = config.attributes["engine"]
with engine.connect() as connection:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # Outside any transaction: SQLite ignores this pragma inside one.
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
    context.configure(
        connection=connection,
        target_metadata=config.attributes["target_metadata"],
        render_as_batch=sqlite,
    )
    try:
        with context.begin_transaction():
            context.run_migrations()
            if sqlite:
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise RuntimeError(f"the migration broke {len(broken)} foreign key references")
        connection.commit()
    finally:
        if sqlite:
            connection.rollback()
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
