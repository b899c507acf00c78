"""Alarms (admin/alarms/service.py): raised with an audit entry, a banner on every
page of a logged-in account until a coordinator acknowledges it (POST,
audited), a count in the daily digest and in `alarms list`."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select

from admin.alarms import service as alarms
from admin.extensions import DB_EXTENSION
from admin.models import Alarm, AuditEntry
from admin.operations.digest import body, waiting
from tests.admin.admin_testlib import AuthActions

FINGERPRINT = "ab12 cd34 ef56 0000 1111 2222 3333 4444 5555 6666 7777 8888 9999 aaaa bbbb cccc"


def raise_one(app: Flask, kind: str = alarms.Kind.UNPINNED_KEY, detail: str | None = None) -> int:
    with app.extensions[DB_EXTENSION].session() as session:
        alarm = alarms.raise_alarm(session, kind, detail or f"an envelope names key {FINGERPRINT}")
        return alarm.id


def audit_rows(app: Flask) -> list[tuple[str, str, str | None, str]]:
    with app.extensions[DB_EXTENSION].session() as session:
        return [
            (e.actor, e.action, e.object_id, e.detail)
            for e in session.scalars(select(AuditEntry).order_by(AuditEntry.seq))
            if e.action.startswith("alarm")
        ]


def test_raise_writes_an_alarm_and_an_audit_entry(console_app: Flask) -> None:
    alarm_id = raise_one(console_app)
    assert audit_rows(console_app) == [
        ("console", "alarm", "roster.unpinned_key", f"alarm={alarm_id} an envelope names key {FINGERPRINT}")
    ]
    # Raised again while open: counted on the same alarm, audited again.
    assert raise_one(console_app) == alarm_id
    with console_app.extensions[DB_EXTENSION].session() as session:
        (alarm,) = session.scalars(select(Alarm)).all()
        assert alarm.count == 2 and alarm.acknowledged_at is None
    assert len(audit_rows(console_app)) == 2


@pytest.mark.parametrize(("kind", "detail"), [("Bad Kind", "x"), ("", "x"), ("a" * 33, "x"), ("ok", "  ")])
def test_raise_refuses_bad_names(console_app: Flask, kind: str, detail: str) -> None:
    with console_app.extensions[DB_EXTENSION].session() as session, pytest.raises(ValueError, match="alarm"):
        alarms.raise_alarm(session, kind, detail)


def test_banner_on_every_page_until_a_coordinator_acknowledges(
    console_app: Flask, console_client: FlaskClient, auth: AuthActions
) -> None:
    assert "alarm-banner" not in console_client.get("/login").get_data(as_text=True)
    reviewer = auth.create("reviewer")
    auth.full_login(reviewer)
    assert "alarm-banner" not in console_client.get("/").get_data(as_text=True)
    alarm_id = raise_one(console_app)
    for path in ("/", "/keys/", "/account", "/quarantine", "/alarms/"):
        page = console_client.get(path).get_data(as_text=True)
        assert 'class="alarm-banner" role="alert"' in page, path
        assert FINGERPRINT in page
    # A reviewer sees it but cannot make it go away.
    assert console_client.post(f"/alarms/{alarm_id}/acknowledge").status_code == 403
    auth.logout()
    # Not before login: the login page says nothing about the console.
    assert "alarm-banner" not in console_client.get("/login").get_data(as_text=True)

    coordinator = auth.create("coordinator")
    auth.full_login(coordinator)
    assert console_client.post("/alarms/999/acknowledge").status_code == 404
    done = console_client.post(f"/alarms/{alarm_id}/acknowledge")
    assert done.status_code == 302
    assert "alarm-banner" not in console_client.get("/").get_data(as_text=True)
    listed = console_client.get("/alarms/").get_data(as_text=True)
    assert FINGERPRINT in listed and "alarm-acknowledged" in listed
    assert audit_rows(console_app)[-1][:3] == (coordinator, "alarm.acknowledge", "roster.unpinned_key")
    # Twice is once.
    console_client.post(f"/alarms/{alarm_id}/acknowledge")
    assert [r[1] for r in audit_rows(console_app)] == ["alarm", "alarm.acknowledge"]
    # The same thing seen again after acknowledgement is a new alarm.
    assert raise_one(console_app) != alarm_id
    assert "alarm-banner" in console_client.get("/").get_data(as_text=True)


def test_acknowledge_needs_the_csrf_token(
    console_app: Flask, console_client: FlaskClient, auth: AuthActions
) -> None:
    auth.login_as("coordinator")
    alarm_id = raise_one(console_app)
    console_app.config["WTF_CSRF_ENABLED"] = True
    assert console_client.post(f"/alarms/{alarm_id}/acknowledge").status_code == 400
    page = console_client.get("/alarms/").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert token
    done = console_client.post(f"/alarms/{alarm_id}/acknowledge", data={"csrf_token": token.group(1)})
    assert done.status_code == 302
    with console_app.extensions[DB_EXTENSION].session() as session:
        assert alarms.count_open(session) == 0


def test_digest_and_command_line_count_open_alarms(
    console_app: Flask, console_runner: FlaskCliRunner
) -> None:
    line = "Unacknowledged alarms (the intake may be seized or tampered with): {}\n"
    with console_app.extensions[DB_EXTENSION].session() as session:
        assert line.format(0) in body(waiting(session))
    quiet = console_runner.invoke(args=["alarms", "list"])
    assert quiet.exit_code == 0 and "0 unacknowledged" in quiet.output
    raise_one(console_app)
    raise_one(
        console_app, alarms.Kind.INTAKE_CHECK, "the intake serves /static/js/intake.js with other bytes"
    )
    with console_app.extensions[DB_EXTENSION].session() as session:
        text = body(waiting(session))
    assert line.format(2) in text
    assert FINGERPRINT not in text  # the digest carries counts only
    listed = console_runner.invoke(args=["alarms", "list"])
    assert listed.exit_code == 1
    assert FINGERPRINT in listed.output and "intake.check" in listed.output
