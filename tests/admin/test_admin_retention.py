"""Retention and purge: closed cases past RETENTION_DAYS_CLOSED leave the
console after the intake confirmed the deletion; a tombstone keeps a later
sync from adding them again."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select, update

from admin.attachments.blobs import blob_dir
from admin.cases import triage
from admin.extensions import DB_EXTENSION, KEYRING_EXTENSION
from admin.models import (
    AuditEntry,
    Case,
    CaseAttachment,
    CaseCoding,
    CaseCodingTactic,
    CaseNote,
    CaseTag,
    PurgedEnvelope,
    SyncState,
    User,
)
from admin.operations import retention
from admin.sync.client import IntakeClient
from admin.sync.run import sync
from core.envelope import AttachmentInput, RecipientPrivateKey
from tests.admin.admin_testlib import FakeIntake, unlock

TODAY = datetime.now(UTC).date()
LONG_AGO = TODAY - timedelta(days=400)


@pytest.fixture
def deleting_intake(console_app: Flask, org_key: RecipientPrivateKey) -> Iterator[FakeIntake]:
    fake = FakeIntake(org_key)
    fake.start()
    console_app.config["INTAKE_URL"] = fake.url
    console_app.config["INTAKE_TOKEN"] = fake.token
    yield fake
    fake.stop()


def _sync(app: Flask, fake: FakeIntake) -> Any:
    with IntakeClient(fake.url, fake.token) as c:
        return sync(
            app.extensions[DB_EXTENSION], app.extensions[KEYRING_EXTENSION], Path(app.config["DATA_DIR"]), c
        )


def _close(app: Flask, envelope_id: str, day: date) -> None:
    with app.extensions[DB_EXTENSION].session() as session:
        session.execute(
            update(Case).where(Case.envelope_id == envelope_id).values(status="closed", closed_day=day)
        )


def _count(app: Flask, model: Any) -> int:
    with app.extensions[DB_EXTENSION].session() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def _audit(app: Flask, action: str) -> list[tuple[str | None, str]]:
    with app.extensions[DB_EXTENSION].session() as session:
        rows = session.execute(
            select(AuditEntry.object_id, AuditEntry.detail)
            .where(AuditEntry.action == action)
            .order_by(AuditEntry.seq)
        )
        return [(o, d) for o, d in rows]


def _triage_everything(app: Flask, envelope_id: str) -> None:
    """A note, a tag and a coding on the case, as a reviewer leaves them."""
    with app.app_context(), app.extensions[DB_EXTENSION].session() as session:
        case = session.scalar(select(Case).where(Case.envelope_id == envelope_id))
        assert case is not None
        user = User(email="r@example.org", password_hash="x", role="reviewer")
        session.add(user)
        session.flush()
        triage.add_note(session, case, app.extensions[KEYRING_EXTENSION], user, "a note about a person")
        triage.update_case(session, case, status=case.status, urgent=True, tags=["harassment"])
        triage.set_coding(session, case, triage.Coding(tactics=("T01",)), user)


def test_closing_sets_and_reopening_clears_the_closed_day(
    console_app: Flask, deleting_intake: FakeIntake
) -> None:
    served = deleting_intake.add({"narrative": "x"})
    unlock(console_app)
    _sync(console_app, deleting_intake)
    with console_app.app_context(), console_app.extensions[DB_EXTENSION].session() as session:
        case = session.scalar(select(Case).where(Case.envelope_id == served.envelope_id))
        assert case is not None and case.closed_day is None
        triage.update_case(session, case, status="closed", urgent=False, tags=[])
        assert case.closed_day == TODAY
        triage.update_case(session, case, status="in_review", urgent=False, tags=[])
        assert case.closed_day is None


def test_due_cases(console_app: Flask, deleting_intake: FakeIntake) -> None:
    old = deleting_intake.add({"narrative": "closed long ago"})
    recent = deleting_intake.add({"narrative": "closed yesterday"})
    still_open = deleting_intake.add({"narrative": "open"})
    unlock(console_app)
    _sync(console_app, deleting_intake)
    _close(console_app, old.envelope_id, LONG_AGO)
    _close(console_app, recent.envelope_id, TODAY - timedelta(days=1))
    with console_app.extensions[DB_EXTENSION].session() as session:
        assert retention.due_cases(session, 365) == [old.envelope_id]
        assert retention.due_cases(session, 1) == [old.envelope_id, recent.envelope_id]
        assert retention.due_cases(session, 0) == []  # keep forever
    assert still_open.envelope_id not in retention_due(console_app)


def test_purge_removes_everything_and_keeps_a_tombstone(
    console_app: Flask, console_runner: FlaskCliRunner, deleting_intake: FakeIntake, data_dir: Path
) -> None:
    mine = deleting_intake.add(
        {"narrative": "only ours"}, (AttachmentInput("a.txt", "text/plain", b"attachment bytes"),)
    )
    shared = deleting_intake.add({"narrative": "also sealed to another organization"})
    keep = deleting_intake.add({"narrative": "still open"})
    deleting_intake.others.add(shared.envelope_id)
    unlock(console_app)
    _sync(console_app, deleting_intake)
    _triage_everything(console_app, mine.envelope_id)
    _close(console_app, mine.envelope_id, LONG_AGO)
    _close(console_app, shared.envelope_id, LONG_AGO)
    assert [p.name for p in blob_dir(data_dir).iterdir()] == [f"{mine.envelope_id}-0.sealed"]

    dry = console_runner.invoke(args=["purge", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert mine.envelope_id in dry.output and shared.envelope_id in dry.output
    assert keep.envelope_id not in dry.output
    assert deleting_intake.deletes == [] and _count(console_app, Case) == 3  # nothing happened

    result = console_runner.invoke(args=["purge"])
    assert result.exit_code == 0, result.output
    assert f"{mine.envelope_id}\tintake: deleted (remaining 0)" in result.output
    assert f"{shared.envelope_id}\tintake: kept (remaining 1)" in result.output
    assert deleting_intake.deletes == [mine.envelope_id, shared.envelope_id]

    with console_app.extensions[DB_EXTENSION].session() as session:
        assert list(session.scalars(select(Case.envelope_id))) == [keep.envelope_id]
        assert {(t.envelope_id, t.day) for t in session.scalars(select(PurgedEnvelope))} == {
            (mine.envelope_id, TODAY),
            (shared.envelope_id, TODAY),
        }
    for model in (CaseAttachment, CaseNote, CaseTag, CaseCoding, CaseCodingTactic):
        assert _count(console_app, model) == 0, model
    assert list(blob_dir(data_dir).iterdir()) == []
    assert _audit(console_app, "case.purge") == [
        (mine.envelope_id, "intake=deleted remaining=0 blobs=1"),
        (shared.envelope_id, "intake=kept remaining=1 blobs=0"),
    ]
    assert _audit(console_app, "purge") == [(None, "days=365 purged=2 failed=0")]

    # The shared envelope is no longer listed for us (as the real intake
    # does); an intake restored from a backup would serve it again, and a
    # sync from the start must not add it again.
    deleting_intake.envelopes = sorted([*deleting_intake.envelopes, shared], key=lambda e: e.seq)
    with console_app.extensions[DB_EXTENSION].session() as session:
        session.execute(update(SyncState).values(cursor=0))
    again = _sync(console_app, deleting_intake)
    assert (again.added, again.skipped) == (0, 2)
    assert _count(console_app, Case) == 1

    # A second purge finds nothing due.
    assert "purged 0, failed 0" in console_runner.invoke(args=["purge"]).output


def test_followups_go_with_their_case(
    console_app: Flask, console_runner: FlaskCliRunner, deleting_intake: FakeIntake
) -> None:
    report = deleting_intake.add({"narrative": "report"})
    followup = deleting_intake.add({"kind": "followup", "follows": report.envelope_id, "narrative": "more"})
    followup.follows = report.envelope_id
    unlock(console_app)
    assert _sync(console_app, deleting_intake).added == 2
    _close(console_app, report.envelope_id, LONG_AGO)
    with console_app.extensions[DB_EXTENSION].session() as session:
        assert retention.due_cases(session, 365) == [followup.envelope_id, report.envelope_id]
    assert console_runner.invoke(args=["purge"]).exit_code == 0
    assert _count(console_app, Case) == 0 and _count(console_app, PurgedEnvelope) == 2


def test_intake_down_keeps_the_case(
    console_app: Flask, console_runner: FlaskCliRunner, deleting_intake: FakeIntake
) -> None:
    served = deleting_intake.add({"narrative": "x"})
    unlock(console_app)
    _sync(console_app, deleting_intake)
    _close(console_app, served.envelope_id, LONG_AGO)
    console_app.config["INTAKE_URL"] = "http://127.0.0.1:9"  # nothing listens there
    result = console_runner.invoke(args=["purge"])
    assert result.exit_code == 1
    assert "purged 0, failed 1" in result.output
    assert _count(console_app, Case) == 1 and _count(console_app, PurgedEnvelope) == 0
    assert _audit(console_app, "case.purge_failed") == [(served.envelope_id, "IntakeError")]
    # Back up: the next purge finishes the job; a 404 (already gone) counts as done.
    console_app.config["INTAKE_URL"] = deleting_intake.url
    deleting_intake.envelopes = [e for e in deleting_intake.envelopes if e.envelope_id != served.envelope_id]
    assert console_runner.invoke(args=["purge"]).exit_code == 0
    assert _audit(console_app, "case.purge") == [(served.envelope_id, "intake=absent blobs=0")]


def test_purge_configuration(make_console: Callable[..., Flask], tmp_path: Path) -> None:
    app = make_console(RETENTION_DAYS_CLOSED=0)
    assert "kept forever" in app.test_cli_runner().invoke(args=["purge"]).output
    app.config["RETENTION_DAYS_CLOSED"] = 30
    # The intake must confirm every deletion: without it, refused.
    refused = app.test_cli_runner().invoke(args=["purge"])
    assert refused.exit_code != 0 and "ADMIN_INTAKE_URL" in refused.output


def retention_due(app: Flask, days: int = 1) -> list[str]:
    with app.extensions[DB_EXTENSION].session() as session:
        return retention.due_cases(session, days)
