"""Alarms: what the console saw a seized or tampered intake do (a key
outside the pinned roster, a page that differs from the release), shown
until a coordinator acknowledges it; and the pinned coalition roster.

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
    op.create_table(
        "roster_keys",
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("recipient_id", sa.String(length=64), nullable=False),
        sa.Column("name_en", sa.String(length=200), nullable=False),
        sa.Column("name_zh", sa.String(length=200), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("created", sa.Date(), nullable=False),
        sa.Column("expires", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("pinned_day", sa.Date(), nullable=False),
        sa.CheckConstraint("status IN ('active', 'retired', 'revoked')", name=op.f("ck_roster_keys_status")),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_roster_keys")),
    )


def downgrade() -> None:
    op.drop_table("roster_keys")
    op.drop_index("ix_alarms_acknowledged_at_id", table_name="alarms")
    op.drop_table("alarms")
