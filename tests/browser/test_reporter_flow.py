"""The reporter's side in a real browser, in every language: the full form
sealed in the page, the receipt, a reply the console sent read on the device
after coming back with the receipt typed in full-width digits, a follow-up
file linked to the same report; both paths give the
same report JSON; nothing in the browser's storage; leave quickly; no
horizontal scroll at 360 px, right-to-left included."""

from __future__ import annotations

from typing import Any

import pytest

from core.envelope import parse_header
from core.envelope.conversation import auth_key, followup_proof
from core.envelope.replykey import reply_private_key, reply_seed
from core.receipts import normalize_receipt

from ..helpers import database_bytes
from .conftest import LiveIntake

pytestmark = pytest.mark.db_independent

LANGS = ["en", "zh-hant", "zh-hans", "fr"]
TAGS = {"en": "en", "zh-hant": "zh-Hant", "zh-hans": "zh-Hans", "fr": "fr"}
FULL_WIDTH = str.maketrans("0123456789 ", "０１２３４５６７８９\u3000")
LEAVE = "https://www.wikipedia.org/"


REPLIES = {
    "en": "We read your report and would like to talk.",
    "zh-hant": "我們已閱讀您的報告，希望與您聯絡。",
    "zh-hans": "我们已阅读您的报告，希望与您联系。",
    "fr": "Nous avons lu votre signalement et aimerions vous parler.",
}


def _fill_everything(page: Any, narrative: str) -> None:
    page.fill("textarea[name=narrative]", narrative)
    for code in ("T04", "T06", "T10"):
        page.check(f"#tactics-{code}")
    page.fill("#when", "２０２６年7月")
    page.check("#ongoing")
    page.select_option("#province", "CA-ON")
    page.fill("#city", " Toronto ")
    page.check("#channel-in_person")
    page.check("#channel-family_abroad")
    page.check("#targeted-me")
    page.check("#community-hong_konger")
    page.check("#state-hksar")
    page.check("#police_told-no")
    page.check("#impact-fear")
    page.check("#contact_method-signal")
    page.fill("#contact_value", "+1 416 555 0147")
    page.fill("#contact_safe_times", "evenings")
    page.select_option("#contact_language", "yue")
    page.check("#consent-statistics")
    page.check("#consent-quote")
    page.set_input_files(
        "input[name=attachments]",
        files=[{"name": "photo.png", "mimeType": "image/png", "buffer": b"\x89PNG\r\n\x1a\nfake"}],
    )


def _storage(page: Any) -> dict[str, Any]:
    return dict(
        page.evaluate(
            """async () => ({
                local: localStorage.length,
                session: sessionStorage.length,
                idb: indexedDB.databases ? (await indexedDB.databases()).length : 0,
                cookies: document.cookie,
            })"""
        )
    )


@pytest.mark.parametrize("lang", LANGS)
def test_report_receipt_follow_up_in_every_language(page: Any, live_intake: LiveIntake, lang: str) -> None:
    live_intake.new_envelopes()
    page.goto(f"/{lang}/")
    page.wait_for_selector("form[data-sealing=browser]", state="attached")
    _fill_everything(page, f"report in {lang}")
    page.click("form button[type=submit]")
    receipt = str(page.wait_for_selector(".receipt-number output", timeout=60_000).text_content())
    assert page.is_visible("[data-receipt-action=copy]") and page.is_visible("[data-receipt-action=print]")
    assert _storage(page) == {"local": 0, "session": 0, "idb": 0, "cookies": ""}
    [report_row] = live_intake.new_envelopes()
    assert report_row.sealed_by == "browser"
    report = live_intake.open(report_row).report
    assert report["language"] == TAGS[lang] and report["when"] == "2026-07" and report["city"] == "Toronto"
    assert report["tactics"] == ["T04", "T06", "T10"]
    # The browser derived the reply key from its receipt exactly as Python
    # does (hash-wasm's Argon2id against OpenSSL's, then X-Wing).
    digits = normalize_receipt(receipt)
    reply_key = parse_header(report_row.header).reply_key
    assert reply_key == reply_private_key(digits).public_key.raw

    # A reviewer answers from the console: sealed to the reply key, handed
    # to the intake with the console's own client.
    text = f"{REPLIES[lang]} ({lang})"
    live_intake.send_reply(report_row, text)
    assert text.encode() not in database_bytes(live_intake.app)

    # Come back with the receipt in full-width digits, read the reply
    # (opened on this device), and add a file.
    live_intake.capture.requests.clear()
    page.goto(f"/{lang}/receipt")
    page.fill("#receipt", receipt.translate(FULL_WIDTH))
    page.click("form button[type=submit]")
    page.wait_for_selector("main[data-replies-ready=true]", state="attached", timeout=60_000)
    assert page.text_content(".reply-list li[data-opened=true] .reply-text") == text
    assert "Org A" in str(page.text_content(".reply-list li[data-opened=true] .reply-meta"))
    [check] = [
        r for r in live_intake.capture.requests if r.target == f"/{lang}/receipt" and r.method == "POST"
    ]
    assert b"sealed" in check.body  # asked for the replies sealed: the server opened nothing
    page.wait_for_selector("form[data-kind=followup][data-sealing=browser]", state="attached")
    page.set_input_files(
        "input[name=attachments]",
        files=[{"name": "more.txt", "mimeType": "text/plain", "buffer": b"one more thing"}],
    )
    page.click("form[data-kind=followup] button[type=submit]")
    page.wait_for_selector("main h1:focus", timeout=60_000)
    [followup_row] = live_intake.new_envelopes()
    assert followup_row.sealed_by == "browser"
    assert followup_row.followup_of == report_row.seq
    opened = live_intake.open(followup_row)
    assert opened.report["kind"] == "followup" and opened.report["follows"] == report_row.envelope_id
    assert [a.data for a in opened.attachments] == [b"one more thing"]
    # Format v2: the report carries the conversation key derived from the
    # receipt, the follow-up a proof under it (docs/envelope.md section 14).
    key = auth_key(reply_seed(digits))
    assert live_intake.open(report_row).auth == {"key": key}
    assert opened.auth == {"proof": followup_proof(key, report_row.envelope_id, followup_row.envelope_id)}
    assert _storage(page) == {"local": 0, "session": 0, "idb": 0, "cookies": ""}
    assert page.errors == []


