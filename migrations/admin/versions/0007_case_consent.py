"""The reporter's consent to statistics and to quoting, copied at sync, so
briefings can count the console's own coding without the key unlocked.
Cases synced before this revision count as not consenting until synced
again (conservative).

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("consent_statistics", sa.Boolean(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("consent_quote", sa.Boolean(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_column("consent_quote")
        batch_op.drop_column("consent_statistics")
