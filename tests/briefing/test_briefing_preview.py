"""The console's briefing preview: the charts as same-origin PNGs under the
console's strict CSP, the note's marking and issuer, and a character no
font has refused before anything is published."""

from __future__ import annotations

import html
import io
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask
from PIL import Image
from werkzeug.serving import make_server

from admin.briefing.releases import load_releases
from admin.extensions import DB_EXTENSION
from tests.admin.admin_testlib import AuthActions
from tests.chromium import CHROMIUM_ARGS, require_chromium

QUERY = "from=2025-01&to=2026-10&k=5"
USER_AGENT = "tnr-briefing-preview-test"


def _import(app: Flask, path: Path) -> None:
    result = app.test_cli_runner().invoke(args=["coded", "import", str(path)])
    assert result.exit_code == 0, result.output


def test_preview_shows_the_charts_as_same_origin_images(
    console_app: Flask, auth: AuthActions, coded_cases_path: Path
) -> None:
    _import(console_app, coded_cases_path)
    client = auth._client
    auth.login_as("coordinator")
    page = client.get(f"/briefing/?{QUERY}")
    assert page.status_code == 200
    csp = page.headers["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";") if d.strip())
    assert directives["img-src"] == "'self'" and directives["style-src"] == "'self'"
    assert "unsafe-inline" not in csp and "data:" not in csp
    text = page.get_data(as_text=True)
    assert "<svg" not in text and " style=" not in text and "<style" not in text
    sources = [html.unescape(s) for s in re.findall(r'<img src="([^"]+)"', text)]
    assert [s.split("?")[0] for s in sources] == [
        "/briefing/chart/en/quarter.png",
        "/briefing/chart/en/family.png",
    ]
    assert 'alt="Bar chart: Cases by quarter of the incident.' in text
    for src in sources:
        assert src.startswith("/")  # same origin: a path, never a data: URL
        image = client.get(src)
        assert image.status_code == 200 and image.mimetype == "image/png"
        assert image.headers["Content-Security-Policy"] == csp
        with Image.open(io.BytesIO(image.data)) as png:
            assert png.format == "PNG" and png.size == (1400, 560)
    # The note's furniture is in the preview too.
    assert "UNCLASSIFIED / NON CLASSIFIÉ" in text and "Date of issue:" in text
    assert 'id="no-contact"' in text


def test_chart_route_is_for_coordinators_and_refuses_bad_input(
    console_app: Flask, auth: AuthActions, coded_cases_path: Path
) -> None:
    _import(console_app, coded_cases_path)
    client = auth._client
    auth.login_as("reviewer")
    assert client.get(f"/briefing/chart/en/quarter.png?{QUERY}").status_code == 403
    auth.logout()
    auth.login_as("coordinator")
    assert client.get(f"/briefing/chart/en/secrets.png?{QUERY}").status_code == 404
    assert client.get(f"/briefing/chart/de/quarter.png?{QUERY}").status_code == 404
    assert client.get("/briefing/chart/en/quarter.png?from=2026-10&to=2025-01").status_code == 400
    assert client.get("/briefing/chart/fr/family.png?" + QUERY).mimetype == "image/png"


def test_contact_and_issuer_come_from_the_settings(
    make_console: Callable[..., Flask], coded_cases_path: Path
) -> None:
    app = make_console(
        BRIEFING_CONTACT="Briefings desk", BRIEFING_ISSUED_BY={"en": "Org One", "fr": "Org Un"}
    )
    _import(app, coded_cases_path)
    auth = AuthActions(app, app.test_client())
    auth.login_as("coordinator")
    text = auth._client.get(f"/briefing/?{QUERY}").get_data(as_text=True)
    assert "Issued by: Org One" in text and "Contact: Briefings desk" in text
    assert 'id="no-contact"' not in text


def test_publishing_a_missing_glyph_is_refused_and_records_nothing(
    console_app: Flask, auth: AuthActions, coded_cases_path: Path, tmp_path: Path
) -> None:
    lines = coded_cases_path.read_text(encoding="utf-8").splitlines()
    first = next(i for i, row in enumerate(lines) if i and row.endswith(",yes"))
    rows = [f"{row},no," for row in lines[1:]]
    rows[first - 1] = lines[first] + ",yes,Text with \ue000 in it"
    path = tmp_path / "with-vignette.csv"
    path.write_text("\n".join([f"{lines[0]},consent_quote,vignette_en", *rows]) + "\n", encoding="utf-8")
    _import(console_app, path)
    client = auth._client
    auth.login_as("coordinator")
    page = client.get(f"/briefing/?{QUERY}").get_data(as_text=True)
    assert "U+E000" in page  # said before anyone tries to publish
    form = {"from": "2025-01", "to": "2026-10", "k": "5"}
    refused = client.post("/briefing/publish", data=form)
    assert refused.status_code == 400 and "U+E000" in refused.get_data(as_text=True)
    assert client.post("/briefing/draft", data=form).status_code == 400
    assert client.get(f"/briefing/download/briefing-en.pdf?{QUERY}").status_code == 400
    # The French note has no text in this vignette: it prints.
    assert client.get(f"/briefing/download/briefing-fr.pdf?{QUERY}").status_code == 200
    with console_app.extensions[DB_EXTENSION].session() as session:
        assert load_releases(session) == []


def test_chromium_loads_the_chart_images_under_the_console_csp(
    console_app: Flask, auth: AuthActions, coded_cases_path: Path, playwright: Any
) -> None:
    """In real Chromium over HTTP: both images load (decoded, full size)
    and the page reports no CSP violation."""
    _import(console_app, coded_cases_path)
    # Flask-Login's strong session protection ties the session to the
    # user agent: log in with the one the browser will send.
    auth._client.environ_base["HTTP_USER_AGENT"] = USER_AGENT
    auth.login_as("coordinator")
    cookie = auth._client.get_cookie(console_app.config["SESSION_COOKIE_NAME"])
    assert cookie is not None
    server = make_server("127.0.0.1", 0, console_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.port}"
    try:
        # The run's one Playwright driver (tests/conftest.py): a second
        # sync_playwright() in this process fails once another test started it.
        browser = playwright.chromium.launch(
            executable_path=require_chromium(), headless=True, args=list(CHROMIUM_ARGS)
        )
        try:
            context = browser.new_context(user_agent=USER_AGENT)
            context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": base}])
            page = context.new_page()
            messages: list[str] = []
            page.on("console", lambda m: messages.append(m.text))
            page.goto(f"{base}/briefing/?{QUERY}", wait_until="load", timeout=120_000)
            sizes = page.evaluate(
                "Array.from(document.querySelectorAll('#preview img'))"
                ".map(i => [i.complete, i.naturalWidth, i.naturalHeight])"
            )
            assert sizes == [[True, 1400, 560], [True, 1400, 560]], (page.url, page.title())
            assert not [m for m in messages if "Content Security Policy" in m]
        finally:
            browser.close()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
