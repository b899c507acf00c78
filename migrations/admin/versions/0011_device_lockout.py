"""Lockout kept apart for known browsers: a second failure counter and
pause on each account, for browsers that completed a login to it before
(admin/auth/accounts.py, "Lockout"), so a stranger's guesses cannot keep a
reviewer out.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("device_failed_logins", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("device_locked_until", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("device_locked_until")
        batch.drop_column("device_failed_logins")
