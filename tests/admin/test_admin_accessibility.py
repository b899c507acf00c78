"""Every console page passes axe-core's WCAG 2.2 AA rules in every console
language (English, French, Traditional Chinese), in headless Chromium
against a real server: the login page (in the browser's language, before
login), then, logged in, each page of :data:`CONSOLE_PAGES` after the
account chose the language. axe-core comes from node_modules and is served
on the console's own origin through a Playwright route, so the CSP
(``script-src 'self'``) is unchanged (tests/browser/test_accessibility.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask

from tests.admin.admin_testlib import PASSWORD, AuthActions, FakeIntake, synced, unlock
from tests.browser.test_accessibility import AXE, AXE_PATH, _axe

playwright_api = pytest.importorskip("playwright.sync_api")

#: Console locale -> (the browser's Accept-Language that picks it, the
#: <html lang> it renders, the login page's heading).
LANGUAGES = {
    "en": ("en-CA", "en", "Log in"),
    "fr": ("fr-CA", "fr", "Se connecter"),
    "zh_Hant": ("zh-HK", "zh-Hant", "登入"),
}
#: The console's pages for a logged-in admin; ``{case}`` is a synced case.
CONSOLE_PAGES = (
    "/",
    "/cases/{case}",
    "/keys/",
    "/account",
    "/alarms/",
    "/audit/",
    "/briefing/",
    "/briefing/?from=2026-01&to=2026-12&k=5",
    "/interview",
    "/users",
    "/quarantine",
    "/no-such-page",
)


@dataclass
class Live:
    """What the shared axe helper needs: the origin."""

    url: str


def _page(browser: Any, base: str, accept_language: str) -> Any:
    assert AXE.exists(), "node_modules/axe-core is missing: run npm ci (scripts/test.sh does)"
    context = browser.new_context(base_url=base, locale=accept_language)
    page = context.new_page()
    source = AXE.read_bytes()
    page.route("**" + AXE_PATH, lambda route: route.fulfill(body=source, content_type="text/javascript"))
    return page


def test_every_console_page_has_no_wcag_violation_in_every_language(
    live_console: Callable[..., tuple[Flask, str]],
    browser: Any,
    intake_factory: Callable[[Flask], FakeIntake],
) -> None:
    app, base = live_console()
    fake = intake_factory(app)
    case = fake.add({"narrative": "They called my mother twice.", "language": "zh-Hant"})
    unlock(app)
    synced(app, fake)
    auth = AuthActions(app, app.test_client())
    email = auth.create("admin", email="axe@example.org")
    live = Live(base)
    found: list[str] = []

    for accept, lang, heading in LANGUAGES.values():
        # Before login: the browser's language.
        page = _page(browser, base, accept)
        page.goto("/login")
        assert page.get_attribute("html", "lang") == lang
        assert page.locator("h1").inner_text() == heading
        found += _axe(page, live)
        page.context.close()

    # Logged in from an English browser, the account chooses each language.
    page = _page(browser, base, "en-CA")
    page.goto("/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{base}/login/second-factor")
    found += _axe(page, live)
    page.fill("input[name=code]", auth.next_code(email))
    page.click("form[action$='/login/totp'] input[type=submit]")
    page.wait_for_url(f"{base}/")
    for locale, (_accept, lang, _heading) in LANGUAGES.items():
        page.goto("/account")
        page.select_option("select[name=locale]", locale)
        page.click("form[action$='/account/language'] input[type=submit]")
        page.wait_for_url(f"{base}/account")
        for path in CONSOLE_PAGES:
            response = page.goto(path.format(case=case.envelope_id))
            assert response is not None and response.status == (404 if "no-such" in path else 200), path
            assert page.get_attribute("html", "lang") == lang, path
            found += [f"[{locale}] {line}" for line in _axe(page, live)]

    assert found == [], "\n".join(found)
