"""Reply templates: replies for common situations in each reporter language,
with their meaning in each console language, kept by coordinators
(admin/replytemplates/service.py). The starter set is added by
``flask --app admin replies seed``, not here, so an edited or retired
template is never brought back by an upgrade.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reply_templates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("retired", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("title_en", sa.String(length=120), nullable=False),
        sa.Column("title_fr", sa.String(length=120), nullable=False),
        sa.Column("title_zh_hant", sa.String(length=120), nullable=False),
        sa.Column("summary_en", sa.Text(), nullable=False),
        sa.Column("summary_fr", sa.Text(), nullable=False),
        sa.Column("summary_zh_hant", sa.Text(), nullable=False),
        sa.Column("text_en", sa.Text(), nullable=False),
        sa.Column("text_fr", sa.Text(), nullable=False),
        sa.Column("text_zh_hant", sa.Text(), nullable=False),
        sa.Column("text_zh_hans", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reply_templates")),
        sa.UniqueConstraint("key", name=op.f("uq_reply_templates_key")),
    )


def downgrade() -> None:
    op.drop_table("reply_templates")
