"""Follow-ups a reporter added with their receipt arrive on the report's case,
and only when the sealed body agrees with the intake's link."""

from __future__ import annotations

from admin_testlib import AuthActions, FakeIntake, canary, sync_from, unlock
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from admin.extensions import DB_EXTENSION
from admin.models import Case, Quarantine
from admin.sync import SyncResult
from intake.envelope import AttachmentInput


def run_sync(app: Flask, fake: FakeIntake) -> SyncResult:
    return sync_from(app, fake)


def followup(fake: FakeIntake, of: str, text: str, *, listed: str | None = None) -> str:
    served = fake.add(
        {"form_version": 2, "kind": "followup", "follows": of, "narrative": text},
        (AttachmentInput("more.png", "image/png", b"\x89PNG more"),),
    )
    served.follows = of if listed is None else listed
    return served.envelope_id


def test_a_followup_is_shown_on_its_report_not_in_the_inbox(
    app: Flask, client: FlaskClient, auth: AuthActions, intake: FakeIntake
) -> None:
    first, later = canary(), canary()
    report = intake.add({"narrative": f"first {first}"}).envelope_id
    added = followup(intake, report, f"later {later}")
    unlock(app)
    assert run_sync(app, intake) == SyncResult(added=2, quarantined=0, skipped=0)

    auth.login_as("reviewer")
    inbox = client.get("/").get_data(as_text=True)
    assert first in inbox
    assert later not in inbox  # listed on the report's case instead
    page = client.get(f"/cases/{report}").get_data(as_text=True)
    assert "Timeline: follow-ups and replies" in page and "Follow-up from the reporter" in page
    assert later in page and "more.png" in page
    assert f"/cases/{added}/attachments/0" in page
    child = client.get(f"/cases/{added}").get_data(as_text=True)
    assert "This is a follow-up the reporter added to" in child
    assert f"/cases/{report}" in child


def test_a_link_the_sealed_body_does_not_confirm_is_quarantined(app: Flask, intake: FakeIntake) -> None:
    report = intake.add({"narrative": "mine"}).envelope_id
    other = intake.add({"narrative": "someone else's"}).envelope_id
    # The intake claims the follow-up belongs to another case.
    forged = followup(intake, report, "added later", listed=other)
    unlinked = intake.add({"narrative": "a plain report"})
    unlinked.follows = report  # a link with no sealed follow-up behind it
    unlock(app)
    assert run_sync(app, intake) == SyncResult(added=2, quarantined=2, skipped=0)
    with app.extensions[DB_EXTENSION].session() as session:
        quarantined = {q.envelope_id: q.error_class for q in session.scalars(select(Quarantine))}
        assert session.scalars(select(Case.follows)).all() == [None, None]
    assert quarantined == {forged: "MalformedEnvelopeError", unlinked.envelope_id: "MalformedEnvelopeError"}


def test_a_followup_whose_report_is_missing_stays_in_the_inbox(
    app: Flask, client: FlaskClient, auth: AuthActions, intake: FakeIntake
) -> None:
    text = canary()
    orphan = followup(intake, "a" * 32, f"orphan {text}")
    unlock(app)
    assert run_sync(app, intake).added == 1
    auth.login_as("reviewer")
    assert text in client.get("/").get_data(as_text=True)
    assert "not in this console" in client.get(f"/cases/{orphan}").get_data(as_text=True)
