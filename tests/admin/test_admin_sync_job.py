"""The Sync button runs the sync in the background (admin/sync/job.py): a
short one is waited for, a long one shows its progress on a page that
refreshes itself, one runs at a time, and each is audited under the
account that pressed the button."""

from __future__ import annotations

import fcntl
import threading
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from admin.errors import IntakeError
from admin.extensions import DB_EXTENSION
from admin.models import AuditEntry
from admin.sync.client import IntakeClient
from admin.sync.job import SyncJobs
from admin.sync.storage import get_cursor
from tests.admin.admin_testlib import PASSPHRASE, AuthActions, FakeIntake, is_unlocked, unlock


def audit_of(app: Flask, action: str) -> list[tuple[str, str]]:
    with app.extensions[DB_EXTENSION].session() as session:
        rows = session.execute(select(AuditEntry.actor, AuditEntry.detail).where(AuditEntry.action == action))
        return [(actor, detail) for actor, detail in rows]


def test_a_long_sync_shows_its_progress_and_runs_once(
    console_app: Flask, console_client: FlaskClient, auth: AuthActions, fake_intake: FakeIntake
) -> None:
    for n in range(5):
        fake_intake.add({"narrative": f"report {n}"})
    console_app.config.update(SYNC_WAIT=0, SYNC_PAGE_SIZE=2)
    fake_intake.gate = threading.Event()  # the intake is slow to answer
    unlock(console_app)
    email = auth.login_as("reviewer")
    jobs: SyncJobs = console_app.extensions["admin_syncjob"]

    started = console_client.post("/sync")
    assert started.status_code == 302 and started.headers["Location"].endswith("/sync")
    page = console_client.get("/sync").get_data(as_text=True)
    assert '<meta http-equiv="refresh" content="2">' in page
    assert f"started by {email}" in page
    inbox = console_client.get("/").get_data(as_text=True)
    assert "A sync is running: see its progress." in inbox
    status = jobs.status()
    assert status is not None and status.running
    # Pressed again while it runs: no second sync.
    console_client.post("/sync")
    assert jobs.status() is status

    fake_intake.gate.set()
    assert status.done.wait(30)
    done = console_client.get("/sync").get_data(as_text=True)
    assert "http-equiv" not in done
    assert "5 added, 0 quarantined, 0 skipped." in done
    assert "Pages stored: 3." in done
    assert audit_of(console_app, "sync") == [(email, "added=5 quarantined=0 skipped=0")]
    assert "A sync is running" not in console_client.get("/").get_data(as_text=True)


def test_a_failing_background_sync_says_why_and_is_audited(
    console_app: Flask, console_client: FlaskClient, auth: AuthActions, fake_intake: FakeIntake
) -> None:
    fake_intake.add({"narrative": "x"})
    console_app.config.update(SYNC_WAIT=0)
    console_app.config["INTAKE_TOKEN"] = "not the token"
    unlock(console_app)
    email = auth.login_as("reviewer")
    console_client.post("/sync")
    job = console_app.extensions["admin_syncjob"].status()
    assert job is not None and job.done.wait(30)
    page = console_client.get("/sync").get_data(as_text=True)
    assert "Sync failed after" in page and "the intake refused the API token" in page
    assert "not the token" not in page
    assert audit_of(console_app, "sync.failed") == [
        (email, "IntakeAuthError added=0 quarantined=0 skipped=0")
    ]


def test_before_any_sync_the_page_says_so_and_needs_the_sync_permission(
    console_app: Flask, console_client: FlaskClient, auth: AuthActions
) -> None:
    auth.login_as("reviewer")
    assert "No sync has run since the console started." in console_client.get("/sync").get_data(as_text=True)
    auth.logout()
    assert console_client.get("/sync").status_code == 302  # to the login page


def fail_after(seq: int) -> Any:
    """An ``IntakeClient.envelope_page`` that fails once the sync is past ``seq``."""
    real = IntakeClient.envelope_page

    def page(self: IntakeClient, after: int, limit: int) -> bytes:
        if after >= seq:
            raise IntakeError("the intake answered HTTP 503 for /api/v1/envelopes")
        return real(self, after, limit)

    return page


