"""Fixtures of the browser tests: Debian's Chromium driven by Playwright
(``executable_path``: nothing is downloaded), and the intake served live on
a free loopback port (WebCrypto needs a secure context, which
http://127.0.0.1 is and about:blank is not).

The server runs in a thread of the test process, wrapped in a WSGI
middleware that keeps every request exactly as it arrived (method, path and
query, headers, raw body), so a test can look for a canary in all of it.
Its temporary folder and log records are captured too, so "no byte the
server writes" covers the data folder, the temporary folder and the logs.
Keys are generated per session, never the demo key.
"""

from __future__ import annotations

import io
import logging
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

import intake
from admin.sync.client import IntakeClient
from core.envelope import OpenedEnvelope, RecipientPrivateKey, SealedEnvelope, open_envelope, parse_header
from core.envelope.replykey import seal_reply
from core.timing import today_utc
from intake.store.models import Envelope

from ..chromium import CHROMIUM_ARGS, require_chromium
from ..helpers import write_key_file

playwright_api = pytest.importorskip("playwright.sync_api")


@dataclass
class CapturedRequest:
    """One request as the server received it."""

    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes

    def contains(self, needle: bytes) -> bool:
        head = (self.method + " " + self.target + "\n").encode("latin-1", "replace")
        head += b"".join(f"{k}: {v}\n".encode("latin-1", "replace") for k, v in self.headers)
        return needle in head or needle in self.body


class CaptureMiddleware:
    """Record every request (the whole body is read into memory, which the
    app does anyway: see core/uploads.py)."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.requests: list[CapturedRequest] = []
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        target = environ.get("PATH_INFO", "")
        if environ.get("QUERY_STRING"):
            target += "?" + environ["QUERY_STRING"]
        headers = [
            (key[5:].replace("_", "-").title(), str(value))
            for key, value in environ.items()
            if key.startswith("HTTP_")
        ]
        headers += [(k, str(environ[k])) for k in ("CONTENT_TYPE", "CONTENT_LENGTH") if k in environ]
        with self._lock:
            self.requests.append(CapturedRequest(environ["REQUEST_METHOD"], target, headers, body))
        return self.app(environ, start_response)


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass  # no access log, as in production


class _LogCapture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@dataclass
class LiveIntake:
    """The running intake: its URL, app, capture, folders and the private
    keys of its two recipient organizations."""

    url: str
    app: Flask
    capture: CaptureMiddleware
    data_dir: Path
    tmp_dir: Path
    keys: list[RecipientPrivateKey]
    logs: _LogCapture
    seen: set[str] = field(default_factory=set)
    tokens: dict[str, str] = field(default_factory=dict)

    def envelopes(self) -> list[Envelope]:
        db = self.app.extensions["intake.db"]
        with db.sessions() as session:
            rows = list(session.scalars(select(Envelope).order_by(Envelope.seq)))
            session.expunge_all()
        return rows

    def sealed(self, row: Envelope) -> SealedEnvelope:
        blobs = self.app.extensions["intake.blobs"]
        return SealedEnvelope(
            header=row.header,
            body=row.body,
            attachments=tuple(b"".join(blobs.read_chunks(row.envelope_id, i)) for i in range(len(row.sizes))),
        )

    def new_envelopes(self) -> list[Envelope]:
        """Envelopes stored since the last call."""
        rows = [r for r in self.envelopes() if r.envelope_id not in self.seen]
        self.seen.update(r.envelope_id for r in rows)
        return rows

    def open(self, row: Envelope, key: int = 0) -> OpenedEnvelope:
        """Open a stored envelope as a console would (the one opener)."""
        return open_envelope(self.sealed(row), [self.keys[key]])

    def api_token(self, recipient_id: str) -> str:
        """A reviewer API token of ``recipient_id``, made once per session."""
        if recipient_id not in self.tokens:
            result = self.app.test_cli_runner().invoke(args=["api-token", "create", recipient_id])
            assert result.exit_code == 0, result.output
            self.tokens[recipient_id] = result.output.strip().splitlines()[-1]
        return self.tokens[recipient_id]

    def send_reply(self, report: Envelope, text: str, sender: str = "Org A") -> None:
        """Answer ``report`` as a console does: seal ``text`` to the
        report's reply key and hand it over with the console's client."""
        reply_key = parse_header(report.header).reply_key
        assert reply_key is not None
        # The conversation key comes from the sealed report, as a console
        # opens it (format v2); an older report has none.
        opened = self.open(report)
        auth_key = opened.auth.get("key") if opened.auth else None
        sealed = seal_reply(reply_key, report.envelope_id, text, sender, today_utc(), auth_key=auth_key)
        with IntakeClient(self.url, self.api_token("org-a")) as client:
            assert client.post_reply(report.envelope_id, sealed.header, sealed.body) is True

    def written_files(self) -> list[Path]:
        return [p for root in (self.data_dir, self.tmp_dir) for p in root.rglob("*") if p.is_file()]


@pytest.fixture(scope="session")
def browser(playwright: Any) -> Iterator[Any]:
    chromium = playwright.chromium.launch(
        executable_path=require_chromium(), headless=True, args=list(CHROMIUM_ARGS)
    )
    yield chromium
    chromium.close()


@pytest.fixture(scope="session")
def live_intake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveIntake]:
    base = tmp_path_factory.mktemp("live")
    keys_dir = base / "keys"
    keys = [write_key_file(keys_dir, "org-a"), write_key_file(keys_dir, "org-b")]
    data_dir = base / "data"
    tmp_dir = base / "tmp"
    tmp_dir.mkdir()
    # Anything the server's code puts in a temporary file lands here.
    saved_tempdir = tempfile.tempdir
    tempfile.tempdir = str(tmp_dir)
    logs = _LogCapture()
    logging.getLogger().addHandler(logs)
    app = intake.create_app({"DATA_DIR": str(data_dir), "KEYS_DIR": str(keys_dir)})
    app.logger.addHandler(logs)
    capture = CaptureMiddleware(app.wsgi_app)
    app.wsgi_app = capture  # type: ignore[method-assign]
    server: BaseWSGIServer = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="live-intake", daemon=True)
    thread.start()
    try:
        yield LiveIntake(
            url=f"http://127.0.0.1:{server.server_port}",
            app=app,
            capture=capture,
            data_dir=data_dir,
            tmp_dir=tmp_dir,
            keys=keys,
            logs=logs,
        )
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
        app.extensions["intake.db"].engine.dispose()
        logging.getLogger().removeHandler(logs)
        tempfile.tempdir = saved_tempdir


@pytest.fixture
def page(browser: Any, live_intake: LiveIntake) -> Iterator[Any]:
    """A fresh browser context (own cookies) with JavaScript on; console
    errors and page errors fail the test."""
    live_intake.capture.requests.clear()
    context = browser.new_context(base_url=live_intake.url)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))

    def _console(msg: Any) -> None:
        # Chromium asks for /favicon.ico on its own; the intake has none.
        if msg.type == "error" and "/favicon.ico" not in str(msg.location.get("url", "")):
            errors.append(f"console {msg.type}: {msg.text} ({msg.location.get('url')})")

    pg.on("console", _console)
    pg.errors = errors
    yield pg
    context.close()


@pytest.fixture
def page_without_js(browser: Any, live_intake: LiveIntake) -> Iterator[Any]:
    live_intake.capture.requests.clear()
    context = browser.new_context(base_url=live_intake.url, java_script_enabled=False)
    pg = context.new_page()
    yield pg
    context.close()
