"""Retention: the day a case was closed, and purge tombstones.

Cases already closed get today's day, so their retention starts at the
upgrade: nothing is purged sooner than the operator could expect.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("closed_day", sa.Date(), nullable=True))
    cases = sa.table("cases", sa.column("status", sa.String), sa.column("closed_day", sa.Date))
    op.execute(cases.update().where(cases.c.status == "closed").values(closed_day=datetime.now(UTC).date()))
    op.create_table(
        "purged_envelopes",
        sa.Column("envelope_id", sa.String(length=32), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("envelope_id", name=op.f("pk_purged_envelopes")),
    )


def downgrade() -> None:
    op.drop_table("purged_envelopes")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_column("closed_day")
