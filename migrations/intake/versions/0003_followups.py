"""follow-ups: an envelope may add to an earlier report (issue 4)

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("envelope", schema=None) as batch_op:
        batch_op.add_column(sa.Column("followup_of", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_envelope_followup_of"), ["followup_of"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_envelope_followup_of_envelope"),
            "envelope",
            ["followup_of"],
            ["seq"],
            ondelete="CASCADE",
        )


def downgrade() -> None:
    with op.batch_alter_table("envelope", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_envelope_followup_of_envelope"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_envelope_followup_of"))
        batch_op.drop_column("followup_of")