def test_a_mistyped_receipt_gets_the_check_digit_message(page: Any, live_intake: LiveIntake) -> None:
    page.goto("/zh-hans/receipt")
    typed = "1234 5678 9012 3456 7890 1234 5670"
    page.fill("#receipt", typed)
    page.click("form button[type=submit]")
    page.wait_for_selector("main[data-replies-ready=true]", state="attached")
    text = str(page.text_content("#receipt-error"))
    assert "输入错误" in text or "回执号码共 28 位" in text
    assert page.input_value("#receipt") == typed  # nothing typed is lost
    assert page.is_visible("#receipt-error")


def test_both_paths_give_the_same_report_json(
    page: Any, page_without_js: Any, live_intake: LiveIntake
) -> None:
    live_intake.new_envelopes()
    page.goto("/fr/")
    page.wait_for_selector("form[data-sealing=browser]", state="attached")
    _fill_everything(page, "même rapport\ndeux lignes")
    page.click("form button[type=submit]")
    page.wait_for_selector(".receipt-number output", timeout=60_000)
    [browser_row] = live_intake.new_envelopes()

    page_without_js.goto("/fr/")
    _fill_everything(page_without_js, "même rapport\ndeux lignes")
    page_without_js.click("form button[type=submit]")
    page_without_js.wait_for_selector(".receipt-number output")
    [server_row] = live_intake.new_envelopes()
    assert (browser_row.sealed_by, server_row.sealed_by) == ("browser", "server")
    assert live_intake.open(browser_row).report == live_intake.open(server_row).report


def test_unticking_an_organization_seals_to_the_other_only(page: Any, live_intake: LiveIntake) -> None:
    live_intake.new_envelopes()
    page.goto("/en/")
    page.wait_for_selector("form[data-sealing=browser]", state="attached")
    page.check("#tactics-T07")
    page.uncheck("#recipients-org-a")
    page.click("form button[type=submit]")
    page.wait_for_selector(".receipt-number output", timeout=60_000)
    [row] = live_intake.new_envelopes()
    assert live_intake.open(row, key=1).report["tactics"] == ["T07"]
    with pytest.raises(Exception, match="none of the unlocked keys"):
        live_intake.open(row, key=0)


def _stub_leave(page: Any) -> None:
    page.route(
        LEAVE + "**", lambda route: route.fulfill(status=200, body="neutral", content_type="text/plain")
    )


@pytest.mark.parametrize("how", ["escape-twice", "button"])
def test_leave_quickly_replaces_the_page_without_adding_history(
    page: Any, live_intake: LiveIntake, how: str
) -> None:
    _stub_leave(page)
    page.goto("/en/safety")
    page.goto("/en/")
    page.fill("textarea[name=narrative]", "something private")
    before = page.evaluate("history.length")
    if how == "button":
        page.click("#leave-quickly")
    else:
        page.keyboard.press("Escape")
        page.keyboard.press("Escape")
    page.wait_for_url(LEAVE)
    assert page.evaluate("history.length") == before


