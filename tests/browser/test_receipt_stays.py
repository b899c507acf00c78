"""With JavaScript on, the receipt never leaves the browser
(docs/threat-model.md, "The receipt"): every byte Chromium sends the intake
while a reporter submits a report, reads the receipt page in another
language, checks the receipt, reads a reply and adds a follow-up is
recorded at the TCP level, by a loopback proxy between the browser and the
intake, and holds the receipt's digits in no form.
"""

from __future__ import annotations

import base64
import contextlib
import socket
import threading
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest

from core.receipts import normalize_receipt

from .conftest import LiveIntake

pytestmark = pytest.mark.db_independent


class RecordingProxy:
    """A TCP proxy on 127.0.0.1: every connection to it is relayed to
    ``target`` and every byte the client sends is recorded, whatever the
    protocol above (HTTP/1.1 keep-alive, pipelining, anything)."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.sent = bytearray()
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._threads: list[threading.Thread] = []
        self._sockets: list[socket.socket] = []
        self._closed = False
        accept = threading.Thread(target=self._accept, name="recording-proxy", daemon=True)
        accept.start()
        self._threads.append(accept)

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self._sockets += [client, upstream]
            for source, sink, record in ((client, upstream, True), (upstream, client, False)):
                pump = threading.Thread(target=self._pump, args=(source, sink, record), daemon=True)
                pump.start()
                self._threads.append(pump)

    def _pump(self, source: socket.socket, sink: socket.socket, record: bool) -> None:
        try:
            while data := source.recv(65536):
                if record:
                    with self._lock:
                        self.sent += data
                sink.sendall(data)
        except OSError:
            pass  # the other direction closed the pair
        finally:
            # One side ended: end both directions, so the other pump returns.
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def recorded(self) -> bytes:
        with self._lock:
            return bytes(self.sent)

    def close(self) -> None:
        self._closed = True
        self._listener.close()
        for end in self._sockets:
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
        for thread in self._threads:
            thread.join(timeout=5)
        for end in self._sockets:
            end.close()


@pytest.fixture
def proxy(live_intake: LiveIntake) -> Iterator[RecordingProxy]:
    parsed = urllib.parse.urlsplit(live_intake.url)
    recording = RecordingProxy((parsed.hostname or "127.0.0.1", parsed.port or 80))
    yield recording
    recording.close()


def _encodings(digits: str) -> set[bytes]:
    """The receipt in every form it has or could be sent in: the digits,
    grouped by four with each separator a person or a form encoder uses,
    URL-encoded, UTF-16, base64 and hex; and every run of 12 digits of each
    (a receipt cut into pieces would still leave such a run)."""
    groups = [digits[i : i + 4] for i in range(0, len(digits), 4)]
    texts = {digits} | {sep.join(groups) for sep in (" ", "-", "+", "%20", "\u3000", "\u00a0")}
    texts |= {urllib.parse.quote(t) for t in list(texts)} | {urllib.parse.quote_plus(t) for t in list(texts)}
    texts |= {"".join(chr(0xFF10 + int(d)) for d in digits)}  # full-width digits
    out: set[bytes] = set()
    for text in texts:
        for codec in ("utf-8", "utf-16-le", "utf-16-be"):
            raw = text.encode(codec)
            out |= {raw, base64.b64encode(raw), raw.hex().encode()}
    # Runs: 12 consecutive digits of the plain receipt, in ASCII.
    out |= {digits[i : i + 12].encode() for i in range(len(digits) - 11)}
    return out


def test_the_receipt_is_in_no_byte_the_browser_sends(
    browser: Any, live_intake: LiveIntake, proxy: RecordingProxy
) -> None:
    live_intake.new_envelopes()
    context = browser.new_context(base_url=f"http://127.0.0.1:{proxy.port}")
    page = context.new_page()
    try:
        # Submission: sealed here, the receipt made here.
        page.goto("/en/")
        page.wait_for_selector("form[data-sealing=browser]", state="attached")
        page.fill("textarea[name=narrative]", "They followed me after the vigil.")
        page.set_input_files(
            "input[name=attachments]",
            files=[{"name": "photo.png", "mimeType": "image/png", "buffer": b"\x89PNG not really"}],
        )
        page.click("form button[type=submit]")
        receipt = str(page.wait_for_selector(".receipt-number output", timeout=60_000).text_content())
        digits = normalize_receipt(receipt)
        [report] = live_intake.new_envelopes()
        # The reporter reads the receipt page in another language.
        page.click("button[name=switch_language][value=zh-hant]")
        page.wait_for_selector("html[lang=zh-Hant] .receipt-number output", state="attached")
        assert page.text_content(".receipt-number output") == receipt

        # A reviewer answers (from the console, not through this browser).
        live_intake.send_reply(report, "We read your report.")

        # Check and reply reading: the receipt typed as people type it.
        page.goto("/en/receipt")
        page.wait_for_selector("form[data-receipt-check=browser]", state="attached")
        page.fill("#receipt", receipt.replace(" ", "-"))
        page.click("form button[type=submit]")
        page.wait_for_selector("main[data-replies-ready=true]", state="attached", timeout=60_000)
        assert page.text_content(".reply-list li[data-opened=true] .reply-text") == "We read your report."

        # Follow-up.
        page.wait_for_selector("form[data-kind=followup][data-sealing=browser]", state="attached")
        page.fill("form[data-kind=followup] textarea[name=narrative]", "One more thing.")
        page.click("form[data-kind=followup] button[type=submit]")
        page.wait_for_selector("main h1:focus", timeout=60_000)
        [followup] = live_intake.new_envelopes()
        assert followup.followup_of == report.seq
    finally:
        context.close()

    sent = proxy.recorded()
    # The capture saw every step (so an empty capture cannot pass).
    for request_line in (b"POST /en/sealed ", b"POST /en/receipt ", b"POST /en/followup/sealed "):
        assert request_line in sent
    found = sorted(e for e in _encodings(digits) if e in sent)
    assert found == [], "the receipt left the browser"
