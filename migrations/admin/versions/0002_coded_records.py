"""briefings: coded cases and their envelope links

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "coded_cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_ref", sa.String(length=64), nullable=False),
        sa.Column("incident_month", sa.String(length=7), nullable=False),
        sa.Column("report_month", sa.String(length=7), nullable=False),
        sa.Column("province", sa.String(length=16), nullable=False),
        sa.Column("tactics", sa.String(length=128), nullable=False),
        sa.Column("communities", sa.String(length=512), nullable=False),
        sa.Column("attribution", sa.String(length=1), nullable=False),
        sa.Column("confidence", sa.String(length=8), nullable=False),
        sa.Column("disposition", sa.String(length=32), nullable=False),
        sa.Column("consent_statistics", sa.Boolean(), nullable=False),
        sa.Column("consent_quote", sa.Boolean(), nullable=False),
        sa.Column("person_ref", sa.String(length=64), nullable=True),
        sa.Column("vignette_en", sa.Text(), nullable=True),
        sa.Column("vignette_fr", sa.Text(), nullable=True),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coded_cases")),
        sa.UniqueConstraint("case_ref", name=op.f("uq_coded_cases_case_ref")),
    )
    op.create_table(
        "coded_envelopes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("envelope_id", sa.String(length=32), nullable=False),
        sa.Column("coded_case_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["coded_case_id"],
            ["coded_cases.id"],
            name=op.f("fk_coded_envelopes_coded_case_id_coded_cases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coded_envelopes")),
        sa.UniqueConstraint("envelope_id", name=op.f("uq_coded_envelopes_envelope_id")),
    )
    op.create_index(
        op.f("ix_coded_envelopes_coded_case_id"), "coded_envelopes", ["coded_case_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_coded_envelopes_coded_case_id"), table_name="coded_envelopes")
    op.drop_table("coded_envelopes")
    op.drop_table("coded_cases")
