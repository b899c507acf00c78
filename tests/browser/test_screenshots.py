"""Screenshots of the reporter's pages in every shipped language, for the
people who review a translation in context (docs/translations.md): the form,
the safety page and the receipt page, in Chromium at a phone's width
(360 px) and a laptop's (1280 px), whole pages.

They are written to ``$TNR_SCREENSHOT_DIR`` when it is set (the CI job keeps
it as an artifact), else to a folder under pytest's temporary directory
(``--basetemp`` chooses it), as ``<lang>-<width>-<page>.png``.

Each page is checked too: nothing scrolls sideways and no element sticks
out past the right edge (a long French word, a button name, a fingerprint),
and the page is in its own language (``<html lang>``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import LiveIntake

pytestmark = pytest.mark.db_independent

LANGS = {"en": "en", "zh-hant": "zh-Hant", "zh-hans": "zh-Hans", "fr": "fr"}
WIDTHS = (360, 1280)
#: The receipt shown in the screenshots: 28 digits in groups of four, so the
#: layout is the real one, but not the receipt of the report just sent.
SAMPLE_RECEIPT = " ".join(["0000"] * 7)

#: What sticks out past the right edge of the viewport: an element's box, or
#: the text inside a box that does not wrap (the skip link and the honeypot,
#: off screen on purpose, aside).
_STICKING_OUT = """() => {
  const width = document.documentElement.clientWidth;
  const skip = (node) => node.closest && node.closest(".trap, .skip, template, script, style");
  const out = [];
  for (const el of document.querySelectorAll("body *")) {
    if (skip(el)) continue;
    const box = el.getBoundingClientRect();
    if (box.width > 0 && box.height > 0 && box.right > width + 1) {
      out.push(`${el.tagName.toLowerCase()}.${el.className}: ${Math.round(box.right)}px`);
    }
  }
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (!node.textContent.trim() || skip(node.parentElement)) continue;
    const range = document.createRange();
    range.selectNodeContents(node);
    for (const rect of range.getClientRects()) {
      if (rect.width > 0 && rect.right > width + 1) {
        out.push(`text "${node.textContent.trim().slice(0, 40)}": ${Math.round(rect.right)}px`);
        break;
      }
    }
  }
  return out.slice(0, 10);
}"""


@pytest.fixture(scope="module")
def screenshot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    configured = os.environ.get("TNR_SCREENSHOT_DIR")
    folder = Path(configured) if configured else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def sized_page(request: pytest.FixtureRequest, browser: Any, live_intake: LiveIntake) -> Iterator[Any]:
    width = request.param
    context = browser.new_context(
        base_url=live_intake.url, viewport={"width": width, "height": 800}, device_scale_factor=1
    )
    page = context.new_page()
    page.width = width
    yield page
    context.close()


def _check_and_shoot(page: Any, folder: Path, lang: str, name: str) -> Path:
    assert page.evaluate("document.documentElement.lang") == LANGS[lang]
    sideways = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert sideways <= 0, f"{lang} {name} at {page.width} px scrolls sideways by {sideways}px"
    sticking_out = page.evaluate(_STICKING_OUT)
    assert sticking_out == [], f"{lang} {name} at {page.width} px: {sticking_out}"
    path = folder / f"{lang}-{page.width}-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 0
    return path


@pytest.mark.parametrize("sized_page", WIDTHS, indirect=True, ids=[f"{w}px" for w in WIDTHS])
@pytest.mark.parametrize("lang", list(LANGS))
def test_screenshots_of_the_form_safety_and_receipt_pages(
    sized_page: Any, live_intake: LiveIntake, screenshot_dir: Path, lang: str
) -> None:
    page = sized_page
    page.goto(f"/{lang}/")
    page.wait_for_selector("form[data-sealing=browser]", state="attached")
    _check_and_shoot(page, screenshot_dir, lang, "form")

    page.goto(f"/{lang}/safety")
    _check_and_shoot(page, screenshot_dir, lang, "safety")

    # The server's receipt page (the form posted without the bundle), with
    # the number replaced by a sample of the same shape.
    page.route("**/static/js/intake.js", lambda route: route.abort())
    page.goto(f"/{lang}/")
    page.fill("textarea[name=narrative]", "screenshot of the receipt page")
    page.click("form button[type=submit]")
    page.wait_for_selector(".receipt-number output")
    page.unroute("**/static/js/intake.js")
    page.evaluate("(sample) => { document.querySelector('.receipt-number output').textContent = sample; }",
                  SAMPLE_RECEIPT)  # fmt: skip
    _check_and_shoot(page, screenshot_dir, lang, "receipt")
    live_intake.new_envelopes()