def test_a_single_escape_does_not_leave(page: Any, live_intake: LiveIntake) -> None:
    _stub_leave(page)
    page.goto("/en/")
    page.keyboard.press("Escape")
    page.wait_for_timeout(1700)
    page.keyboard.press("Escape")
    page.wait_for_timeout(300)
    assert page.url == live_intake.url + "/en/"


@pytest.mark.parametrize("lang", [*LANGS, "qps-rtl"])
def test_no_horizontal_scroll_at_360_px(browser: Any, live_intake: LiveIntake, lang: str) -> None:
    live_intake.app.config["PSEUDO_LOCALES"] = True
    context = browser.new_context(base_url=live_intake.url, viewport={"width": 360, "height": 740})
    try:
        page = context.new_page()
        for path in (f"/{lang}/", f"/{lang}/safety", f"/{lang}/receipt"):
            page.goto(path)
            if lang == "qps-rtl":
                assert page.evaluate("document.documentElement.dir") == "rtl"
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, f"{path} scrolls sideways by {overflow}px"
    finally:
        context.close()
        live_intake.app.config["PSEUDO_LOCALES"] = False


def _tab_to(page: Any, selector: str, limit: int = 250) -> None:
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement && document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"Tab never reached {selector}")


def test_keyboard_only_submission(page: Any, live_intake: LiveIntake) -> None:
    live_intake.new_envelopes()
    page.goto("/zh-hant/")
    page.wait_for_selector("form[data-sealing=browser]", state="attached")
    _tab_to(page, "textarea[name=narrative]")
    page.keyboard.type("只用鍵盤")
    _tab_to(page, "#tactics-T05")
    page.keyboard.press("Space")
    _tab_to(page, "form button[type=submit]")
    page.keyboard.press("Enter")
    page.wait_for_selector(".receipt-number output", timeout=60_000)
    [row] = live_intake.new_envelopes()
    report = live_intake.open(row).report
    assert (report["narrative"], report["tactics"]) == ("只用鍵盤", ["T05"])


def _typed(page: Any) -> dict[str, Any]:
    return dict(
        page.evaluate(
            """() => ({
              narrative: document.querySelector('textarea[name=narrative]').value,
              tactics: Array.from(document.querySelectorAll('input[name=tactics]:checked')).map(i => i.value),
              when: document.querySelector('#when').value,
              province: document.querySelector('#province').value,
              contact: document.querySelector('#contact_value').value,
              state: (document.querySelector('input[name=state]:checked') || {}).value,
              consent: Array.from(document.querySelectorAll('input[name=consent]:checked')).map(i => i.value),
              files: document.querySelector('input[name=attachments]').files.length,
            })"""
        )
    )


def _type_some(page: Any, narrative: str) -> None:
    page.fill("textarea[name=narrative]", narrative)
    page.check("#tactics-T04")
    page.check("#tactics-T10")
    page.fill("#when", "2026-07")
    page.select_option("#province", "CA-QC")
    page.check("#state-prc")
    page.check("#contact_method-email")
    page.fill("#contact_value", "me@example.org")
    page.check("#consent-statistics")


def test_changing_language_with_javascript_keeps_everything_and_sends_nothing(
    page: Any, live_intake: LiveIntake
) -> None:
    canary = "CANARY-lang-" + live_intake.url[-5:]
    live_intake.new_envelopes()
    page.goto("/en/")
    page.wait_for_selector("form[data-sealing=browser]", state="attached")
    _type_some(page, f"typed before switching {canary}")
    page.set_input_files(
        "input[name=attachments]",
        files=[{"name": "photo.png", "mimeType": "image/png", "buffer": b"\x89PNG" + canary.encode()}],
    )
    before = _typed(page)
    live_intake.capture.requests.clear()
    page.click("nav.languages button[value=zh-hant]")
    page.wait_for_function("() => document.documentElement.lang === 'zh-Hant'")
    page.wait_for_selector("form[data-sealing=browser]", state="attached")
    assert page.url == live_intake.url + "/zh-hant/"
    assert _typed(page) == before  # the chosen file too
    assert "送出報告" in str(page.text_content("form button[type=submit]"))
    assert page.evaluate("document.activeElement.id") == "main"
    # Only a GET of the other language's form: nothing typed left the page.
    received = live_intake.capture.requests
    assert [(r.method, r.target) for r in received] == [("GET", "/zh-hant/")]
    assert not any(r.contains(canary.encode()) for r in received)
    # And back to French, then sent: one report, in French, sealed here.
    page.click("nav.languages button[value=fr]")
    page.wait_for_function("() => document.documentElement.lang === 'fr'")
    page.wait_for_selector("form[data-sealing=browser]", state="attached")
    page.click("form button[type=submit]")
    page.wait_for_selector(".receipt-number output", timeout=60_000)
    [row] = live_intake.new_envelopes()
    opened = live_intake.open(row)
    assert row.sealed_by == "browser"
    assert opened.report["language"] == "fr"
    assert opened.report["narrative"] == f"typed before switching {canary}"
    assert opened.report["tactics"] == ["T04", "T10"]
    assert [a.name for a in opened.attachments] == ["photo.png"]
    posted = [r.target for r in live_intake.capture.requests if r.method == "POST"]
    assert "/zh-hant/" not in posted and "/fr/" not in posted
    assert page.errors == []


