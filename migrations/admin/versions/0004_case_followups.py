"""Reporter follow-ups: a case may add to another case's report.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("follows", sa.String(length=32), nullable=True))
        batch_op.create_index(batch_op.f("ix_cases_follows"), ["follows"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cases_follows"))
        batch_op.drop_column("follows")
