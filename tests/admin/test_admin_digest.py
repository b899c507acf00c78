"""`flask --app admin digest`: one e-mail per active account with
counts only (new, needs information, urgent), sent even when all are zero,
never in clear when STARTTLS is expected; tested against an SMTP sink on
127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import select, update

from admin.extensions import DB_EXTENSION, KEYRING_EXTENSION
from admin.models import AuditEntry, Case, User
from admin.operations.digest import SUBJECT
from admin.sync.client import IntakeClient
from admin.sync.run import sync
from tests.admin.admin_testlib import AuthActions, FakeIntake, canary, unlock
from tests.admin.smtp_sink import SmtpSink

SMTP_PASSWORD = "smtp-secret-" + "x" * 8


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    server = SmtpSink()
    server.start()
    yield server
    server.stop()


def configure(app: Flask, sink: SmtpSink, **extra: object) -> None:
    settings: dict[str, object] = {
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": sink.port,
        "SMTP_FROM": "console@coalition.example",
        "SMTP_STARTTLS": False,
        "SMTP_TIMEOUT": 5,
    }
    app.config.update(settings | extra)


def digest_audit(app: Flask) -> list[str]:
    with app.extensions[DB_EXTENSION].session() as session:
        return list(session.scalars(select(AuditEntry.detail).where(AuditEntry.action == "digest")))


def test_not_configured_is_a_quiet_success(console_runner: FlaskCliRunner) -> None:
    result = console_runner.invoke(args=["digest"])
    assert result.exit_code == 0
    assert "not configured" in result.output


def test_one_message_per_account_with_counts_only(
    console_app: Flask,
    console_runner: FlaskCliRunner,
    auth: AuthActions,
    fake_intake: FakeIntake,
    sink: SmtpSink,
) -> None:
    marks = [canary() for _ in range(6)]
    served = [fake_intake.add({"narrative": m}) for m in marks]
    served[5].follows = served[0].envelope_id  # listed under its report, not a case of its own
    unlock(console_app)
    with IntakeClient(fake_intake.url, fake_intake.token) as client:
        sync(
            console_app.extensions[DB_EXTENSION],
            console_app.extensions[KEYRING_EXTENSION],
            Path(console_app.config["DATA_DIR"]),
            client,
        )
    states = {0: ("new", True), 1: ("new", False), 2: ("needs_information", False), 3: ("closed", True)}
    states[4] = ("in_review", True)
    with console_app.extensions[DB_EXTENSION].session() as session:
        for i, (status, urgent) in states.items():
            session.execute(
                update(Case)
                .where(Case.envelope_id == served[i].envelope_id)
                .values(status=status, urgent=urgent)
            )
    emails = [auth.create(role) for role in ("reviewer", "coordinator", "admin")]
    gone = auth.create("reviewer")
    with console_app.extensions[DB_EXTENSION].session() as session:
        session.execute(update(User).where(User.email == gone).values(active=False))
    configure(console_app, sink)

    result = console_runner.invoke(args=["digest"])
    assert result.exit_code == 0, result.output
    assert "sent 3, failed 0" in result.output
    got = sink.state.messages
    assert sorted(m.recipients[0] for m in got) == sorted(emails)
    assert all(len(m.recipients) == 1 for m in got)
    for m in got:
        msg = m.message
        assert msg["To"] == m.recipients[0] and msg["Cc"] is None
        assert msg["Subject"] == SUBJECT
        assert msg["Message-ID"].endswith("@coalition.example>")
        text = msg.get_payload(decode=True).decode().replace("\r\n", "\n")
        assert "new: 2\n" in text and "needs information: 1\n" in text
        assert "urgent (imminent danger): 2\n" in text  # the closed one no longer waits
        raw = m.data.decode("utf-8", "replace")
        assert "http" not in raw
        for s, mark in zip(served, marks, strict=True):
            assert s.envelope_id not in raw and mark not in raw
    assert digest_audit(console_app) == [
        "new=2 needs_information=1 urgent=2 alarms=0 recipients=3 sent=3 failed=0"
    ]


def test_sent_when_nothing_waits(
    console_app: Flask, console_runner: FlaskCliRunner, auth: AuthActions, sink: SmtpSink
) -> None:
    email = auth.create("reviewer")
    configure(console_app, sink)
    result = console_runner.invoke(args=["digest"])
    assert result.exit_code == 0, result.output
    (only,) = sink.state.messages
    assert only.recipients == [email]
    text = only.message.get_payload(decode=True).decode().replace("\r\n", "\n")
    assert "new: 0\n" in text and "needs information: 0\n" in text and "urgent (imminent danger): 0\n" in text


def test_never_in_clear_when_starttls_is_expected(
    console_app: Flask, console_runner: FlaskCliRunner, auth: AuthActions, sink: SmtpSink
) -> None:
    auth.create("reviewer")
    configure(console_app, sink, SMTP_STARTTLS=True, SMTP_USER="console", SMTP_PASSWORD=SMTP_PASSWORD)
    result = console_runner.invoke(args=["digest"])
    assert result.exit_code == 1
    assert "SMTPNotSupportedError" in result.output
    assert SMTP_PASSWORD not in result.output
    assert sink.state.messages == [] and sink.state.logins == []
    assert not any(line.upper().startswith(("AUTH", "MAIL", "DATA")) for line in sink.state.lines)
    assert digest_audit(console_app) == [
        "new=0 needs_information=0 urgent=0 alarms=0 failed=SMTPNotSupportedError"
    ]


def test_login_and_a_refused_recipient(
    console_app: Flask, console_runner: FlaskCliRunner, auth: AuthActions, sink: SmtpSink
) -> None:
    kept = auth.create("reviewer")
    refused = auth.create("coordinator")
    sink.state.refuse.add(refused)
    configure(console_app, sink, SMTP_USER="console", SMTP_PASSWORD=SMTP_PASSWORD)
    result = console_runner.invoke(args=["digest"])
    assert result.exit_code == 1
    assert "sent 1, failed 1" in result.output
    assert sink.state.logins == [("console", SMTP_PASSWORD)]
    assert [m.recipients for m in sink.state.messages] == [[kept]]


def test_a_host_without_a_sender_is_refused(console_app: Flask, console_runner: FlaskCliRunner) -> None:
    console_app.config.update(SMTP_HOST="127.0.0.1")
    result = console_runner.invoke(args=["digest"])
    assert result.exit_code == 1 and "ADMIN_SMTP_FROM" in result.output
