"""Alembic migrations of both apps, on this run's database (SQLite or
PostgreSQL): every revision upgrades and downgrades, one step at a time; the
migrated schema equals the models; data written at the first revision
survives the upgrade."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.orm import DeclarativeBase

import admin.models
import intake.models
from intake.db import ROOT, Database

from ..conftest import Databases

APPS = {
    "intake": (intake.models.Base, ROOT / "migrations" / "intake"),
    "admin": (admin.models.Base, ROOT / "migrations" / "admin"),
}


def _database(app: str, tmp_path: Path, databases: Databases) -> Database:
    base, migrations = APPS[app]
    url = getattr(databases, app) or f"sqlite:///{tmp_path / f'{app}.db'}"
    return Database(url, migrations, base)


def _tables(db: Database) -> set[str]:
    return set(inspect(db.engine).get_table_names()) - {"alembic_version"}


def _diff(db: Database, base: type[DeclarativeBase]) -> list[object]:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, base.metadata))


@pytest.mark.parametrize("app", sorted(APPS))
def test_every_revision_up_and_down(app: str, tmp_path: Path, databases: Databases) -> None:
    db = _database(app, tmp_path, databases)
    base = APPS[app][0]
    try:
        revisions = [s.revision for s in ScriptDirectory.from_config(db.alembic_config()).walk_revisions()]
        revisions.reverse()  # oldest first
        for revision in revisions:
            db.upgrade(revision)
        assert _tables(db) == set(base.metadata.tables)
        assert _diff(db, base) == [], "the models and the migrations disagree"
        for _revision in reversed(revisions):
            db.downgrade("-1")
        assert _tables(db) == set()
        db.upgrade("head")
        assert _diff(db, base) == []
        db.downgrade("base")
        db.upgrade("head")
    finally:
        db.engine.dispose()


def test_intake_data_survives_the_upgrade(tmp_path: Path, databases: Databases) -> None:
    db = _database("intake", tmp_path, databases)
    try:
        db.upgrade("0001")
        with db.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO envelope (envelope_id, day, sealed_by, header, body, attachment_sizes) "
                    "VALUES (:id, :day, 'server', :h, :b, '')"
                ),
                {"id": "a" * 32, "day": date(2026, 1, 2), "h": b"header", "b": b"body"},
            )
        db.upgrade("head")
        with db.sessions() as session:
            row = session.get(intake.models.Envelope, 1)
            assert row is not None
            assert (row.envelope_id, row.header, row.body, row.submission_hash) == (
                "a" * 32,
                b"header",
                b"body",
                None,
            )
    finally:
        db.engine.dispose()
