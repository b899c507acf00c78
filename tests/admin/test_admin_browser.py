"""The console in headless Chromium with its virtual WebAuthn authenticator
(CDP ``WebAuthn.enable`` / ``WebAuthn.addVirtualAuthenticator``): register a
security key, log in with it, unlock, sync, code a case, reply to its
reporter, verify the audit chain. Real CSRF tokens, the real CSP (a same-origin script only)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from admin.extensions import DB_EXTENSION
from admin.models import AuditEntry
from core.envelope import SealedEnvelope
from core.envelope.replykey import open_reply, reply_private_key
from core.receipts import new_receipt
from tests.admin.admin_testlib import PASSPHRASE, AuthActions, FakeIntake, VirtualSecurityKey

playwright_api = pytest.importorskip("playwright.sync_api")

# "localhost" is this machine's loopback address, never a lookup.
RESOLVE_LOCALHOST = "--host-resolver-rules=MAP localhost 127.0.0.1"
# WebAuthn refuses an IP address as relying party id, so the page is served
# from 127.0.0.1 under the name "localhost" (a secure context, loopback only).
HOST = "localhost"


@pytest.fixture
def browser(launch_chromium: Callable[..., Any]) -> Any:
    return launch_chromium(RESOLVE_LOCALHOST)


def test_security_key_login_unlock_sync_code_reply_and_audit(
    live_console: Callable[..., tuple[Flask, str]],
    browser: Any,
    intake_factory: Callable[[Flask], FakeIntake],
) -> None:
    app, base = live_console()
    base = base.replace("127.0.0.1", HOST)
    fake = intake_factory(app)
    receipt = new_receipt()  # the reporter's, who will read the reply with it
    first = fake.add(
        {"narrative": "Someone photographed me at the vigil.", "language": "en"},
        reply_key=reply_private_key(receipt).public_key.raw,
    )
    fake.add({"narrative": "They called my mother.", "language": "zh"})
    email = AuthActions(app, app.test_client()).create("coordinator", email="coord@example.org", totp=False)

    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    key = VirtualSecurityKey(context, page, base)

    # First login: password, then register a security key (enrolment).
    key.enrol(email)
    assert page.locator("h1").inner_text() == "Inbox"

    # Log out, then in with the key.
    page.click("text=Log out")
    page.wait_for_url(f"{base}/login")
    key.log_in(email)

    # Unlock, sync.
    page.goto(f"{base}/keys/")
    page.fill("input[name=passphrase]", PASSPHRASE)
    page.click("input[type=submit]")
    page.wait_for_selector("text=The organization key is unlocked.")
    page.goto(f"{base}/")
    page.click("button:has-text('Sync')")
    page.wait_for_selector("text=Sync done: 2 added, 0 quarantined, 0 skipped.")
    assert "Someone photographed me" in page.content()

    # Code and triage the first case.
    page.goto(f"{base}/cases/{first.envelope_id}")
    page.check("#tactic-T06")
    page.check("#tactic-T05")
    page.select_option("#coding-form select[name=province]", "CA-ON")
    page.select_option("#coding-form select[name=attribution]", "C")
    page.select_option("#coding-form select[name=confidence]", "low")
    page.click("#coding-form input[type=submit]")
    page.wait_for_selector("text=Coding saved.")
    page.select_option("#triage-form select[name=status]", "in_review")
    page.click("#triage-form input[type=submit]")
    page.wait_for_selector("text=Saved.")
    assert page.locator("#case-status").get_attribute("data-code") == "in_review"
    assert page.locator("#case-status").inner_text() == "In review"

    # Reply to the reporter: sealed to the reply key, handed to the intake,
    # shown on the case timeline; only the receipt's key opens it.
    text = "Thank you. We would like to call you; reply with a safe time."
    page.fill("form[action*='/reply'] textarea[name=body]", text)
    page.click("form[action*='/reply'] input[type=submit]")
    page.wait_for_selector("text=Reply sent.")
    assert page.locator("ol.timeline li.reply pre").inner_text() == text
    [(report_id, header, body)] = fake.replies
    assert report_id == first.envelope_id
    opened = open_reply(SealedEnvelope(header, body), reply_private_key(receipt), first.envelope_id)
    assert opened.text == text
    assert not [e for e in errors if "Content Security Policy" in e]

    # The audit chain holds and tells the story.
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    with app.extensions[DB_EXTENSION].session() as session:
        actions = [e.action for e in session.scalars(select(AuditEntry).order_by(AuditEntry.seq))]
    for expected in (
        "second_factor.enrolled",
        "login",
        "logout",
        "key.unlock",
        "sync",
        "case.view",
        "case.code",
        "case.reply",
    ):
        assert expected in actions
    assert actions.count("login") == 2
    context.close()
