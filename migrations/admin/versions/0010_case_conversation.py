"""The conversation (envelope format v2): a v2 report's auth key, sealed
under the data key, and whether a follow-up's proof verified under it.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("auth_key_ct", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("followup_verified", sa.Boolean(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("followup_verified")
        batch.drop_column("auth_key_ct")
