"""Briefings count the console's own coding, with the reporter's consents as
sealed, and a report also imported from another console counts once."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from sqlalchemy import select

from admin.briefing.record_store import briefing_records
from admin.cases.triage import Coding, set_coding
from admin.extensions import DB_EXTENSION, KEYRING_EXTENSION
from admin.models import Case, User
from admin.sync.client import IntakeClient
from admin.sync.run import sync
from tests.admin.admin_testlib import FakeIntake, unlock


def _sync(app: Flask, fake: FakeIntake) -> None:
    with IntakeClient(fake.url, fake.token) as client:
        sync(
            app.extensions[DB_EXTENSION],
            app.extensions[KEYRING_EXTENSION],
            Path(app.config["DATA_DIR"]),
            client,
        )


def _report(statistics: bool, quote: bool) -> dict[str, object]:
    return {
        "form_version": 2,
        "narrative": "they came to my door",
        "consent": {"statistics": statistics, "share_coalition": False, "contact": False,
                    "refer_police": False, "quote": quote},
    }  # fmt: skip


def _code(app: Flask, envelope_id: str, *, complete: bool = True) -> None:
    with app.extensions[DB_EXTENSION].session() as session:
        case = session.scalar(select(Case).where(Case.envelope_id == envelope_id))
        coder = session.scalar(select(User)) or User(
            email="coder@test.invalid", role="reviewer", password_hash="x"
        )
        if coder.id is None:
            session.add(coder)
            session.flush()
        assert case is not None
        coding = Coding(
            tactics=("T04", "T05"),
            communities=("uyghur",),
            province="CA-ON" if complete else None,
            attribution="C",
            confidence="medium",
            incident_month="2026-10",
        )
        set_coding(session, case, coding, coder)


def test_console_coding_is_counted_with_the_sealed_consents(
    console_app: Flask, fake_intake: FakeIntake
) -> None:
    consenting = fake_intake.add(_report(True, True)).envelope_id
    refusing = fake_intake.add(_report(False, False)).envelope_id
    unfinished = fake_intake.add(_report(True, False)).envelope_id
    followup = fake_intake.add(
        {"form_version": 2, "kind": "followup", "follows": consenting, "narrative": "more"}
    )
    followup.follows = consenting
    unlock(console_app)
    _sync(console_app, fake_intake)
    for envelope_id in (consenting, refusing):
        _code(console_app, envelope_id)
    _code(console_app, unfinished, complete=False)

    with console_app.extensions[DB_EXTENSION].session() as session:
        records = {r.case_id: r for r in briefing_records(session)}
    assert set(records) == {consenting, refusing}  # an incomplete coding is not counted yet
    mine = records[consenting]
    assert (mine.consent_statistics, mine.consent_quote) == (True, True)
    assert mine.envelope_ids == tuple(sorted([consenting, followup.envelope_id]))
    assert mine.tactics == ("T04", "T05") and mine.province == "CA-ON" and mine.report_month == "2026-11"
    assert (records[refusing].consent_statistics, records[refusing].consent_quote) == (False, False)


def test_a_report_also_imported_counts_once_with_this_consoles_coding(
    console_app: Flask, fake_intake: FakeIntake, tmp_path: Path
) -> None:
    envelope_id = fake_intake.add(_report(True, False)).envelope_id
    unlock(console_app)
    _sync(console_app, fake_intake)
    _code(console_app, envelope_id)
    export = tmp_path / "other.csv"
    export.write_text(
        "case_id,envelope_ids,incident_month,report_month,province,tactics,communities,attribution,"
        "confidence,disposition,consent_statistics\n"
        f"X-1,{envelope_id},2026-09,2026-11,CA-BC,T07,,D,low,verified,yes\n",
        encoding="utf-8",
    )
    result = console_app.test_cli_runner().invoke(args=["coded", "import", str(export)])
    assert result.exit_code == 0, result.output
    with console_app.extensions[DB_EXTENSION].session() as session:
        records = briefing_records(session)
    assert [(r.case_id, r.province) for r in records] == [(envelope_id, "CA-ON")]
