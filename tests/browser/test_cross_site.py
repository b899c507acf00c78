"""A post from another site cannot spoil a report.

The attack: a page on another site posts, in the reporter's browser, to the
report form's language switch with a submission token that is spent already
(the attacker sent a report with it), consents ticked and one organization
left out. If the form echoed that post, the reporter would write their
report on a genuine page, press Send, and be told "received already" while
nothing was stored (or send it with consents they never gave). The form must
show such a post nothing of what it carried; the reporter's Send stores the
report, sealed to every organization, with no consent given.
"""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
import requests

from .conftest import LiveIntake

pytestmark = pytest.mark.db_independent

ATTACKER = "http://attacker.example"
TOKEN = re.compile(r'name="submission" type="hidden" value="([^"]+)"')
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def _spent_submission_token(live: LiveIntake) -> str:
    """A submission token the attacker used for a report of their own."""
    with requests.Session() as attacker:
        page = attacker.get(f"{live.url}/en/", timeout=30).text
        token, csrf = TOKEN.search(page), CSRF.search(page)
        assert token and csrf
        sent = attacker.post(
            f"{live.url}/en/",
            data={"csrf_token": csrf.group(1), "submission": token.group(1), "narrative": "the attacker's"},
            timeout=60,
        )
        assert sent.status_code == 200 and "receipt-number" in sent.text
        return token.group(1)


def _attacker_page(live: LiveIntake, spent: str) -> str:
    fields = {
        "switch_language": "fr",
        "submission": spent,
        "narrative": "",
        "consent": ["statistics", "share_coalition", "refer_police"],
        "recipients_shown": "1",
        "recipients": ["org-b"],
    }
    inputs = "".join(
        f'<input type="hidden" name="{name}" value="{html.escape(value)}">'
        for name, values in fields.items()
        for value in (values if isinstance(values, list) else [values])
    )
    return (
        "<!doctype html><title>news</title>"
        f'<form id="f" method="post" action="{live.url}/fr/">{inputs}</form>'
        '<script>document.getElementById("f").submit()</script>'
    )


@pytest.mark.parametrize("javascript", [False, True], ids=["no-js", "js"])
def test_a_cross_site_language_switch_cannot_make_send_store_nothing(
    browser: Any, live_intake: LiveIntake, javascript: bool
) -> None:
    spent = _spent_submission_token(live_intake)
    live_intake.new_envelopes()
    context = browser.new_context(java_script_enabled=True)
    try:
        page = context.new_page()
        # The attacker's page runs its script; the reporter's own browsing
        # of the intake is with or without JavaScript (a second context
        # would lose the cookie the attack relies on, so the intake's
        # scripts are blocked instead).
        page.route(
            f"{ATTACKER}/**",
            lambda route: route.fulfill(
                status=200, content_type="text/html", body=_attacker_page(live_intake, spent)
            ),
        )
        if not javascript:
            page.route(f"{live_intake.url}/static/js/**", lambda route: route.abort())
        # The reporter visited the intake before (a session cookie exists).
        page.goto(f"{live_intake.url}/en/")
        page.goto(f"{ATTACKER}/")
        page.wait_for_url(f"{live_intake.url}/fr/")
        page.wait_for_selector("form[data-kind=report]")
        # Nothing the other site posted is on the page.
        assert page.input_value("input[name=submission]") != spent
        assert page.locator("input[name=consent]:checked").count() == 0
        assert page.locator("input[name=recipients]").count() == 2
        assert page.locator("input[name=recipients]:not(:checked)").count() == 0
        # The reporter writes and sends: the report is stored.
        page.fill("textarea[name=narrative]", "They photographed me at the consulate.")
        page.click("form[data-kind=report] button[type=submit]")
        output = page.wait_for_selector(".receipt-number output", timeout=60_000)
        assert re.fullmatch(r"\d{4}( \d{4}){6}", str(output.text_content()))
    finally:
        context.close()
    rows = live_intake.new_envelopes()
    assert len(rows) == 1
    opened = live_intake.open(rows[0])
    assert opened.report["narrative"] == "They photographed me at the consulate."
    assert not any(opened.report["consent"].values())
    assert len(opened.header.key_ids) == 2  # both organizations, the default
