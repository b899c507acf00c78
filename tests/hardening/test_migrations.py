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
import intake.store.models
from core.db import ROOT, Database

from ..conftest import Databases

APPS = {
    "intake": (intake.store.models.Base, ROOT / "migrations" / "intake"),
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
            row = session.get(intake.store.models.Envelope, 1)
            assert row is not None
            assert (row.envelope_id, row.header, row.body, row.submission_hash) == (
                "a" * 32,
                b"header",
                b"body",
                None,
            )
    finally:
        db.engine.dispose()


def test_the_envelope_rebuild_keeps_child_rows_and_never_reuses_a_seq(
    tmp_path: Path, databases: Databases
) -> None:
    """Migration 0005 rebuilds ``envelope`` on SQLite (AUTOINCREMENT): the
    rows that refer to it survive (foreign keys are off during a migration,
    or the rebuild's DROP would cascade), and once the newest envelope is
    deleted, the next one still gets a new seq, never one a console has
    already passed."""
    db = _database("intake", tmp_path, databases)
    insert = text(
        "INSERT INTO envelope (envelope_id, day, sealed_by, header, body, attachment_sizes) "
        "VALUES (:id, :day, 'server', :h, :b, '')"
    )
    try:
        db.upgrade("0004")
        with db.engine.begin() as conn:
            for n in range(3):
                conn.execute(insert, {"id": f"{n:032x}", "day": date(2026, 1, 2), "h": b"h", "b": b"b"})
            conn.execute(
                text(
                    "INSERT INTO envelope_recipient (envelope_seq, key_id, recipient_id) "
                    "VALUES (1, :k, 'org')"
                ),
                {"k": "c" * 64},
            )
        db.upgrade("head")
        with db.engine.begin() as conn:
            assert conn.execute(text("SELECT count(*) FROM envelope_recipient")).scalar() == 1
            conn.execute(text("DELETE FROM envelope WHERE seq = 3"))
            conn.execute(insert, {"id": "f" * 32, "day": date(2026, 1, 3), "h": b"h", "b": b"b"})
            new_seq = conn.execute(text("SELECT seq FROM envelope WHERE envelope_id = :id"), {"id": "f" * 32})
            assert new_seq.scalar() == 4
            if conn.dialect.name == "sqlite":
                assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1  # on again after the migration
    finally:
        db.engine.dispose()
