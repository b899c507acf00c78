"""replies: reviewers' answers, sealed to the reporter's reply key (issue 4)

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
    op.create_table(
        "reply",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("envelope_seq", sa.Integer(), nullable=False),
        sa.Column("reply_id", sa.String(length=32), nullable=False),
        sa.Column("header", sa.LargeBinary(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["envelope_seq"], ["envelope.seq"], name=op.f("fk_reply_envelope_seq_envelope"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_reply")),
        sa.UniqueConstraint("reply_id", name=op.f("uq_reply_reply_id")),
    )
    with op.batch_alter_table("reply", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reply_envelope_seq"), ["envelope_seq"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("reply", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reply_envelope_seq"))
    op.drop_table("reply")