def test_changing_language_without_javascript_keeps_the_fields_and_asks_for_the_files(
    page_without_js: Any, live_intake: LiveIntake
) -> None:
    page = page_without_js
    live_intake.new_envelopes()
    page.goto("/zh-hans/")
    _type_some(page, "切换语言之前写的")
    page.set_input_files(
        "input[name=attachments]",
        files=[{"name": "photo.png", "mimeType": "image/png", "buffer": b"\x89PNG FILE-CONTENT-CANARY"}],
    )
    before = _typed(page)
    live_intake.capture.requests.clear()
    page.click("nav.languages button[value=en]")
    page.wait_for_url("**/en/")
    assert page.evaluate("document.documentElement.lang") == "en"
    after = _typed(page)
    assert after == {**before, "files": 0}
    assert "Please choose your files again." in str(page.text_content("[role=status]"))
    [switch] = [r for r in live_intake.capture.requests if r.method == "POST"]
    assert switch.target == "/en/"
    assert not switch.contains(b"FILE-CONTENT-CANARY")  # file names only, never files
    assert live_intake.new_envelopes() == []
    page.set_input_files(
        "input[name=attachments]",
        files=[{"name": "photo.png", "mimeType": "image/png", "buffer": b"\x89PNG again"}],
    )
    page.click("form button[type=submit]")
    page.wait_for_selector(".receipt-number output")
    [row] = live_intake.new_envelopes()
    opened = live_intake.open(row)
    assert row.sealed_by == "server"
    assert (opened.report["language"], opened.report["narrative"]) == ("en", "切换语言之前写的")
    assert [a.name for a in opened.attachments] == ["photo.png"]


def test_enter_in_a_text_field_neither_sends_nor_changes_language(page: Any, live_intake: LiveIntake) -> None:
    """The language buttons are submit buttons of the form: Enter in a text
    field must not "click" one (nor send a half-written report)."""
    live_intake.new_envelopes()
    page.goto("/en/")
    page.wait_for_selector("form[data-sealing=browser]", state="attached")
    page.check("#tactics-T04")
    page.fill("#city", "Montréal")
    page.focus("#city")
    page.keyboard.press("Enter")
    page.wait_for_timeout(500)
    assert page.url == live_intake.url + "/en/"
    assert page.evaluate("document.documentElement.lang") == "en"
    assert page.is_hidden("#seal-status")
    assert live_intake.new_envelopes() == []


def test_changing_language_after_the_receipt_keeps_the_receipt(page: Any, live_intake: LiveIntake) -> None:
    """A reporter on the English form switches to Chinese to read the
    receipt page: the receipt comes along, and never leaves the browser
    (the page is rebuilt from the Chinese form page, docs/threat-model.md)."""
    page.goto("/en/")
    page.wait_for_selector("form[data-sealing=browser]", state="attached")
    page.fill("textarea[name=narrative]", "a report in the wrong language")
    page.click("form button[type=submit]")
    receipt = str(page.wait_for_selector(".receipt-number output", timeout=60_000).text_content())
    live_intake.capture.requests.clear()
    page.click("button[name=switch_language][value=zh-hant]")
    page.wait_for_selector("html[lang=zh-Hant] .receipt-number output", state="attached")
    assert page.text_content(".receipt-number output") == receipt
    assert page.is_visible("[data-receipt-action=copy]")
    # And back again, from the Chinese page's own buttons.
    page.click("button[name=switch_language][value=fr]")
    page.wait_for_selector("html[lang=fr] .receipt-number output", state="attached")
    assert page.text_content(".receipt-number output") == receipt
    digits = receipt.replace(" ", "")
    assert live_intake.capture.requests, "the switch fetched the other language's page"
    for request in live_intake.capture.requests:
        assert request.method == "GET" and "receipt" not in request.target
        assert not request.contains(digits.encode()) and not request.contains(receipt.encode())
    assert len(live_intake.new_envelopes()) == 1  # the report was not sent again
    assert page.errors == []
