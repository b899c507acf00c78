"""A seized intake speaks for no one: a follow-up and a reply forged with
nothing but write access to the intake's database (no receipt, no private
key) are refused, against the real intake and console over HTTP.

The adversary holds what the intake holds: the organizations' public keys
and the report's header (hence the reporter's public reply key). It seals a
"follow-up" to the organization and a "reply" to the reporter and writes
them into the intake's tables. The console quarantines the follow-up (and
raises an alarm) instead of filing it on the case, and the reporter's page,
with JavaScript on (Chromium opens the replies) and off (the intake opens
them in memory), does not show the reply as the reviewers'.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from admin.extensions import DB_EXTENSION, KEYRING_EXTENSION
from admin.models import Case, Quarantine
from admin.sync.client import IntakeClient
from admin.sync.run import sync
from core.envelope import parse_header, seal
from core.envelope.replykey import seal_reply
from core.receipts import format_receipt, normalize_receipt
from core.timing import today_utc
from intake.store.envelopes import store_envelope
from intake.store.models import Envelope, Reply
from tests.admin.admin_testlib import RECIPIENT_ID, AuthActions, canary, unlock
from tests.admin.served_intake import ServedIntake

pytest.importorskip("playwright.sync_api")

RECEIPT = re.compile(r"<output>([\d ]+)</output>")


def _sync(app: Flask, served: ServedIntake) -> Any:
    with IntakeClient(served.url, served.token) as client:
        return sync(
            app.extensions[DB_EXTENSION],
            app.extensions[KEYRING_EXTENSION],
            Path(app.config["DATA_DIR"]),
            client,
        )


def _forge_followup(served: ServedIntake, report: Envelope, text: str, **seal_options: Any) -> str:
    """What the database's writer can do: seal to the public key, store it
    as a follow-up of ``report`` (the sealed body names the report, too)."""
    sealed = seal(
        {"form_version": 2, "kind": "followup", "follows": report.envelope_id, "narrative": text},
        [served.public_key],
        day=today_utc(),
        sealed_by="browser",
        **seal_options,
    )
    with served.app.app_context():
        db = served.app.extensions["intake.db"]
        with db.sessions() as session:
            store_envelope(
                session,
                served.app.extensions["intake.blobs"],
                sealed,
                {served.public_key.key_id: RECIPIENT_ID},
                followup_of=report.seq,
            )
    return sealed.envelope_id


def _forge_reply(served: ServedIntake, report: Envelope, text: str) -> None:
    """Seal a "reply" to the report's public reply key and insert it."""
    reply_key = parse_header(report.header).reply_key
    assert reply_key is not None
    sealed = seal_reply(reply_key, report.envelope_id, text, "Test Org", today_utc())
    with served.app.app_context():
        db = served.app.extensions["intake.db"]
        with db.sessions() as session:
            session.add(
                Reply(
                    envelope_seq=report.seq,
                    reply_id=parse_header(sealed.header).envelope_id,
                    header=sealed.header,
                    body=sealed.body,
                )
            )
            session.commit()


def _check_receipt(context: Any, url: str, receipt: str, *, javascript: bool) -> Any:
    page = context.new_page()
    page.goto(f"{url}/en/receipt")
    if javascript:
        page.wait_for_selector("form[data-receipt-check=browser]", state="attached")
    page.fill("#receipt", receipt)
    page.click("form[data-receipt-check] button[type=submit]")
    if javascript:
        page.wait_for_selector("main[data-replies-ready=true]", state="attached", timeout=60_000)
    else:
        page.wait_for_selector(".reply-list", state="attached", timeout=60_000)
    return page


def test_a_followup_and_a_reply_forged_in_the_intake_database_are_refused(
    console_app: Flask, console_client: FlaskClient, auth: AuthActions, served: ServedIntake, browser: Any
) -> None:
    # A reporter without JavaScript: the intake seals (format v2) and shows
    # the receipt once.
    html = (
        served.app.test_client()
        .post("/en/", data={"narrative": "they called my mother"})
        .get_data(as_text=True)
    )
    found = RECEIPT.search(html)
    assert found is not None
    receipt = format_receipt(normalize_receipt(found.group(1)))
    unlock(console_app)
    assert _sync(console_app, served).added == 1
    with served.app.app_context(), served.app.extensions["intake.db"].sessions() as session:
        report = session.scalars(select(Envelope)).one()
        session.expunge(report)

    # The reviewers answer for real, through the console.
    genuine = f"We read your report. {canary()}"
    auth.login_as("reviewer")
    assert (
        console_client.post(f"/cases/{report.envelope_id}/reply", data={"body": genuine}).status_code == 302
    )

    # The seized intake writes a follow-up and a reply of its own.
    forged_followup, forged_reply = (
        f"My number changed, call {canary()}",
        f"Send your parents' address {canary()}",
    )
    forged_ids = [_forge_followup(served, report, forged_followup)]
    # and one with a made-up proof (format v2)
    forged_ids.append(_forge_followup(served, report, forged_followup, auth={"proof": os.urandom(32)}))
    _forge_reply(served, report, forged_reply)

    # The console: quarantined, never filed on the case, alarmed.
    result = _sync(console_app, served)
    assert result.added == 0 and result.quarantined == len(forged_ids)
    with console_app.app_context(), console_app.extensions[DB_EXTENSION].session() as session:
        assert session.scalars(select(Case.envelope_id).where(Case.follows == report.envelope_id)).all() == []
        quarantined = {q.envelope_id: q.error_class for q in session.scalars(select(Quarantine))}
    assert quarantined == dict.fromkeys(forged_ids, "ForgedFollowupError")
    assert "follow-up" in " ".join(result.alarms)
    page = console_client.get(f"/cases/{report.envelope_id}").get_data(as_text=True)
    assert forged_followup not in page and "Follow-up from the reporter" not in page
    assert genuine in page

    # The reporter, without JavaScript: the intake opens the replies in
    # memory and shows only the one whose proof verifies.
    context = browser.new_context(java_script_enabled=False)
    try:
        page = _check_receipt(context, served.url, receipt, javascript=False)
        text = page.text_content("main") or ""
        assert genuine in text
        assert forged_reply not in text
        assert page.locator("[data-unauthenticated]").count() == 1
    finally:
        context.close()

    # The reporter, with JavaScript: the browser opens and checks them.
    context = browser.new_context()
    try:
        page = _check_receipt(context, served.url, receipt, javascript=True)
        assert page.text_content(".reply-list li[data-opened=true] .reply-text") == genuine
        assert forged_reply not in (page.text_content("main") or "")
        assert page.locator(".reply-list li[data-opened=unauthenticated]").count() == 1
    finally:
        context.close()
