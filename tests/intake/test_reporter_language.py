"""Changing language on the report form keeps what was typed: without
JavaScript the language buttons post the fields (never the files) to the
form of the other language, which shows them again and stores nothing.
The browser side (JavaScript on: the page switches itself and sends
nothing) is in tests/browser/test_reporter_flow.py."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from intake.store.models import Envelope

from ..helpers import multipart

TYPED = {
    "narrative": "他們又打電話給我父母。\nSecond line",
    "tactics": ["T04", "T10"],
    "when": "2026-07",
    "ongoing": "yes",
    "province": "CA-BC",
    "city": "Vancouver",
    "state": "prc",
    "contact_method": "signal",
    "contact_value": "+1 604 555 0100",
    "contact_language": "yue",
    "consent": ["statistics"],
    "recipients_shown": "1",
    "recipients": "test-org",
    "submission": "F" * 22,
}


def _count(app: Flask) -> int:
    with app.extensions["intake.db"].sessions() as session:
        return int(session.scalar(select(func.count()).select_from(Envelope)) or 0)


def test_the_form_offers_languages_as_buttons_of_the_form(intake_client: FlaskClient) -> None:
    html = intake_client.get("/en/").get_data(as_text=True)
    assert '<form method="post"' in html and 'id="report-form"' in html
    buttons = re.findall(r"<button[^>]*name=\"switch_language\"[^>]*>", html)
    assert len(buttons) == 3
    for code in ("zh-hant", "zh-hans", "fr"):
        button = next(b for b in buttons if f'value="{code}"' in b)
        assert 'form="report-form"' in button
        assert f'formaction="/{code}/"' in button
        assert 'formenctype="application/x-www-form-urlencoded"' in button  # file names, never files
    assert '<a lang="zh-Hant"' not in html


@pytest.mark.parametrize("page", ["safety", "receipt"])
def test_other_pages_keep_plain_links(intake_client: FlaskClient, page: str) -> None:
    html = intake_client.get(f"/en/{page}").get_data(as_text=True)
    assert 'name="switch_language"' not in html
    assert f'href="/zh-hant/{page}"' in html


def test_switching_without_javascript_keeps_every_value_and_stores_nothing(
    intake_app: Flask, intake_client: FlaskClient
) -> None:
    response = intake_client.post(
        "/zh-hant/", data={**TYPED, "switch_language": "zh-hant", "attachments": ""}
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert '<html lang="zh-Hant"' in html
    assert "他們又打電話給我父母。\nSecond line</textarea>" in html
    for code in ("T04", "T10"):
        assert re.search(rf'id="tactics-{code}" value="{code}"\s*checked', html)
    assert not re.search(r'id="tactics-T05" value="T05"\s*checked', html)
    assert 'id="when" value="2026-07"' in html
    assert 'id="ongoing" value="yes" checked' in html
    assert '<option value="CA-BC" selected>' in html
    assert 'value="Vancouver"' in html and 'value="+1 604 555 0100"' in html
    assert re.search(r'id="state-prc" value="prc"\s*checked', html)
    assert re.search(r'id="consent-statistics" value="statistics"\s*checked', html)
    assert 'name="submission" type="hidden" value="' + "F" * 22 in html
    assert "請重新選擇您的檔案" not in html  # no file was chosen
    assert "您的報告尚未送出" not in html  # nothing was checked, so nothing is wrong
    assert _count(intake_app) == 0


def test_a_switch_never_submits_even_a_complete_form(intake_app: Flask, intake_client: FlaskClient) -> None:
    for lang in ("en", "fr", "zh-hans"):
        response = intake_client.post(f"/{lang}/", data={**TYPED, "switch_language": lang})
        assert response.status_code == 200
        assert not re.search(r"<output>\d", response.get_data(as_text=True))
    assert _count(intake_app) == 0
    # The same form sent for real afterwards is stored once.
    sent = intake_client.post("/fr/", data=TYPED)
    assert re.search(r"<output>\d", sent.get_data(as_text=True))
    assert _count(intake_app) == 1


def test_chosen_files_are_asked_for_again(intake_app: Flask, intake_client: FlaskClient) -> None:
    # What a browser posts for the urlencoded button: the file names only.
    html = intake_client.post(
        "/fr/", data={**TYPED, "switch_language": "fr", "attachments": ["photo.png", "lettre.pdf"]}
    ).get_data(as_text=True)
    assert "Choisissez de nouveau vos fichiers" in html
    assert 'role="status"' in html
    # A browser that posts multipart anyway: the files are dropped, never kept.
    data, content_type = multipart(
        {"narrative": "x", "switch_language": "en", "attachments": (b"PNG", "photo.png", "image/png")}
    )
    html = intake_client.post("/en/", data=data, content_type=content_type).get_data(as_text=True)
    assert "Please choose your files again." in html
    assert _count(intake_app) == 0


def test_changing_language_on_the_receipt_page_keeps_the_receipt(intake_client: FlaskClient) -> None:
    """Shown once, the receipt must survive a reporter who switches to
    their own language to understand the page: the language buttons post
    it to the receipt page in that language (in the body, never a URL)."""
    page = intake_client.post("/en/", data={"narrative": "a report"}).get_data(as_text=True)
    shown = re.search(r"<output>([\d ]+)</output>", page)
    assert shown is not None
    receipt = shown.group(1)
    assert 'form="receipt-language"' in page and 'formaction="/zh-hant/receipt/shown"' in page
    assert re.search(r'<form id="receipt-language" method="post" hidden>', page)
    assert f'name="receipt" type="hidden" value="{receipt}"' in page
    response = intake_client.post(
        "/zh-hant/receipt/shown", data={"receipt": receipt, "switch_language": "zh-hant"}
    )
    assert response.status_code == 200
    again = response.get_data(as_text=True)
    assert f"<output>{receipt}</output>" in again and 'lang="zh-Hant"' in again
    assert "/receipt/shown" not in (response.headers.get("Location") or "")
    # Only a well-formed receipt is shown; nothing is looked up.
    assert intake_client.post("/fr/receipt/shown", data={"receipt": "1234"}).status_code == 400
    assert intake_client.post("/fr/receipt/shown", data={}).status_code == 400
