"""Messages in the reporter's language read as one text in that language:
no sentence of a Chinese message is joined to the next with English
punctuation or a space ("檔案太大。 尚未送出…", "這份報告已經收到. 您…").
Each message is one translatable string; this checks the catalogs, every
refusal the upload endpoints can give, and the text of every reporter page.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from flask import Flask, g
from flask.testing import FlaskClient
from flask_babel import refresh

import intake
from core.envelope import RecipientPrivateKey
from intake.followup import views as followup
from intake.report import received, upload

from ..helpers import multipart

ZH = ["zh-hant", "zh-hans"]
TRANSLATIONS = Path(intake.__file__).parent / "translations"
#: A sentence joined to the next the English way.
JOINED = re.compile(r"。 |\. |\.$")


def _joined(text: str) -> list[str]:
    return [m.group(0) for m in JOINED.finditer(text)]


@pytest.mark.parametrize("locale", ["zh_Hant", "zh_Hans"])
def test_no_chinese_msgstr_joins_sentences_the_english_way(locale: str) -> None:
    with open(TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po", "rb") as fh:
        catalog = read_po(fh)
    bad = []
    for message in catalog:
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        bad += [s for s in strings if s and ("。 " in s or ". " in s)]
    assert bad == []


REFUSALS: list[Callable[[], object]] = [
    received.stale,
    received._incomplete,
    received._too_large,
    received.unavailable,
    upload._duplicate,
    received.busy,
]


@pytest.mark.parametrize("lang", ZH)
def test_every_upload_refusal_is_one_chinese_text(intake_app: Flask, lang: str) -> None:
    with intake_app.test_request_context(f"/{lang}/sealed", method="POST"):
        g.lang_code = lang
        refresh()
        messages = [refusal().message for refusal in REFUSALS]  # type: ignore[attr-defined]
        messages.append(followup._expired())
    for message in messages:
        assert re.search(r"[\u4e00-\u9fff]", message), message
        assert _joined(message) == [], message


def _answer(client: FlaskClient, lang: str, fields: dict[str, object]) -> dict[str, str]:
    data, content_type = multipart(fields)
    return dict(client.post(f"/{lang}/sealed", data=data, content_type=content_type).get_json())


@pytest.mark.parametrize("lang", ZH)
def test_the_json_answers_in_chinese_are_punctuated_in_chinese(
    tmp_path: Path, keys_dir: Path, org_key: RecipientPrivateKey, lang: str
) -> None:
    app = intake.create_app(
        {
            "TESTING": True,
            "DATA_DIR": str(tmp_path / lang),
            "KEYS_DIR": str(keys_dir),
            "WTF_CSRF_ENABLED": False,
            "MAX_CONTENT_LENGTH": 4096,
        }
    )
    try:
        client = app.test_client()
        too_large = _answer(client, lang, {"body": (bytes(8192), "body", "application/octet-stream")})
        assert too_large["error"] == "too_large"
        assert _joined(too_large["message"]) == [] and "。" in too_large["message"]
    finally:
        app.extensions["intake.db"].engine.dispose()


def _visible_text(page: str) -> list[str]:
    """Text of each element that holds a sentence, whitespace collapsed as
    a browser shows it."""
    blocks = re.findall(r"<(p|li|h1|h2|h3|label|legend|option)\b[^>]*>(.*?)</\1>", page, flags=re.S)
    texts = []
    for _tag, inner in blocks:
        text = html.unescape(re.sub(r"<[^>]+>", "", inner))
        texts.append(re.sub(r"\s+", " ", text).strip())
    return [t for t in texts if t]


def _receipt_of(page: str) -> str:
    found = re.search(r"<output>([\d ]+)</output>", page)
    assert found is not None
    return found.group(1)


@pytest.mark.parametrize("lang", ZH)
def test_no_reporter_page_joins_chinese_sentences_with_a_space(intake_client: FlaskClient, lang: str) -> None:
    pages = [intake_client.get(f"/{lang}/").get_data(as_text=True)]
    pages.append(intake_client.get(f"/{lang}/safety").get_data(as_text=True))
    pages.append(intake_client.get(f"/{lang}/receipt").get_data(as_text=True))
    pages.append(intake_client.get(f"/{lang}/nope").get_data(as_text=True))
    sent = {"narrative": "報告", "submission": "E" * 22}
    receipt_page = intake_client.post(f"/{lang}/", data=sent).get_data(as_text=True)
    pages.append(receipt_page)
    pages.append(intake_client.post(f"/{lang}/", data=sent).get_data(as_text=True))  # received already
    pages.append(intake_client.post(f"/{lang}/", data={"narrative": ""}).get_data(as_text=True))  # refused
    receipt = _receipt_of(receipt_page)
    status = intake_client.post(f"/{lang}/receipt", data={"receipt": receipt}).get_data(as_text=True)
    access = re.search(r'name="access" type="hidden" value="([^"]+)"', status)
    assert access is not None
    intake_client.post(f"/{lang}/followup", data={"access": access.group(1), "narrative": "補充"})
    pages.append(intake_client.post(f"/{lang}/receipt", data={"receipt": receipt}).get_data(as_text=True))
    texts = [t for page in pages for t in _visible_text(page)]
    assert any("1 次" in t or "1次" in t for t in texts)  # the status page with a follow-up
    assert [t for t in texts if "。 " in t or ". " in t] == []
