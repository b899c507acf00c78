"""The report form in a real browser: with JavaScript on, the report is
sealed in the page and no request the server receives holds a byte of it;
with JavaScript off, the server seals and stores no plaintext either; both
look the same in the console apart from the sealed-by marker.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from stdnum import damm

from core.envelope import OpenedEnvelope, parse_header
from core.envelope.conversation import lookup_value
from core.envelope.replykey import reply_seed
from core.receipts import is_receipt, lookup_hash, normalize_receipt
from intake.store.models import ReceiptRecord

from .conftest import LiveIntake

pytestmark = pytest.mark.db_independent

RECEIPT = re.compile(r"^\d{4}( \d{4}){6}$")


def _canary() -> str:
    return f"CANARY-{secrets.token_hex(8)}"


def _needles(canary: str) -> list[bytes]:
    """The canary in every form a request could carry it."""
    forms = {
        canary,
        urllib.parse.quote(canary),
        urllib.parse.quote_plus(canary),
    }
    needles = [f.encode("utf-8") for f in forms]
    needles.append(canary.encode("utf-16-le"))
    needles.append(canary.encode("utf-16-be"))
    return needles


def _files(canary: str) -> list[dict[str, Any]]:
    return [
        {
            "name": f"evidence-{canary}.txt",
            "mimeType": "text/plain",
            "buffer": (f"screenshot notes {canary}\n" * 40).encode() + bytes(3 * 65536),
        },
        {"name": "photo.png", "mimeType": "image/png", "buffer": b"\x89PNG\r\n\x1a\n" + canary.encode()},
    ]


def _narrative(canary: str) -> str:
    return f"They called my parents in 昆明 again.\nSecond line {canary} 🇨🇦\r\nThird line."


def _fill(page: Any, narrative: str, files: list[dict[str, Any]]) -> None:
    page.fill("textarea[name=narrative]", narrative)
    page.set_input_files("input[name=attachments]", files=files)


def _submit_with_js(page: Any, lang: str, narrative: str, files: list[dict[str, Any]]) -> str:
    page.goto(f"/{lang}/")
    page.wait_for_selector("form[data-sealing=browser]", state="attached")
    _fill(page, narrative, files)
    page.click("form button[type=submit]")
    output = page.wait_for_selector(".receipt-number output", timeout=60_000)
    return str(output.text_content())


def _one_new_envelope(live: LiveIntake) -> tuple[str, OpenedEnvelope]:
    rows = live.new_envelopes()
    assert len(rows) == 1
    return rows[0].sealed_by, live.open(rows[0])


def _assert_not_stored(live: LiveIntake, needles: list[bytes]) -> None:
    for path in live.written_files():
        data = path.read_bytes()
        assert not any(n in data for n in needles), f"plaintext in {path.name}"
    assert not any(any(n in line.encode() for n in needles) for line in live.logs.lines)


def test_with_javascript_no_request_carries_the_report(page: Any, live_intake: LiveIntake) -> None:
    canary = _canary()
    needles = _needles(canary)
    seen_by_browser: list[tuple[str, str, bytes | None]] = []
    page.on(
        "request",
        lambda r: seen_by_browser.append((r.url, repr(r.all_headers()), r.post_data_buffer)),
    )
    live_intake.new_envelopes()

    receipt = _submit_with_js(page, "en", _narrative(canary), _files(canary))

    assert RECEIPT.match(receipt)
    # What the server received: every request line, header and body byte.
    received = live_intake.capture.requests
    assert any(r.method == "POST" and r.target == "/en/sealed" for r in received)
    assert not any(r.method == "POST" and r.target == "/en/" for r in received)  # no plain form post
    for request in received:
        for needle in needles:
            assert not request.contains(needle), f"canary in {request.method} {request.target}"
    # What the browser sent, as the browser saw it (the upload body may be
    # unavailable there, being Blobs; the server-side capture has it all).
    for url, headers, body in seen_by_browser:
        assert url.startswith(live_intake.url + "/")  # nothing from another origin
        for needle in needles:
            assert needle not in url.encode() and needle not in headers.encode()
            assert body is None or needle not in body
    # The receipt is in no URL and no cookie, only in the page.
    digits = receipt.replace(" ", "")
    assert all(digits not in url and receipt not in url for url, _h, _b in seen_by_browser)
    assert all(digits not in c["value"] for c in page.context.cookies())
    assert page.url == live_intake.url + "/en/"

    sealed_by, opened = _one_new_envelope(live_intake)
    assert sealed_by == "browser"
    assert canary in opened.report["narrative"]  # it was there, sealed
    assert [a.name for a in opened.attachments] == [f"evidence-{canary}.txt", "photo.png"]
    _assert_not_stored(live_intake, needles)
    assert page.errors == []


def test_without_javascript_the_server_seals_and_stores_no_plaintext(
    page_without_js: Any, live_intake: LiveIntake
) -> None:
    page = page_without_js
    canary = _canary()
    needles = _needles(canary)
    live_intake.new_envelopes()
    page.goto("/en/")
    _fill(page, _narrative(canary), _files(canary))
    page.click("form button[type=submit]")
    receipt = str(page.wait_for_selector(".receipt-number output").text_content())
    assert RECEIPT.match(receipt)
    assert any(r.method == "POST" and r.target == "/en/" for r in live_intake.capture.requests)
    sealed_by, opened = _one_new_envelope(live_intake)
    assert sealed_by == "server"
    assert canary in opened.report["narrative"]
    _assert_not_stored(live_intake, needles)


def test_both_paths_look_the_same_in_the_console(
    page: Any, page_without_js: Any, live_intake: LiveIntake
) -> None:
    canary = _canary()
    narrative, files = _narrative(canary), _files(canary)
    live_intake.new_envelopes()
    _submit_with_js(page, "zh-hant", narrative, files)
    browser_row = live_intake.new_envelopes()[0]

    page_without_js.goto("/zh-hant/")
    _fill(page_without_js, narrative, files)
    page_without_js.click("form button[type=submit]")
    page_without_js.wait_for_selector(".receipt-number output")
    server_row = live_intake.new_envelopes()[0]

    by_browser, by_server = live_intake.open(browser_row), live_intake.open(server_row, key=1)
    assert (browser_row.sealed_by, server_row.sealed_by) == ("browser", "server")
    assert by_browser.report == by_server.report
    assert by_browser.report["language"] == "zh-Hant"
    assert by_browser.report["narrative"] == narrative.replace("\r\n", "\n")
    assert [(a.name, a.media_type, a.data, a.sha256) for a in by_browser.attachments] == [
        (a.name, a.media_type, a.data, a.sha256) for a in by_server.attachments
    ]
    browser_header, server_header = parse_header(browser_row.header), parse_header(server_row.header)
    assert browser_header.key_ids == server_header.key_ids
    assert browser_header.day == server_header.day
    assert browser_header.body_size == server_header.body_size
    assert browser_header.attachments == server_header.attachments
    assert page.errors == []


def test_a_dropped_connection_keeps_everything_typed_and_retry_sends_once(
    page: Any, live_intake: LiveIntake
) -> None:
    canary = _canary()
    narrative = _narrative(canary)
    live_intake.new_envelopes()
    page.goto("/en/")
    page.wait_for_selector("form[data-sealing=browser]", state="attached")
    _fill(page, narrative, _files(canary))
    page.route("**/en/sealed", lambda route: route.abort("internetdisconnected"))
    page.click("form button[type=submit]")
    error = page.wait_for_selector("#seal-error:not([hidden])")
    assert "connection was lost" in str(error.text_content())
    assert page.is_visible("#seal-retry")
    assert page.input_value("textarea[name=narrative]") == narrative.replace("\r\n", "\n")
    assert page.evaluate("document.querySelector('input[name=attachments]').files.length") == 2
    assert live_intake.new_envelopes() == []

    page.unroute("**/en/sealed")
    page.click("#seal-retry")
    receipt = str(page.wait_for_selector(".receipt-number output").text_content())
    assert RECEIPT.match(receipt)
    assert len(live_intake.new_envelopes()) == 1
    assert all("internetdisconnected" in e.lower() or "failed to load" in e.lower() for e in page.errors)


def test_a_stalled_upload_times_out_and_retry_succeeds(page: Any, live_intake: LiveIntake) -> None:
    live_intake.new_envelopes()
    page.goto("/en/")
    page.wait_for_selector("form[data-sealing=browser]", state="attached")
    page.evaluate("document.querySelector('form').dataset.stallMs = '1500'")
    _fill(page, "A report " + _canary(), [])
    held: list[Any] = []
    page.route("**/en/sealed", lambda route: held.append(route))  # never answered: it stalls
    page.click("form button[type=submit]")
    error = page.wait_for_selector("#seal-error:not([hidden])", timeout=15_000)
    assert "took too long" in str(error.text_content())
    assert held
    page.unroute("**/en/sealed")
    page.click("#seal-retry")
    assert RECEIPT.match(str(page.wait_for_selector(".receipt-number output").text_content()))
    assert len(live_intake.new_envelopes()) == 1


def test_size_limits_are_checked_before_anything_is_sent(page: Any, live_intake: LiveIntake) -> None:
    page.goto("/zh-hant/")
    page.wait_for_selector("form[data-sealing=browser]", state="attached")
    # The limits come from the page (config); lower them to test with small files.
    page.evaluate("Object.assign(document.querySelector('form').dataset, {maxFile: '100', maxTotal: '150'})")
    before = len(live_intake.capture.requests)
    page.fill("textarea[name=narrative]", "report")
    page.set_input_files(
        "input[name=attachments]",
        files=[{"name": "big.bin", "mimeType": "application/octet-stream", "buffer": bytes(101)}],
    )
    page.click("form button[type=submit]")
    text = str(page.wait_for_selector("#seal-error:not([hidden])").text_content())
    assert "big.bin" in text and "MB" in text
    assert "請" in text  # in the reporter's language
    page.set_input_files(
        "input[name=attachments]",
        files=[
            {"name": f"{i}.bin", "mimeType": "application/octet-stream", "buffer": bytes(80)}
            for i in range(2)
        ],
    )
    page.click("form button[type=submit]")
    page.wait_for_function("!document.querySelector('#seal-error').hidden")
    assert "big.bin" not in str(page.text_content("#seal-error"))
    # Nothing left the page: the only request is the proof of work's
    # challenge, fetched when the form was first touched, with no body.
    after = live_intake.capture.requests[before:]
    assert all(r.method == "GET" and r.target == "/zh-hant/challenge" and not r.body for r in after)
    # An empty report is refused in the page too, with the form's own words.
    page.set_input_files("input[name=attachments]", files=[])
    page.fill("textarea[name=narrative]", "   ")
    page.click("form button[type=submit]")
    page.wait_for_function("document.querySelector('#seal-error-text').textContent.length > 0")
    after = live_intake.capture.requests[before:]
    assert all(r.method == "GET" and r.target == "/zh-hant/challenge" and not r.body for r in after)


def test_typed_details_without_their_choice_are_refused_in_the_page_and_kept(
    page: Any, live_intake: LiveIntake
) -> None:
    live_intake.new_envelopes()
    page.goto("/zh-hans/")
    page.wait_for_selector("form[data-sealing=browser]", state="attached")
    before = len(live_intake.capture.requests)
    page.fill("textarea[name=narrative]", "report")
    page.fill("#contact_value", "+1 416 555 0147")
    page.check("#consent-contact")
    page.click("form button[type=submit]")
    page.wait_for_selector("#seal-error:not([hidden])")
    assert page.text_content("#seal-error-text") == (
        "请选择审阅人员可以如何联系您（Signal、电子邮件或电话），或清空您填写的联系信息。"
    )
    assert page.evaluate("document.activeElement.id") == "contact_value"
    assert page.input_value("#contact_value") == "+1 416 555 0147"
    assert page.is_checked("#consent-contact")

    # The other state's name typed without "Another state" chosen.
    page.check("#contact_method-signal")
    page.fill("#state_other", "Iran")
    page.check("#state-prc")
    page.click("form button[type=submit]")
    page.wait_for_function(
        "document.querySelector('#seal-error-text').textContent.startsWith('请选择“其他国家”')"
    )
    assert page.evaluate("document.activeElement.id") == "state_other"
    assert page.input_value("#state_other") == "Iran"
    # Nothing left the page: the only request is the proof of work's
    # challenge, fetched when the form was first touched, with no body.
    after = live_intake.capture.requests[before:]
    assert all(r.method == "GET" and r.target == "/zh-hans/challenge" and not r.body for r in after)
    assert live_intake.new_envelopes() == []

    # With the choices made, everything typed is sent.
    page.check("#state-other")
    page.click("form button[type=submit]")
    page.wait_for_selector(".receipt-number output", timeout=60_000)
    [row] = live_intake.new_envelopes()
    report = live_intake.open(row).report
    assert (report["state"], report["state_other"]) == ("other", "Iran")
    assert report["contact"]["method"] == "signal"
    assert report["contact"]["value"] == "+1 416 555 0147"
    assert report["consent"]["contact"] is True
    assert page.errors == []


def test_progress_is_accessible_in_both_languages(page: Any, live_intake: LiveIntake) -> None:
    for lang, sealing, sending in (("en", "Encrypting on this device", "Send"), ("zh-hant", "加密", "送出")):
        page.goto(f"/{lang}/")
        page.wait_for_selector("form[data-sealing=browser]", state="attached")
        bar = page.query_selector("[role=progressbar]")
        assert bar is not None
        assert bar.get_attribute("aria-labelledby") == "seal-progress-label"
        assert (bar.get_attribute("aria-valuemin"), bar.get_attribute("aria-valuemax")) == ("0", "100")
        page.evaluate(
            """() => {
              window.__progress = [];
              const bar = document.querySelector('[role=progressbar]');
              new MutationObserver(() => window.__progress.push(
                [bar.getAttribute('aria-valuenow'), bar.getAttribute('aria-valuetext')]
              )).observe(bar, { attributes: true });
            }"""
        )
        _fill(
            page,
            "report " + _canary(),
            [
                {
                    "name": "a.bin",
                    "mimeType": "application/octet-stream",
                    "buffer": os.urandom(2 * 1024 * 1024),
                }
            ],
        )
        page.click("form button[type=submit]")
        page.wait_for_selector(".receipt-number output")
        steps = page.evaluate("window.__progress")
        texts = [t for _n, t in steps]
        assert any(sealing in t for t in texts), texts
        assert any(sending in t for t in texts), texts
        assert any(n == "100" for n, _t in steps)
        assert page.evaluate("document.activeElement.tagName") == "H1"
    assert page.errors == []


def test_the_page_loads_nothing_from_another_origin(page: Any, live_intake: LiveIntake) -> None:
    urls: list[str] = []
    page.on("request", lambda r: urls.append(r.url))
    response = page.goto("/en/")
    csp = response.headers["content-security-policy"]
    # WebAssembly (hash-wasm's Argon2id for the reply key) from the bundle's
    # own bytes, and nothing else: no 'unsafe-inline', no 'unsafe-eval'.
    assert "script-src 'self' 'wasm-unsafe-eval';" in csp
    assert "unsafe" not in csp.replace("'wasm-unsafe-eval'", "")
    page.wait_for_selector("form[data-sealing=browser]", state="attached")
    _fill(page, "report " + _canary(), [])
    page.click("form button[type=submit]")
    page.wait_for_selector(".receipt-number output")
    assert urls and all(u.startswith(live_intake.url + "/") for u in urls)
    # The bundle under its content-hashed name (core/assets.py).
    assert any(re.search(r"/static/js/intake\.[0-9a-f]{16}\.js$", u) for u in urls)
    assert page.errors == []  # includes CSP violations, which Chromium logs as errors


def test_a_50_mb_attachment_round_trips(page: Any, live_intake: LiveIntake, tmp_path: Path) -> None:
    size = 50 * 1024 * 1024
    path = tmp_path / "video.mp4"
    block = os.urandom(1024 * 1024)
    with open(path, "wb") as fh:
        for i in range(size // len(block)):
            fh.write(block[i:] + block[:i])
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    live_intake.new_envelopes()
    page.goto("/en/")
    page.wait_for_selector("form[data-sealing=browser]", state="attached")
    page.fill("textarea[name=narrative]", "a long video")
    page.set_input_files("input[name=attachments]", files=[str(path)])
    page.click("form button[type=submit]")
    page.wait_for_selector(".receipt-number output", timeout=120_000)
    sealed_by, opened = _one_new_envelope(live_intake)
    assert sealed_by == "browser"
    (attachment,) = opened.attachments
    assert (attachment.name, attachment.media_type, len(attachment.data)) == ("video.mp4", "video/mp4", size)
    assert attachment.sha256 == digest
    live_intake.capture.requests.clear()
    assert page.errors == []


def test_a_lost_answer_is_retried_and_shows_the_receipt_that_holds(
    page: Any, live_intake: LiveIntake
) -> None:
    """The upload is stored but its answer never reaches the page: the
    retry (re-sealed, same form, same receipt) is shown the receipt of the
    stored report, and nothing is stored twice."""
    live_intake.new_envelopes()
    page.goto("/en/")
    page.wait_for_selector("form[data-sealing=browser]", state="attached")
    _fill(page, "A report " + _canary(), [])
    delivered: list[int] = []

    def store_then_drop(route: Any) -> None:
        response = route.fetch()  # the server stores and answers ...
        delivered.append(response.status)
        route.abort("connectionreset")  # ... and the answer is lost

    page.route("**/en/sealed", store_then_drop)
    page.click("form button[type=submit]")
    page.wait_for_selector("#seal-error:not([hidden])")
    assert delivered == [200]
    assert page.is_visible("#seal-retry")
    [row] = live_intake.new_envelopes()

    page.unroute("**/en/sealed")
    page.click("#seal-retry")
    receipt = str(page.wait_for_selector(".receipt-number output").text_content())
    assert RECEIPT.match(receipt)
    assert page.is_visible("[data-earlier]")  # edits after the first send were not added
    assert live_intake.new_envelopes() == []
    secret = live_intake.app.config["RECEIPT_SECRET"]
    with live_intake.app.extensions["intake.db"].sessions() as session:
        stored = session.scalar(select(ReceiptRecord).where(ReceiptRecord.envelope_seq == row.seq))
        assert stored is not None
        # The keyed hash of the lookup value the page derived (format v2).
        lookup = lookup_value(reply_seed(normalize_receipt(receipt)))
        assert stored.receipt_hash == lookup_hash(secret, lookup, 2)


def test_an_answer_that_arrives_shows_no_earlier_note(page: Any, live_intake: LiveIntake) -> None:
    page.goto("/fr/")
    page.wait_for_selector("form[data-sealing=browser]", state="attached")
    _fill(page, "Un rapport " + _canary(), [])
    page.click("form button[type=submit]")
    page.wait_for_selector(".receipt-number output")
    assert page.is_hidden("[data-earlier]")
    live_intake.new_envelopes()


def test_receipts_made_in_the_browser_are_uniform_and_checked(page: Any, live_intake: LiveIntake) -> None:
    page.goto("/en/")
    page.wait_for_selector("form[data-sealing=browser]", state="attached")
    receipts = page.evaluate("Array.from({length: 2000}, () => TNRIntake.newReceipt())")
    assert all(is_receipt(r) for r in receipts)
    assert len(set(receipts)) == len(receipts)
    counts = [0] * 10
    for r in receipts:
        for ch in r[:-1]:
            counts[int(ch)] += 1
    expected = 2000 * 27 / 10
    assert all(abs(c - expected) < 0.06 * expected for c in counts), counts  # no modulo bias to speak of
    for digits in ("", "0", "572", "1234567890" * 3, "9" * 27):
        check = page.evaluate("(d) => TNRIntake.dammCheckDigit(d)", digits)
        assert check == str(damm.calc_check_digit(digits))
    # Rejection sampling: bytes of 250 and above are dropped, never folded.
    drawn = page.evaluate(
        """() => {
          let calls = 0;
          const fake = (bytes) => { bytes.fill(calls++ === 0 ? 255 : 253); bytes[0] = 7; return bytes; };
          return TNRIntake.randomDigits(3, fake);
        }"""
    )
    assert drawn == "777"
