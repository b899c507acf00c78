"""spent proof-of-work challenges, shared by every worker and host

Revision ID: 0008
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "spent_challenge",
        sa.Column("challenge_hash", sa.String(length=64), nullable=False),
        sa.Column("keep_until", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("challenge_hash", name=op.f("pk_spent_challenge")),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("spent_challenge", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_spent_challenge_keep_until"), ["keep_until"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("spent_challenge", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_spent_challenge_keep_until"))
    op.drop_table("spent_challenge")
