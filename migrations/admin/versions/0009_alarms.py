"""Alarms: what the console saw a seized or tampered intake do (a key
outside the pinned roster, a page that differs from the release), shown
until a coordinator acknowledges it.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alarms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.String(length=500), nullable=False),
        sa.Column("raised_at", sa.String(length=20), nullable=False),
        sa.Column("last_raised_at", sa.String(length=20), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("acknowledged_at", sa.String(length=20), nullable=True),
        sa.Column("acknowledged_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["acknowledged_by"], ["users.id"], name=op.f("fk_alarms_acknowledged_by_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alarms")),
    )
    op.create_index("ix_alarms_acknowledged_at_id", "alarms", ["acknowledged_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_alarms_acknowledged_at_id", table_name="alarms")
    op.drop_table("alarms")