def test_a_sync_failing_part_way_keeps_and_shows_and_audits_what_it_stored(
    console_app: Flask,
    console_client: FlaskClient,
    auth: AuthActions,
    fake_intake: FakeIntake,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for n in range(7):
        fake_intake.add({"narrative": f"report {n}"})
    console_app.config.update(SYNC_PAGE_SIZE=2)
    monkeypatch.setattr(IntakeClient, "envelope_page", fail_after(4))
    unlock(console_app)
    email = auth.login_as("reviewer")
    page = console_client.post("/sync", follow_redirects=True).get_data(as_text=True)
    assert "Sync failed: the intake answered HTTP 503" in page
    assert "Stored before it stopped (and kept): 4 added, 0 quarantined." in page
    status = console_client.get("/sync").get_data(as_text=True)
    assert "Stored before it stopped (and kept): 4 added, 0 quarantined, 0 skipped." in status
    assert audit_of(console_app, "sync.failed") == [(email, "IntakeError added=4 quarantined=0 skipped=0")]


def test_the_sync_command_failing_part_way_audits_what_it_stored_and_locks_again(
    console_app: Flask, fake_intake: FakeIntake, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(5):
        fake_intake.add({"narrative": f"report {n}"})
    console_app.config.update(SYNC_PAGE_SIZE=2)
    monkeypatch.setattr(IntakeClient, "envelope_page", fail_after(2))
    result = console_app.test_cli_runner().invoke(args=["sync"], input=PASSPHRASE + "\n")
    assert result.exit_code == 1
    assert "stored before it stopped: added 2, quarantined 0, skipped 0" in result.stderr
    assert audit_of(console_app, "sync.failed") == [("cli", "IntakeError added=2 quarantined=0 skipped=0")]
    # The command's unlock and its lock are both in the log.
    assert audit_of(console_app, "key.unlock") == [("cli", "for one command")]
    assert audit_of(console_app, "key.lock") == [("cli", "after one command")]
    assert not is_unlocked(console_app)


def test_rescan_after_an_intake_restore_finds_what_the_cursor_passed(
    console_app: Flask, fake_intake: FakeIntake
) -> None:
    """An intake restored from a backup numbers new envelopes from the
    restored ones: seq numbers the console's cursor has passed. ``sync
    --rescan`` lists everything again, stores what is new and skips the
    rest by id."""
    for n in range(4):
        fake_intake.add({"narrative": f"report {n}"})
    runner = console_app.test_cli_runner()
    assert runner.invoke(args=["sync"], input=PASSPHRASE + "\n").exit_code == 0
    # The restore: the last two are gone, and a new report takes seq 3.
    del fake_intake.envelopes[2:]
    fresh = fake_intake.add({"narrative": "after the restore"})
    assert fresh.seq == 3
    plain = runner.invoke(args=["sync"], input=PASSPHRASE + "\n")
    assert "added 0" in plain.stdout  # passed by the cursor
    again = runner.invoke(args=["sync", "--rescan"], input=PASSPHRASE + "\n")
    assert again.exit_code == 0, again.output
    assert "added 1, quarantined 0, skipped 2" in again.stdout
    assert audit_of(console_app, "sync")[-1] == (
        "cli",
        "added=1 quarantined=0 skipped=2 (rescan from the start)",
    )
    # The sync's entry comes before the command's lock.
    with console_app.extensions[DB_EXTENSION].session() as session:
        last = session.scalars(select(AuditEntry.action).order_by(AuditEntry.seq.desc()).limit(2)).all()
    assert last == ["key.lock", "sync"]


def test_a_rescan_while_another_sync_runs_changes_nothing(
    console_app: Flask, fake_intake: FakeIntake
) -> None:
    """The rescan moves the cursor under the sync lock: refused while
    another process syncs, it leaves the cursor alone and says so."""
    fake_intake.add({"narrative": "x"})
    runner = console_app.test_cli_runner()
    assert runner.invoke(args=["sync"], input=PASSPHRASE + "\n").exit_code == 0
    with (Path(console_app.config["DATA_DIR"]) / "sync.lock").open("a") as other:
        fcntl.flock(other.fileno(), fcntl.LOCK_EX)
        busy = runner.invoke(args=["sync", "--rescan"], input=PASSPHRASE + "\n")
        fcntl.flock(other.fileno(), fcntl.LOCK_UN)
    assert busy.exit_code == 1 and "another sync is running" in busy.output
    assert get_cursor(console_app.extensions[DB_EXTENSION]) == 1
    assert audit_of(console_app, "sync.failed")[-1] == (
        "cli",
        "SyncBusyError added=0 quarantined=0 skipped=0",
    )


def test_each_sync_has_its_own_done_and_outcome(console_app: Flask, fake_intake: FakeIntake) -> None:
    """Waiting on one sync never returns for another: a new sync started
    as the last one ends has its own 'done', and the last one's outcome is
    not taken for the new one's."""
    fake_intake.add({"narrative": "x"})
    unlock(console_app)
    jobs: SyncJobs = console_app.extensions["admin_syncjob"]
    first = jobs.start("a@example.org")
    assert first.done.wait(30)
    finished = jobs.outcome(first)
    assert finished is not None and finished.result is not None and finished.result.added == 1
    fake_intake.gate = threading.Event()
    second = jobs.start("b@example.org")
    assert second.done is not first.done and not second.done.is_set()
    assert jobs.start("c@example.org") is second  # one at a time
    assert jobs.outcome(first) is None
    fake_intake.gate.set()
    assert second.done.wait(30)
    assert audit_of(console_app, "sync") == [
        ("a@example.org", "added=1 quarantined=0 skipped=0"),
        ("b@example.org", "added=0 quarantined=0 skipped=0"),
    ]


def test_the_stop_button_ends_a_sync_waiting_on_a_slow_intake(
    console_app: Flask, console_client: FlaskClient, auth: AuthActions, fake_intake: FakeIntake
) -> None:
    """A reviewer stops a sync stuck on a slow intake: it ends without
    waiting for the page, stores what it opened, and is audited."""
    for n in range(3):
        fake_intake.add({"narrative": f"report {n}"})
    console_app.config.update(SYNC_WAIT=0)
    fake_intake.gate = threading.Event()  # the intake does not answer
    unlock(console_app)
    email = auth.login_as("reviewer")
    console_client.post("/sync")
    jobs: SyncJobs = console_app.extensions["admin_syncjob"]
    job = jobs.status()
    assert job is not None and job.running
    assert "Stop the sync" in console_client.get("/sync").get_data(as_text=True)
    stopped = console_client.post("/sync/stop", follow_redirects=True).get_data(as_text=True)
    assert "Stopping" in stopped
    assert job.done.wait(10), "the stop waited for the intake"
    page = console_client.get("/sync").get_data(as_text=True)
    assert f"stopped by {email}" in page and "Stop the sync" not in page
    assert audit_of(console_app, "sync.failed") == [
        (email, "SyncStoppedError added=0 quarantined=0 skipped=0")
    ]
    fake_intake.gate.set()
    # Pressing Stop with nothing running does nothing.
    assert console_client.post("/sync/stop").status_code == 302
