"""console issue: second factors, login sessions, lockout, audit log, triage
(urgency, assignment, tags, notes, reviewer's TNR coding)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29

down_revision: 0002 (briefing: coded records), the head when this was
written.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"  # chained after the briefing migration (set by the briefing engineer)
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("failed_logins", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("locked_until", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("totp_secret_ct", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("totp_last_step", sa.BigInteger(), nullable=False, server_default="0"))
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("urgent", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("assignee_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_cases_assignee_id_users"), "users", ["assignee_id"], ["id"], ondelete="SET NULL"
        )
    op.create_index("ix_cases_urgent_seq", "cases", ["urgent", "seq"])
    op.create_index("ix_cases_status_urgent_seq", "cases", ["status", "urgent", "seq"])
    op.create_index("ix_cases_assignee_id_urgent_seq", "cases", ["assignee_id", "urgent", "seq"])

    op.create_table(
        "login_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("last_seen", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_login_sessions_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_sessions")),
    )
    op.create_index(op.f("ix_login_sessions_user_id"), "login_sessions", ["user_id"])
    op.create_table(
        "webauthn_credentials",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("credential_id", sa.LargeBinary(), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("sign_count", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("created_day", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_webauthn_credentials_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webauthn_credentials")),
        sa.UniqueConstraint("credential_id", name=op.f("uq_webauthn_credentials_credential_id")),
    )
    op.create_index(op.f("ix_webauthn_credentials_user_id"), "webauthn_credentials", ["user_id"])
    op.create_table(
        "audit_log",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("at", sa.String(length=20), nullable=False),
        sa.Column("actor", sa.String(length=254), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("object_id", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.String(length=500), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_log")),
    )
    op.create_table(
        "case_tags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("tag", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_tags_case_id_cases"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_tags")),
        sa.UniqueConstraint("case_id", "tag", name=op.f("uq_case_tags_case_id")),
    )
    op.create_index("ix_case_tags_tag_case_id", "case_tags", ["tag", "case_id"])
    op.create_table(
        "case_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.String(length=32), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("body_ct", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_notes_case_id_cases"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["author_id"], ["users.id"], name=op.f("fk_case_notes_author_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_notes")),
        sa.UniqueConstraint("uid", name=op.f("uq_case_notes_uid")),
    )
    op.create_index(op.f("ix_case_notes_case_id"), "case_notes", ["case_id"])
    op.create_table(
        "case_codings",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("attribution", sa.String(length=1), nullable=True),
        sa.Column("confidence", sa.String(length=8), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=True),
        sa.Column("province", sa.String(length=8), nullable=True),
        sa.Column("incident_month", sa.String(length=7), nullable=True),
        sa.Column("coded_by", sa.Integer(), nullable=True),
        sa.Column("coded_day", sa.Date(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "attribution IN ('A', 'B', 'C', 'D', 'E')", name=op.f("ck_case_codings_attribution")
        ),
        sa.CheckConstraint("confidence IN ('low', 'medium', 'high')", name=op.f("ck_case_codings_confidence")),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_codings_case_id_cases"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["coded_by"], ["users.id"], name=op.f("fk_case_codings_coded_by_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_case_codings")),
    )
    op.create_index(op.f("ix_case_codings_province"), "case_codings", ["province"])
    for table, length in (("case_coding_tactics", 3), ("case_coding_communities", 32)):
        op.create_table(
            table,
            sa.Column("case_id", sa.Integer(), nullable=False),
            sa.Column("code", sa.String(length=length), nullable=False),
            sa.ForeignKeyConstraint(
                ["case_id"],
                ["case_codings.case_id"],
                name=op.f(f"fk_{table}_case_id_case_codings"),
                ondelete="CASCADE",
            ),
            sa.PrimaryKeyConstraint("case_id", "code", name=op.f(f"pk_{table}")),
        )
        op.create_index(f"ix_{table}_code_case_id", table, ["code", "case_id"])


def downgrade() -> None:
    for table in ("case_coding_communities", "case_coding_tactics"):
        op.drop_index(f"ix_{table}_code_case_id", table_name=table)
        op.drop_table(table)
    op.drop_index(op.f("ix_case_codings_province"), table_name="case_codings")
    op.drop_table("case_codings")
    op.drop_index(op.f("ix_case_notes_case_id"), table_name="case_notes")
    op.drop_table("case_notes")
    op.drop_index("ix_case_tags_tag_case_id", table_name="case_tags")
    op.drop_table("case_tags")
    op.drop_table("audit_log")
    op.drop_index(op.f("ix_webauthn_credentials_user_id"), table_name="webauthn_credentials")
    op.drop_table("webauthn_credentials")
    op.drop_index(op.f("ix_login_sessions_user_id"), table_name="login_sessions")
    op.drop_table("login_sessions")
    op.drop_index("ix_cases_assignee_id_urgent_seq", table_name="cases")
    op.drop_index("ix_cases_status_urgent_seq", table_name="cases")
    op.drop_index("ix_cases_urgent_seq", table_name="cases")
    with op.batch_alter_table("cases") as batch:
        batch.drop_constraint(op.f("fk_cases_assignee_id_users"), type_="foreignkey")
        batch.drop_column("assignee_id")
        batch.drop_column("urgent")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("totp_last_step")
        batch.drop_column("totp_secret_ct")
        batch.drop_column("locked_until")
        batch.drop_column("failed_logins")
