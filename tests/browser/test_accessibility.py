"""Every reporter page passes axe-core's WCAG 2.2 AA rules in every shipped
language: the form (fresh, and with an error), the safety page, the receipt
(the server's page, and the one the script shows), the receipt check (and
its error), the status page with its follow-up form, and the error page.

axe-core comes from node_modules (``npm ci``; pinned in package-lock.json)
and is served on the page's own origin through a Playwright route, so the
page's CSP (``script-src 'self'``) is unchanged and nothing is loaded from
elsewhere.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from .conftest import LiveIntake

pytestmark = pytest.mark.db_independent

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
LANGS = ["en", "zh-hant", "zh-hans", "fr"]
AXE_PATH = "/__test__/axe.min.js"  # served by the test's route only, never by the intake


def _axe(page: Any, live: LiveIntake) -> list[str]:
    """Violations on the current page, as readable lines (rule, impact,
    the elements)."""
    page.add_script_tag(url=live.url + AXE_PATH)
    result = page.evaluate(
        """async (tags) => {
          const options = { runOnly: { type: "tag", values: tags }, resultTypes: ["violations"] };
          const r = await axe.run(document, options);
          return r.violations.map((v) => ({
            id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target.join(" ")),
          }));
        }""",
        TAGS,
    )
    return [f"{page.url}: {v['id']} ({v['impact']}) {json.dumps(v['nodes'][:5])}" for v in result]


@pytest.fixture
def axe_page(page: Any, live_intake: LiveIntake) -> Any:
    # scripts/test.sh runs npm ci first: a missing axe-core is a broken
    # checkout, not a reason to skip the accessibility audit.
    assert AXE.exists(), "node_modules/axe-core is missing: run npm ci (scripts/test.sh does)"
    source = AXE.read_bytes()
    page.route(
        "**" + AXE_PATH,
        lambda route: route.fulfill(status=200, body=source, content_type="text/javascript"),
    )
    return page


def _receipt_without_the_bundle(page: Any, lang: str) -> str:
    """Send a report the plain way (the bundle is held back, so the form
    posts and the server answers with its receipt page)."""
    page.route("**/static/js/intake.*js", lambda route: route.abort())
    page.goto(f"/{lang}/")
    page.fill("textarea[name=narrative]", "accessibility check")
    page.click("form button[type=submit]")
    receipt = str(page.wait_for_selector(".receipt-number output").text_content())
    page.unroute("**/static/js/intake.*js")
    return receipt


@pytest.mark.parametrize("lang", LANGS)
def test_every_reporter_page_has_no_wcag_violation(axe_page: Any, live_intake: LiveIntake, lang: str) -> None:
    page = axe_page
    found: list[str] = []

    for path in (f"/{lang}/", f"/{lang}/safety", f"/{lang}/receipt", f"/{lang}/no-such-page"):
        page.goto(path)
        found += _axe(page, live_intake)

    # The form with an error (an empty report), as the server shows it.
    page.route("**/static/js/intake.*js", lambda route: route.abort())
    page.goto(f"/{lang}/")
    page.click("form button[type=submit]")
    page.wait_for_selector(".alert")
    found += _axe(page, live_intake)
    page.unroute("**/static/js/intake.*js")

    # The server's receipt page, then the check with a wrong receipt, then
    # the status page with its follow-up form.
    receipt = _receipt_without_the_bundle(page, lang)
    found += _axe(page, live_intake)
    # A reviewer has replied: the status page shows it (opened on the device).
    report = live_intake.new_envelopes()[-1]
    live_intake.send_reply(report, "We read your report.\nCan we call you?")
    page.goto(f"/{lang}/receipt")
    page.fill("#receipt", "1234")
    page.click("form button[type=submit]")
    page.wait_for_selector("#receipt-error")
    found += _axe(page, live_intake)
    page.fill("#receipt", receipt)
    page.click("form button[type=submit]")
    page.wait_for_selector("form[data-kind=followup][data-sealing=browser]", state="attached")
    page.wait_for_selector(".reply-list li[data-opened=true]", state="attached", timeout=60_000)
    found += _axe(page, live_intake)

    # The receipt as the script shows it after sealing in the page.
    page.goto(f"/{lang}/")
    page.wait_for_selector("form[data-sealing=browser]", state="attached")
    page.fill("textarea[name=narrative]", "accessibility check, sealed here")
    page.click("form button[type=submit]")
    page.wait_for_selector(".receipt-number output", timeout=60_000)
    found += _axe(page, live_intake)

    assert found == [], "\n".join(found)
    live_intake.new_envelopes()


def test_the_dark_colour_scheme_has_no_wcag_violation(browser: Any, live_intake: LiveIntake) -> None:
    """The stylesheet has a dark palette (prefers-color-scheme): its
    contrast is checked too, on the form and the safety page."""
    context = browser.new_context(base_url=live_intake.url, color_scheme="dark")
    try:
        page = context.new_page()
        source = AXE.read_bytes()
        page.route("**" + AXE_PATH, lambda route: route.fulfill(body=source, content_type="text/javascript"))
        found: list[str] = []
        for path in ("/zh-hant/", "/fr/safety"):
            page.goto(path)
            found += _axe(page, live_intake)
        assert found == [], "\n".join(found)
    finally:
        context.close()


def test_the_honeypot_is_never_reached_by_keyboard_nor_seen(page: Any, live_intake: LiveIntake) -> None:
    page.goto("/en/")
    page.wait_for_selector("form[data-sealing=browser]", state="attached")
    box = page.locator("#extra_note").bounding_box()
    assert box is None or box["x"] + box["width"] <= 0  # off screen
    for _ in range(200):
        page.keyboard.press("Tab")
        focused = page.evaluate("document.activeElement && document.activeElement.id")
        assert focused != "extra_note"
        if focused == "seal-retry" or page.evaluate(
            "document.activeElement && document.activeElement.matches('form button[type=submit]')"
        ):
            break
    else:
        raise AssertionError("Tab never reached the Send button")
