"""Replies to reporters: the console's copy of each reply it sent, sealed
under the data key (the intake holds it sealed to the reporter's reply key).

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case_replies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.String(length=32), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("reply_id", sa.String(length=32), nullable=False),
        sa.Column("body_ct", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_replies_case_id_cases"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["author_id"], ["users.id"], name=op.f("fk_case_replies_author_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_replies")),
        sa.UniqueConstraint("uid", name=op.f("uq_case_replies_uid")),
        sa.UniqueConstraint("reply_id", name=op.f("uq_case_replies_reply_id")),
    )
    op.create_index(op.f("ix_case_replies_case_id"), "case_replies", ["case_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_case_replies_case_id"), table_name="case_replies")
    op.drop_table("case_replies")
