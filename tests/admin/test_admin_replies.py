"""Replies from the console to the reporter, end to end against a real
intake on loopback: a report sent without JavaScript, synced, answered from
the case page; the intake stores the reply only sealed, the reporter reads
it after the receipt check, the case page shows it on the timeline, and a
reply that cannot be sent keeps its text."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from admin.cases.replies import reply_sender
from admin.config import DEFAULTS
from admin.extensions import DB_EXTENSION, KEYRING_EXTENSION
from admin.models import AuditEntry, CaseReply
from admin.sync.client import IntakeClient
from admin.sync.run import sync
from core.receipts import normalize_receipt
from intake.store.models import Envelope, Reply
from tests.admin.admin_testlib import AuthActions, canary, files_containing, unlock
from tests.admin.served_intake import ServedIntake

RECEIPT = re.compile(r"<output>([\d ]+)</output>")


def _report(served: ServedIntake) -> str:
    html = (
        served.app.test_client()
        .post("/en/", data={"narrative": "they called my mother"})
        .get_data(as_text=True)
    )
    found = RECEIPT.search(html)
    assert found is not None
    return normalize_receipt(found.group(1))


def _sync_and_unlock(app: Flask, served: ServedIntake) -> str:
    unlock(app)
    with IntakeClient(served.url, served.token) as client:
        result = sync(
            app.extensions[DB_EXTENSION],
            app.extensions[KEYRING_EXTENSION],
            Path(app.config["DATA_DIR"]),
            client,
        )
    assert result.added == 1
    with served.app.app_context(), served.app.extensions["intake.db"].sessions() as session:
        envelope_id = session.scalars(select(Envelope.envelope_id)).one()
    return str(envelope_id)


def _count(app: Flask, model: Any) -> int:
    with app.app_context(), app.extensions[DB_EXTENSION].session() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_a_reviewer_replies_and_the_reporter_reads_it(
    console_app: Flask, console_client: FlaskClient, auth: AuthActions, served: ServedIntake, data_dir: Path
) -> None:
    receipt = _report(served)
    envelope_id = _sync_and_unlock(console_app, served)
    auth.login_as("reviewer")
    page = console_client.get(f"/cases/{envelope_id}").get_data(as_text=True)
    assert 'name="body"' in page and f"/cases/{envelope_id}/reply" in page

    text = f"Thank you. Can we call you on Signal? {canary()}"
    response = console_client.post(f"/cases/{envelope_id}/reply", data={"body": text})
    assert response.status_code == 302
    page = console_client.get(f"/cases/{envelope_id}").get_data(as_text=True)
    assert text in page and "Timeline" in page

    # The intake holds it sealed only; the console keeps it under the data key.
    marker = text.split()[-1].encode()
    assert marker not in served.database_bytes()
    assert files_containing(data_dir, marker) == []
    assert _count(console_app, CaseReply) == 1
    with served.app.app_context(), served.app.extensions["intake.db"].sessions() as session:
        assert session.scalar(select(func.count()).select_from(Reply)) == 1

    # The reporter reads it with the receipt (no JavaScript: the server opens it).
    reporter = served.app.test_client()
    page = reporter.post("/en/receipt", data={"receipt": receipt}).get_data(as_text=True)
    assert "Can we call you on Signal?" in page and "From Test Org" in page

    with console_app.app_context(), console_app.extensions[DB_EXTENSION].session() as session:
        entries = list(session.scalars(select(AuditEntry)))
    assert "case.reply" in [e.action for e in entries]
    # The audit names the reply's envelope, never its text (on PostgreSQL
    # too, where the console's database is not in the data folder).
    written = " ".join(f"{e.actor} {e.action} {e.object_id} {e.detail}" for e in entries)
    assert marker.decode() not in written and "Signal" not in written


def test_a_reply_that_cannot_be_sent_keeps_its_text(
    console_app: Flask, console_client: FlaskClient, auth: AuthActions, served: ServedIntake
) -> None:
    _report(served)
    envelope_id = _sync_and_unlock(console_app, served)
    auth.login_as("reviewer")
    served.stop()
    text = "We will call you on Thursday."
    response = console_client.post(f"/cases/{envelope_id}/reply", data={"body": text})
    assert response.status_code == 503
    page = response.get_data(as_text=True)
    assert "did not take the reply" in page and text in page
    assert _count(console_app, CaseReply) == 0

    console_app.extensions[KEYRING_EXTENSION].lock()
    response = console_client.post(f"/cases/{envelope_id}/reply", data={"body": text})
    assert response.status_code == 409 and text in response.get_data(as_text=True)

    unlock(console_app)
    response = console_client.post(f"/cases/{envelope_id}/reply", data={"body": "   "})
    assert response.status_code == 400
    assert _count(console_app, CaseReply) == 0


def test_the_reporter_sees_the_sender_in_the_reports_language(
    console_app: Flask, console_client: FlaskClient, auth: AuthActions, served: ServedIntake
) -> None:
    console_app.config["REPLY_FROM"] = DEFAULTS["REPLY_FROM"]
    html = (
        served.app.test_client()
        .post("/zh-hant/", data={"narrative": "他們打電話給我母親"})
        .get_data(as_text=True)
    )
    found = RECEIPT.search(html)
    assert found is not None
    envelope_id = _sync_and_unlock(console_app, served)
    auth.login_as("reviewer")
    assert console_client.post(f"/cases/{envelope_id}/reply", data={"body": "謝謝您。"}).status_code == 302
    page = served.app.test_client().post("/zh-hant/receipt", data={"receipt": found.group(1)})
    assert "來自聯盟審閱人員" in page.get_data(as_text=True)
    assert reply_sender(DEFAULTS["REPLY_FROM"], "fr") == "L'équipe d'analyse de la coalition"
    assert reply_sender(DEFAULTS["REPLY_FROM"], "uy") == "Coalition reviewers"
    assert reply_sender("One name", "zh-Hans") == "One name"
