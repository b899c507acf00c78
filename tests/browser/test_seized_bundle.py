"""A seized intake serves a modified bundle under the release's name (as if
cached for a year): Subresource Integrity keeps it from running in Chromium,
the form falls back to sealing on the server, and the console's `intake
check` names the file (docs/threat-model.md, "Seized intake")."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from admin.extensions import DB_EXTENSION
from admin.models import Alarm
from core.db import ROOT

from ..seized import Coalition, WsgiApp, make_coalition

POISON = b"window.__poisoned = true;\n"


def poisoned_bundle(app: WsgiApp) -> WsgiApp:
    """The seized server: the browser bundle, under its hashed name, with
    the attacker's line in front and the same long cache lifetime."""

    def serve(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if not re.fullmatch(r"/static/js/intake\.[0-9a-f]{16}\.js", path):
            return app(environ, start_response)
        body = POISON + (ROOT / "static" / "js" / "intake.js").read_bytes()
        start_response(
            "200 OK",
            [
                ("Content-Type", "text/javascript; charset=utf-8"),
                ("Content-Length", str(len(body))),
                ("Cache-Control", "public, max-age=31536000, immutable"),
            ],
        )
        return [body]

    return serve


@pytest.fixture
def seized(tmp_path: Path) -> Iterator[Coalition]:
    coalition = make_coalition(tmp_path)
    coalition.start_intake(poisoned_bundle)
    yield coalition
    coalition.close()


def test_sri_blocks_a_modified_bundle_and_the_check_alarms(browser: Any, seized: Coalition) -> None:
    context = browser.new_context(base_url=seized.url)
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda msg: console.append(msg.text))
    try:
        page.goto("/en/")
        page.wait_for_load_state("load")
        # The modified script did not run, and the sealing UI it would
        # turn on stays off: the form is the no-JavaScript form.
        assert page.evaluate("window.__poisoned") is None
        assert page.locator("form[data-sealing=browser]").count() == 0
        assert any("integrity" in line for line in console), console
        # ... which still works: the server seals, the receipt is shown.
        page.fill("textarea[name=narrative]", "sent while the bundle was poisoned")
        page.click("form button[type=submit]")
        page.wait_for_selector(".receipt-number output")
    finally:
        context.close()

    checked = seized.cli("intake", "check")
    assert checked.exit_code != 0
    assert re.search(
        r"ALARM: intake check: the intake serves /static/js/intake\.[0-9a-f]{16}\.js with other bytes "
        r"than this release",
        checked.output,
    ), checked.output
    with seized.console.extensions[DB_EXTENSION].session() as session:
        assert any("/static/js/intake." in a.detail for a in session.scalars(select(Alarm)))
