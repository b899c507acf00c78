"""Alembic environment of this app: :func:`core.db.run_migrations` (the
engine and metadata come from ``core.db.Database.alembic_config()``;
there is no ini file)."""

from __future__ import annotations

from alembic import context

from core.db import run_migrations

run_migrations(context)
