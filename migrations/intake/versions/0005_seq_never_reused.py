"""envelope seq numbers are never reused (SQLite AUTOINCREMENT)

A console asks for envelopes after the last seq it stored. SQLite without
AUTOINCREMENT gives a new row the highest seq + 1, so once the newest
envelope is deleted (a console's retention purge) the next report would
reuse its number, one the consoles have already passed: never synced.
PostgreSQL's sequence never reuses a number; this is a no-op there.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_context().dialect.name != "sqlite":
        return
    # A rebuild of the table with AUTOINCREMENT; the highest seq ever given
    # is then kept in sqlite_sequence. The rows keep their seq.
    with op.batch_alter_table("envelope", recreate="always", table_kwargs={"sqlite_autoincrement": True}):
        pass


def downgrade() -> None:
    if op.get_context().dialect.name != "sqlite":
        return
    with op.batch_alter_table("envelope", recreate="always", table_kwargs={"sqlite_autoincrement": False}):
        pass
