"""Alembic environment of this app: :func:`intake.db.run_migrations` (the
engine and metadata come from ``intake.db.Database.alembic_config()``;
there is no ini file)."""

from __future__ import annotations

from alembic import context

from intake.db import run_migrations

run_migrations(context)
