"""Reporter edge cases over real HTTP against the live intake: the language
a first visit lands on, large posts, cookies, the follow-up page and what
the reporter is shown of what arrived. Nothing a reporter typed is lost."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from ..chromium import CHROMIUM_ARGS, require_chromium
from .conftest import LiveIntake

pytestmark = pytest.mark.db_independent


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


def _same_origin(sent: Any) -> dict[str, str]:
    """The headers of a routed request, without its cookies. Chromium adds
    ``Sec-Fetch-Site`` below the layer Playwright routes, so the copy made
    here says what Chromium says of a request from the page to its own
    origin (all this page makes): ``same-origin``, which tells the intake
    the post came from its own page (intake/report/views.py, from_own_page)."""
    headers = {k: v for k, v in sent.headers.items() if k.lower() != "cookie"}
    headers["Sec-Fetch-Site"] = "same-origin"
    return headers


def _block_cookies(page: Any) -> None:
    """Cookies blocked, as a browser setting does: each request of the page
    is made here (outside Chromium's cookie store) and answered without its
    ``Set-Cookie``, so Chromium never holds a cookie to send back."""

    def _without_cookies(route: Any) -> None:
        sent = route.request
        answer = requests.request(
            sent.method,
            sent.url,
            headers=_same_origin(sent),
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


#: A phone's Live Photo: a still and a short video of the same name.
LIVE_PHOTO = [
    {"name": "IMG_0412.HEIC", "mimeType": "image/heic", "buffer": b"\0\0\0\x18ftypheic" + bytes(2_600_000)},
    {"name": "IMG_0412.MOV", "mimeType": "video/quicktime", "buffer": b"\0\0\0\x14ftypqt  " + bytes(300_000)},
]


def _arrived(page: Any) -> list[str]:
    page.wait_for_selector("[data-arrived]:not([hidden])", timeout=60_000)
    return [" ".join(li.split()) for li in page.locator("[data-arrived] li").all_inner_texts()]


@pytest.mark.parametrize("javascript", [True, False])
def test_the_receipt_page_lists_the_files_that_arrived(
    page: Any, page_without_js: Any, live_intake: LiveIntake, javascript: bool
) -> None:
    tab = page if javascript else page_without_js
    tab.goto("/fr/")
    if javascript:
        tab.wait_for_selector("form[data-sealing=browser]", state="attached")
    tab.fill("textarea[name=narrative]", "Une photo de la voiture devant chez moi.")
    tab.set_input_files("input[name=attachments]", files=LIVE_PHOTO)
    tab.click("form#report-form button[type=submit]")
    tab.wait_for_selector(".receipt-number output", timeout=60_000)
    assert _arrived(tab) == ["IMG_0412.HEIC, 2,4 Mo", "IMG_0412.MOV, 293 ko"]
    assert "Fichiers reçus\u00a0: 2" in tab.locator("[data-arrived]").inner_text()
    [row] = live_intake.new_envelopes()
    assert row.sealed_by == ("browser" if javascript else "server")


@pytest.mark.parametrize("javascript", [True, False])
def test_the_follow_up_page_lists_the_files_that_arrived(
    page: Any, page_without_js: Any, live_intake: LiveIntake, javascript: bool
) -> None:
    tab = page if javascript else page_without_js
    tab.goto("/zh-hant/")
    tab.fill("textarea[name=narrative]", "first")
    tab.click("form#report-form button[type=submit]")
    receipt = str(tab.wait_for_selector(".receipt-number output", timeout=60_000).text_content())
    tab.goto("/zh-hant/receipt")
    tab.fill("#receipt", receipt)
    tab.click("form button[type=submit]")
    if javascript:
        tab.wait_for_selector("form[data-kind=followup][data-sealing=browser]", state="attached")
    else:
        tab.wait_for_selector("form[data-kind=followup]")
    tab.set_input_files("input[name=attachments]", files=LIVE_PHOTO)
    tab.click("form[data-kind=followup] button[type=submit]")
    assert _arrived(tab) == ["IMG_0412.HEIC, 2.4 MB", "IMG_0412.MOV, 293 KB"]
    assert "收到的檔案：2 個" in tab.locator("[data-arrived]").inner_text()
    live_intake.new_envelopes()


def test_copy_without_a_clipboard_selects_the_receipt_and_says_copy_by_hand(
    page: Any, live_intake: LiveIntake
) -> None:
    # A browser with no clipboard API and no copy command (an http:// LAN
    # address is not a secure context: navigator.clipboard is undefined).
    page.add_init_script("delete Navigator.prototype.clipboard; document.execCommand = () => false;")
    page.goto("/en/")
    page.wait_for_selector("form[data-sealing=browser]", state="attached")
    page.fill("textarea[name=narrative]", "a report")
    page.click("form#report-form button[type=submit]")
    receipt = str(page.wait_for_selector(".receipt-number output", timeout=60_000).text_content())
    page.click("[data-receipt-action=copy]")
    status = page.locator(".receipt .copied")
    assert "copy it by hand" in status.inner_text()
    assert page.evaluate("String(window.getSelection())") == receipt
    live_intake.new_envelopes()


@pytest.fixture
def insecure_page(playwright: Any, live_intake: LiveIntake) -> Iterator[Any]:
    """A page with JavaScript on at http://intake.test:<port>, a host name
    Chromium maps to 127.0.0.1: not a secure context (as an http:// LAN
    name or, in some browsers, an onion address), so crypto.subtle is
    undefined."""
    chromium = playwright.chromium.launch(
        executable_path=require_chromium(),
        headless=True,
        args=[*CHROMIUM_ARGS, "--host-resolver-rules=MAP intake.test 127.0.0.1"],
    )
    port = live_intake.url.rsplit(":", 1)[1]
    context = chromium.new_context(base_url=f"http://intake.test:{port}")
    tab = context.new_page()
    tab.errors = []
    tab.on("pageerror", lambda exc: tab.errors.append(str(exc)))
    try:
        yield tab
    finally:
        context.close()
        chromium.close()


def test_outside_a_secure_context_the_receipt_check_falls_back_and_reads_a_reply(
    insecure_page: Any, live_intake: LiveIntake
) -> None:
    tab = insecure_page
    live_intake.new_envelopes()
    tab.goto("/en/")
    assert tab.evaluate("window.isSecureContext") is False
    assert tab.evaluate("typeof crypto.subtle") == "undefined"
    # The page says which mode is in use: the server encrypts.
    assert "sends what you write to the server" in tab.locator("[data-seal-mode]").inner_text()
    tab.fill("textarea[name=narrative]", "They followed me after the vigil.")
    tab.click("form#report-form button[type=submit]")
    receipt = str(tab.wait_for_selector(".receipt-number output", timeout=60_000).text_content())
    assert "encrypted by the server as soon as it arrived" in tab.locator("main").inner_text()
    [row] = live_intake.new_envelopes()
    assert row.sealed_by == "server"
    live_intake.send_reply(row, "We read your report and will call on Tuesday.")
    # JavaScript is on, WebCrypto is not: the check must still answer.
    tab.goto("/en/receipt")
    tab.fill("#receipt", receipt)
    tab.click("form button[type=submit]")
    tab.wait_for_selector(".reply-list", timeout=60_000)
    assert "We read your report and will call on Tuesday." in tab.locator(".reply-list").inner_text()
    assert not tab.locator(".check-network").is_visible()
    assert "sends what you write to the server" in tab.locator("[data-seal-mode]").inner_text()
    assert tab.errors == []


def test_in_a_secure_context_the_page_says_it_encrypts_on_the_device(
    page: Any, live_intake: LiveIntake
) -> None:
    page.goto("/fr/")
    page.wait_for_selector("form[data-sealing=browser]", state="attached")
    assert "chiffre ce que vous envoyez sur cet appareil" in page.locator("[data-seal-mode]").inner_text()


def test_a_blocked_bundle_is_not_a_silent_fallback(page: Any, live_intake: LiveIntake) -> None:
    # An extension or a filtering proxy blocks the script: the form still
    # works (the server encrypts) and says so.
    page.route("**/static/js/intake*.js", lambda route: route.abort())  # content-hashed name
    page.goto("/zh-hans/")
    mode = page.locator("[data-seal-mode]").inner_text()
    assert "服务器一收到就会加密" in mode and "没有在这台设备上加密" in mode
    page.fill("textarea[name=narrative]", "他们又给我父母打电话了。")
    page.click("form#report-form button[type=submit]")
    page.wait_for_selector(".receipt-number output", timeout=60_000)
    assert "服务器一收到报告就已将它加密" in page.locator("main").inner_text()
    [row] = live_intake.new_envelopes()
    assert row.sealed_by == "server"
    page.errors.clear()  # the blocked script's own console error


def test_a_receipt_check_answered_by_a_proxy_error_says_so(page: Any, live_intake: LiveIntake) -> None:
    # A proxy (or a Tor circuit) answers the check with its own error page.
    page.route(
        "**/en/receipt",
        lambda route: (
            route.fulfill(status=502, content_type="text/plain", body="Bad Gateway")
            if route.request.method == "POST"
            else route.continue_()
        ),
    )
    page.goto("/en/receipt")
    page.wait_for_selector("form[data-receipt-check=browser]", state="attached")
    page.fill("#receipt", "1234 5678 9012 3456 7890 1234 5678")
    page.click("form button[type=submit]")
    page.wait_for_selector(".check-network", state="visible", timeout=60_000)
    page.errors.clear()  # Chromium logs the 502 itself


def test_an_unforeseen_fault_while_sending_ends_with_a_message(page: Any, live_intake: LiveIntake) -> None:
    # Anything that throws while the upload is built (here FormData.append
    # for the sealed header) must still end with a message and Try again.
    page.add_init_script(
        "const append = FormData.prototype.append;"
        "FormData.prototype.append = function (name, ...rest) {"
        "  if (name === 'header') throw new Error('out of memory');"
        "  return append.call(this, name, ...rest); };"
    )
    page.goto("/en/")
    page.wait_for_selector("form[data-sealing=browser]", state="attached")
    page.fill("textarea[name=narrative]", "a report")
    page.click("form#report-form button[type=submit]")
    page.wait_for_selector("#seal-error", state="visible", timeout=60_000)
    assert "What you wrote is still here" in page.locator("#seal-error").inner_text()
    assert page.locator("#seal-retry").is_visible()
    assert page.input_value("textarea[name=narrative]") == "a report"
    assert not live_intake.new_envelopes()


def test_blocked_cookies_with_javascript_say_the_form_needs_one(page: Any, live_intake: LiveIntake) -> None:
    _block_cookies(page)
    page.goto("/fr/")
    page.wait_for_selector("form[data-sealing=browser]", state="attached")
    page.fill("textarea[name=narrative]", "Ils ont appelé mes parents.")
    page.click("form#report-form button[type=submit]")
    page.wait_for_selector("#seal-error", state="visible", timeout=60_000)
    assert "besoin d’un témoin" in page.locator("#seal-error").inner_text()
    assert page.input_value("textarea[name=narrative]") == "Ils ont appelé mes parents."
    assert not live_intake.new_envelopes()
    page.errors.clear()  # Chromium logs the 400 answer itself
