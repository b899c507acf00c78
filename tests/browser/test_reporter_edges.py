"""Reporter edge cases over real HTTP against the live intake: the language
a first visit lands on, large posts, cookies, the follow-up page and what
the reporter is shown of what arrived. Nothing a reporter typed is lost."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from .conftest import LiveIntake


@pytest.mark.parametrize(
    ("header", "lands_on"),
    [
        ("zh-TW-u-ca-chinese", "zh-hant"),
        ("zh-HK-x-private", "zh-hant"),
        ("zh-cmn-Hant-TW", "zh-hant"),
        ("zh-Hant", "zh-hant"),
        ("yue-HK", "zh-hant"),
        ("yue", "zh-hant"),
        ("zh-MO", "zh-hant"),
        ("de-DE, yue-HK;q=0.8, en;q=0.5", "zh-hant"),
        ("zh-CN", "zh-hans"),
        ("zh-Hans", "zh-hans"),
        ("zh-SG", "zh-hans"),
        ("zh-Hans-HK", "zh-hans"),
        ("fr-CA", "fr"),
        ("de-DE", "en"),
    ],
)
def test_a_first_visit_lands_on_the_readers_script(
    live_intake: LiveIntake, header: str, lands_on: str
) -> None:
    response = requests.get(
        live_intake.url + "/", headers={"Accept-Language": header}, allow_redirects=False, timeout=30
    )
    assert response.status_code in (302, 303)
    assert response.headers["Location"].endswith(f"/{lands_on}/")


def _block_cookies(page: Any) -> None:
    """Cookies blocked, as a browser setting does: each request of the page
    is made here (outside Chromium's cookie store) and answered without its
    ``Set-Cookie``, so Chromium never holds a cookie to send back."""

    def _without_cookies(route: Any) -> None:
        sent = route.request
        answer = requests.request(
            sent.method,
            sent.url,
            headers={k: v for k, v in sent.headers.items() if k.lower() != "cookie"},
            data=sent.post_data_buffer,
            allow_redirects=False,
            timeout=30,
        )
        dropped = ("set-cookie", "content-encoding", "content-length", "transfer-encoding")
        headers = {k: v for k, v in answer.headers.items() if k.lower() not in dropped}
        route.fulfill(status=answer.status_code, headers=headers, body=answer.content)

    page.route("**/*", _without_cookies)


@pytest.mark.parametrize(
    ("lang", "needs_cookie"), [("zh-hant", "這份表格需要一個 Cookie"), ("en", "needs a cookie")]
)
def test_blocked_cookies_say_the_form_needs_one(
    page_without_js: Any, live_intake: LiveIntake, lang: str, needs_cookie: str
) -> None:
    _block_cookies(page_without_js)
    page_without_js.goto(f"/{lang}/")
    page_without_js.fill("textarea[name=narrative]", "他們又打電話給我父母。")
    for _attempt in range(2):  # pressing Send again must not loop on "expired"
        page_without_js.click("form#report-form button[type=submit]")
        alert = page_without_js.locator(".alert").first.inner_text()
        assert needs_cookie in alert
        assert "expired" not in alert and "已過期" not in alert
        assert page_without_js.input_value("textarea[name=narrative]") == "他們又打電話給我父母。"
    assert not live_intake.new_envelopes()


def test_blocked_cookies_on_the_receipt_check_say_so(page_without_js: Any, live_intake: LiveIntake) -> None:
    _block_cookies(page_without_js)
    page_without_js.goto("/fr/receipt")
    page_without_js.fill("#receipt", "1234")
    page_without_js.click("form button[type=submit]")
    text = page_without_js.locator("main").inner_text()
    assert "besoin d’un témoin" in text
    assert "La page a expiré" not in text
