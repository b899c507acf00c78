"""The hash-chained audit log: what is recorded, and `audit verify` finding
an edited, deleted or reordered entry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import delete, select, text, update

from admin.audit import log as audit
from admin.extensions import DB_EXTENSION
from admin.models import AuditEntry
from core.envelope import AttachmentInput
from tests.admin.admin_testlib import PASSPHRASE, AuthActions, FakeIntake, canary


def entries(app: Flask) -> list[AuditEntry]:
    with app.extensions[DB_EXTENSION].session() as session:
        return list(session.scalars(select(AuditEntry).order_by(AuditEntry.seq)))


def actions(app: Flask) -> list[str]:
    return [e.action for e in entries(app)]


def some_entries(app: Flask, n: int = 5) -> None:
    with app.extensions[DB_EXTENSION].session() as session:
        for i in range(n):
            audit.record(session, "someone@example.org", audit.Action.CASE_VIEW, f"{i:032x}")


def test_a_reviewers_day_is_recorded(
    console_app: Flask,
    console_client: FlaskClient,
    auth: AuthActions,
    fake_intake: FakeIntake,
    console_runner: FlaskCliRunner,
) -> None:
    secret = canary()
    served = fake_intake.add(
        {"narrative": f"report {secret}"}, (AttachmentInput("a.txt", "text/plain", secret.encode()),)
    )
    auth.create("coordinator", email="coord@example.org")
    auth.login("coord@example.org", "wrong password, long enough")
    auth.login("nobody@example.org", "typed password here")
    auth.full_login("coord@example.org")
    console_client.post("/keys/unlock", data={"passphrase": "wrong"})
    console_client.post("/keys/unlock", data={"passphrase": PASSPHRASE})
    console_client.post("/sync")
    console_client.get(f"/cases/{served.envelope_id}")
    console_client.get(f"/cases/{served.envelope_id}/attachments/0").close()
    console_client.post(
        f"/cases/{served.envelope_id}/triage", data={"status": "in_review", "tags": "follow-up"}
    )
    console_client.post(f"/cases/{served.envelope_id}/coding", data={"tactics": ["T05"], "province": "CA-ON"})
    console_client.post(f"/cases/{served.envelope_id}/notes", data={"body": f"note {secret}"})
    console_client.post("/keys/lock")
    console_client.post("/logout")
    assert actions(console_app) == [
        "login.failed",
        "login.failed",
        "login",
        "key.unlock_failed",
        "key.unlock",
        "sync",
        "case.view",
        "attachment.download",
        "case.update",
        "case.code",
        "case.note",
        "key.lock",
        "logout",
    ]
    log = entries(console_app)
    assert log[0].actor == "coord@example.org" and log[0].detail == "password"
    assert log[1].actor == "anonymous"  # never what was typed
    assert log[6].object_id == served.envelope_id
    assert log[8].detail == "status=in_review tags=+follow-up"
    dump = json.dumps([[e.actor, e.action, e.object_id, e.detail] for e in log])
    for needle in (secret, PASSPHRASE, "typed password here", "nobody@example.org"):
        assert needle not in dump

    result = console_runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert f"audit log intact: {len(log)} entries" in result.output


def test_audit_page_for_coordinators(console_client: FlaskClient, auth: AuthActions) -> None:
    auth.login_as("coordinator")
    page = console_client.get("/audit/").get_data(as_text=True)
    assert "login" in page and "audit.view" in page


def test_empty_log_verifies(console_runner: FlaskCliRunner) -> None:
    result = console_runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0 and "0 entries, empty" in result.output


def test_edited_entry_is_detected(console_app: Flask, console_runner: FlaskCliRunner) -> None:
    some_entries(console_app)
    with console_app.extensions[DB_EXTENSION].session() as session:
        session.execute(
            update(AuditEntry).where(AuditEntry.seq == 3).values(actor="someone-else@example.org")
        )
    result = console_runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert "entry 3 was edited" in result.output


def test_edited_entry_with_recomputed_hash_is_detected(
    console_app: Flask, console_runner: FlaskCliRunner
) -> None:
    some_entries(console_app)
    with console_app.extensions[DB_EXTENSION].session() as session:
        entry = session.get(AuditEntry, 2)
        assert entry is not None
        entry.action = "case.update"
        entry.hash = audit.entry_hash(entry)
    result = console_runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert "entry 3 does not follow entry 2" in result.output


@pytest.mark.parametrize(("seq", "message"), [(3, "entry 3 is missing"), (1, "entry 1 is missing")])
def test_deleted_entry_is_detected(
    console_app: Flask, console_runner: FlaskCliRunner, seq: int, message: str
) -> None:
    some_entries(console_app)
    with console_app.extensions[DB_EXTENSION].session() as session:
        session.execute(delete(AuditEntry).where(AuditEntry.seq == seq))
    result = console_runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert message in result.output


def test_deleted_last_entries_are_detected_by_the_head(
    console_app: Flask, console_runner: FlaskCliRunner
) -> None:
    some_entries(console_app)
    head = json.loads((Path(console_app.config["DATA_DIR"]) / "audit-head.json").read_text())
    assert head["seq"] == 5
    with console_app.extensions[DB_EXTENSION].session() as session:
        session.execute(delete(AuditEntry).where(AuditEntry.seq >= 4))
    result = console_runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert "entries from 4 to 5 were deleted" in result.output


def test_reordered_entries_are_detected(console_app: Flask, console_runner: FlaskCliRunner) -> None:
    some_entries(console_app)
    with console_app.extensions[DB_EXTENSION].session() as session:
        # Swap entries 2 and 4 by their sequence numbers.
        session.execute(text("UPDATE audit_log SET seq = -2 WHERE seq = 2"))
        session.execute(text("UPDATE audit_log SET seq = 2 WHERE seq = 4"))
        session.execute(text("UPDATE audit_log SET seq = 4 WHERE seq = -2"))
    result = console_runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert "entry 2" in result.output


def test_rolled_back_change_leaves_no_entry(console_app: Flask) -> None:
    db = console_app.extensions[DB_EXTENSION]

    def failing_change() -> None:
        with db.session() as session:
            audit.record(session, "x@example.org", audit.Action.CASE_UPDATE, "a" * 32)
            raise RuntimeError("the change failed")

    with pytest.raises(RuntimeError):
        failing_change()
    assert entries(console_app) == []
    assert not (Path(console_app.config["DATA_DIR"]) / "audit-head.json").exists()


def test_damaged_head_file_is_reported(console_app: Flask, console_runner: FlaskCliRunner) -> None:
    some_entries(console_app, 2)
    (Path(console_app.config["DATA_DIR"]) / "audit-head.json").write_text("not json at all")
    result = console_runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
