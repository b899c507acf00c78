"""Follow-ups a reporter added with their receipt arrive on the report's case,
and only when the sealed body agrees with the intake's link."""

from __future__ import annotations

import os

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from admin.extensions import DB_EXTENSION
from admin.models import Case, Quarantine
from admin.sync.storage import SyncResult
from core.envelope import AttachmentInput
from core.envelope.conversation import followup_proof
from core.envelope.format import new_envelope_id
from tests.admin.admin_testlib import AuthActions, FakeIntake, canary, sync_from, unlock


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
    console_app: Flask, console_client: FlaskClient, auth: AuthActions, fake_intake: FakeIntake
) -> None:
    first, later = canary(), canary()
    report = fake_intake.add({"narrative": f"first {first}"}).envelope_id
    added = followup(fake_intake, report, f"later {later}")
    unlock(console_app)
    assert run_sync(console_app, fake_intake) == SyncResult(added=2, quarantined=0, skipped=0)

    auth.login_as("reviewer")
    inbox = console_client.get("/").get_data(as_text=True)
    assert first in inbox
    assert later not in inbox  # listed on the report's case instead
    page = console_client.get(f"/cases/{report}").get_data(as_text=True)
    assert "Timeline: follow-ups, replies and notes" in page and "Follow-up from the reporter" in page
    assert later in page and "more.png" in page
    assert f"/cases/{added}/attachments/0" in page
    child = console_client.get(f"/cases/{added}").get_data(as_text=True)
    assert "This is a follow-up the reporter added to" in child
    assert f"/cases/{report}" in child


def test_a_link_the_sealed_body_does_not_confirm_is_quarantined(
    console_app: Flask, fake_intake: FakeIntake
) -> None:
    report = fake_intake.add({"narrative": "mine"}).envelope_id
    other = fake_intake.add({"narrative": "someone else's"}).envelope_id
    # The intake claims the follow-up belongs to another case.
    forged = followup(fake_intake, report, "added later", listed=other)
    unlinked = fake_intake.add({"narrative": "a plain report"})
    unlinked.follows = report  # a link with no sealed follow-up behind it
    unlock(console_app)
    assert run_sync(console_app, fake_intake) == SyncResult(added=2, quarantined=2, skipped=0)
    with console_app.extensions[DB_EXTENSION].session() as session:
        quarantined = {q.envelope_id: q.error_class for q in session.scalars(select(Quarantine))}
        assert session.scalars(select(Case.follows)).all() == [None, None]
    assert quarantined == {forged: "MalformedEnvelopeError", unlinked.envelope_id: "MalformedEnvelopeError"}


def test_a_followup_whose_report_is_missing_stays_in_the_inbox(
    console_app: Flask, console_client: FlaskClient, auth: AuthActions, fake_intake: FakeIntake
) -> None:
    text = canary()
    orphan = followup(fake_intake, "a" * 32, f"orphan {text}")
    unlock(console_app)
    assert run_sync(console_app, fake_intake).added == 1
    auth.login_as("reviewer")
    assert text in console_client.get("/").get_data(as_text=True)
    assert "not in this console" in console_client.get(f"/cases/{orphan}").get_data(as_text=True)


def test_follow_ups_are_checked_against_their_reports_conversation_key(
    console_app: Flask, console_client: FlaskClient, auth: AuthActions, fake_intake: FakeIntake
) -> None:
    """Format v2 (docs/envelope.md section 14): a follow-up of a v2 report is
    filed only with a proof under that report's key; a follow-up of an
    older (v1) report cannot be checked and is marked on the case page."""
    key = os.urandom(32)
    report = fake_intake.add({"narrative": "new"}, auth={"key": key}).envelope_id
    proven_id = new_envelope_id()
    proven = fake_intake.add(
        {"form_version": 2, "kind": "followup", "follows": report, "narrative": f"proven {canary()}"},
        auth={"proof": followup_proof(key, report, proven_id)},
        envelope_id=proven_id,
    )
    proven.follows = report
    # A proof made for another envelope id does not move to this one.
    moved = fake_intake.add(
        {"form_version": 2, "kind": "followup", "follows": report, "narrative": "moved"},
        auth={"proof": followup_proof(key, report, new_envelope_id())},
    )
    moved.follows = report
    older = fake_intake.add({"narrative": "older"}).envelope_id
    older_followup = followup(fake_intake, older, f"older follow-up {canary()}")
    unlock(console_app)
    result = run_sync(console_app, fake_intake)
    assert (result.added, result.quarantined) == (4, 1)
    assert result.alarms == [
        "sync quarantined a follow-up: forged follow-up: its proof does not verify under the report's key; "
        "not filed on the case"
    ]
    with console_app.extensions[DB_EXTENSION].session() as session:
        verified = {e: v for e, v in session.execute(select(Case.envelope_id, Case.followup_verified))}
        quarantined = {q.envelope_id: q.error_class for q in session.scalars(select(Quarantine))}
    assert quarantined == {moved.envelope_id: "ForgedFollowupError"}
    assert verified[proven_id] is True and verified[older_followup] is False

    auth.login_as("reviewer")
    page = console_client.get(f"/cases/{report}").get_data(as_text=True)
    assert "proven" in page and "not authenticated (older report)" not in page
    page = console_client.get(f"/cases/{older}").get_data(as_text=True)
    assert "older follow-up" in page and "not authenticated (older report)" in page
