"""console: users, data key wraps, cases, attachments, quarantine, sync state

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.CheckConstraint("role IN ('reviewer', 'coordinator', 'admin')", name=op.f("ck_users_role")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
    )
    op.create_table(
        "data_key_wraps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("wrapped", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_key_wraps")),
        sa.UniqueConstraint("key_id", name=op.f("uq_data_key_wraps_key_id")),
    )
    op.create_table(
        "cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("envelope_id", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("sealed_by", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("header", sa.LargeBinary(), nullable=False),
        sa.Column("content_key_ct", sa.LargeBinary(), nullable=False),
        sa.Column("report_ct", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cases")),
        sa.UniqueConstraint("envelope_id", name=op.f("uq_cases_envelope_id")),
    )
    op.create_index(op.f("ix_cases_seq"), "cases", ["seq"], unique=False)
    op.create_table(
        "case_attachments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("ciphertext_size", sa.Integer(), nullable=False),
        sa.Column("blob", sa.String(length=128), nullable=False),
        sa.Column("meta_ct", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_attachments_case_id_cases"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_attachments")),
        sa.UniqueConstraint("case_id", "position", name=op.f("uq_case_attachments_case_id")),
    )
    op.create_index(op.f("ix_case_attachments_case_id"), "case_attachments", ["case_id"], unique=False)
    op.create_table(
        "quarantine",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("envelope_id", sa.String(length=64), nullable=True),
        sa.Column("error_class", sa.String(length=64), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("header", sa.LargeBinary(), nullable=True),
        sa.Column("day", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quarantine")),
    )
    op.create_index(op.f("ix_quarantine_envelope_id"), "quarantine", ["envelope_id"], unique=False)
    op.create_table(
        "sync_state",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("cursor", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_sync_state")),
    )


def downgrade() -> None:
    op.drop_table("sync_state")
    op.drop_index(op.f("ix_quarantine_envelope_id"), table_name="quarantine")
    op.drop_table("quarantine")
    op.drop_index(op.f("ix_case_attachments_case_id"), table_name="case_attachments")
    op.drop_table("case_attachments")
    op.drop_index(op.f("ix_cases_seq"), table_name="cases")
    op.drop_table("cases")
    op.drop_table("data_key_wraps")
    op.drop_table("users")
