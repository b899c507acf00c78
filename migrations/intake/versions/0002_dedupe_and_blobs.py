"""submission token hash on envelopes (duplicate POSTs), attachment blobs in
the database (several intake hosts on one PostgreSQL)

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("envelope", schema=None) as batch_op:
        batch_op.add_column(sa.Column("submission_hash", sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_envelope_submission_hash"), ["submission_hash"])
    op.create_table(
        "envelope_blob",
        sa.Column("envelope_seq", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["envelope_seq"],
            ["envelope.seq"],
            name=op.f("fk_envelope_blob_envelope_seq_envelope"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("envelope_seq", "position", name=op.f("pk_envelope_blob")),
    )


def downgrade() -> None:
    op.drop_table("envelope_blob")
    with op.batch_alter_table("envelope", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_envelope_submission_hash"), type_="unique")
        batch_op.drop_column("submission_hash")
