"""Reply templates: coordinators keep them (reviewers cannot), the starter
set is seeded once in every reporter language, and a reply chosen from a
template on an English console for a report written on the Traditional
Chinese form reaches that reporter in Traditional Chinese, without
JavaScript and with it (the report sealed in Chromium, the reply opened
there), over HTTP against the real intake on loopback."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from admin.extensions import DB_EXTENSION, KEYRING_EXTENSION
from admin.models import AuditEntry, ReplyTemplate
from admin.replytemplates.service import PLACEHOLDER, REPLY_LANGUAGES
from admin.replytemplates.starter import STARTER
from admin.sync.client import IntakeClient
from admin.sync.run import sync
from core.envelope import RecipientPrivateKey, parse_header
from core.receipts import normalize_receipt
from intake.store.models import Envelope
from tests.admin.admin_testlib import AuthActions, unlock
from tests.admin.served_intake import ServedIntake
from tests.chromium import CHROMIUM_ARGS, require_chromium

RECEIPT = re.compile(r"<output>([\d ]+)</output>")
TEXTAREA = re.compile(r'<textarea[^>]*name="body"[^>]*>(.*?)</textarea>', re.S)
#: Characters written one way in Traditional and another in Simplified.
SIMPLIFIED_ONLY = set("们这报个为发时会说对联国应经过还让请给关网络讯没删码")
TRADITIONAL_ONLY = set("們這報個為發時會說對聯國應經過還讓請給關網絡訊沒刪碼")


@pytest.fixture
def served(tmp_path: Path, console_app: Flask, org_key: RecipientPrivateKey) -> Iterator[ServedIntake]:
    server = ServedIntake(tmp_path / "intake", org_key)
    console_app.config["INTAKE_URL"] = server.url
    console_app.config["INTAKE_TOKEN"] = server.token
    console_app.config["REPLY_FROM"] = "Test Org"
    yield server
    server.stop()
    server.app.extensions["intake.db"].engine.dispose()


def _templates(app: Flask) -> dict[str, ReplyTemplate]:
    with app.app_context(), app.extensions[DB_EXTENSION].session() as session:
        rows = list(session.scalars(select(ReplyTemplate)))
        session.expunge_all()
    return {t.key: t for t in rows}


def _audit(app: Flask) -> list[AuditEntry]:
    with app.app_context(), app.extensions[DB_EXTENSION].session() as session:
        rows = list(session.scalars(select(AuditEntry).order_by(AuditEntry.seq)))
        session.expunge_all()
    return rows


def _seed(app: Flask) -> str:
    result = app.test_cli_runner().invoke(args=["replies", "seed"])
    assert result.exit_code == 0, result.output
    return str(result.output)


def _form(**overrides: str) -> dict[str, str]:
    form = {
        "key": "call-back",
        "position": "60",
        "title_en": "We will call you",
        "summary_en": "Says a reviewer will call at the time given.",
        "text_en": "A reviewer will call you at the time you gave.",
        "text_fr": "Une personne de notre équipe vous appellera au moment indiqué.",
        "text_zh_hant": "我們的審閱人員會在您提供的時間致電給您。",
        "text_zh_hans": "我们的审阅人员会在您提供的时间给您打电话。",
    }
    form.update(overrides)
    return form


def test_coordinators_keep_the_templates_and_reviewers_cannot(
    console_app: Flask, console_client: FlaskClient, auth: AuthActions
) -> None:
    auth.login_as("reviewer")
    assert console_client.get("/reply-templates/").status_code == 403
    assert console_client.post("/reply-templates/new", data=_form()).status_code == 403
    auth.logout()

    auth.login_as("coordinator")
    assert "No template yet" in console_client.get("/reply-templates/").get_data(as_text=True)
    # Refused without its Simplified Chinese text: everything typed comes back.
    response = console_client.post("/reply-templates/new", data=_form(text_zh_hans=""))
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "The reply in Simplified Chinese" in page and "我們的審閱人員會在您提供的時間致電給您。" in page
    assert _templates(console_app) == {}

    assert console_client.post("/reply-templates/new", data=_form()).status_code == 302
    [made] = _templates(console_app).values()
    assert made.text_zh_hant == "我們的審閱人員會在您提供的時間致電給您。" and not made.retired
    assert console_client.post("/reply-templates/new", data=_form()).status_code == 400  # the name is taken
    edited = _form(title_fr="Nous vous appellerons", summary_en="Says we will call.")
    assert console_client.post(f"/reply-templates/{made.id}", data=edited).status_code == 302
    assert _templates(console_app)["call-back"].title_fr == "Nous vous appellerons"
    assert console_client.post(f"/reply-templates/{made.id}/retire").status_code == 302
    assert _templates(console_app)["call-back"].retired
    assert "no: retired" in console_client.get("/reply-templates/").get_data(as_text=True)
    assert console_client.post(f"/reply-templates/{made.id}/restore").status_code == 302
    assert not _templates(console_app)["call-back"].retired
    assert console_client.get("/reply-templates/999999").status_code == 404

    entries = [e for e in _audit(console_app) if e.action.startswith("reply_template.")]
    assert [e.action for e in entries] == [
        "reply_template.add",
        "reply_template.edit",
        "reply_template.retire",
        "reply_template.restore",
    ]
    assert {e.detail for e in entries} == {"template=call-back"}
    assert all(e.actor.startswith("coordinator") for e in entries)


def test_the_starter_set_is_seeded_once_in_every_reporter_language(console_app: Flask) -> None:
    assert "added 5 reply templates" in _seed(console_app)
    templates = _templates(console_app)
    assert set(templates) == {"received", "more-information", "referred", "safety", "cannot-help"}
    for key, t in templates.items():
        texts = {locale: getattr(t, f"text_{locale.lower()}") for locale in REPLY_LANGUAGES}
        assert all(texts.values()), key
        # Each language written for its readers, not left in another script.
        assert not set(texts["zh_Hant"]) & SIMPLIFIED_ONLY, (key, set(texts["zh_Hant"]) & SIMPLIFIED_ONLY)
        assert not set(texts["zh_Hans"]) & TRADITIONAL_ONLY, (key, set(texts["zh_Hans"]) & TRADITIONAL_ONLY)
        for chinese in (texts["zh_Hant"], texts["zh_Hans"]):
            # The glossary's reversals: "overseas" means outside China,
            # "going back" makes China home, 收據 is a payment receipt.
            for wrong in ("海外", "回國", "回国", "收據", "收据"):
                assert wrong not in chinese, (key, wrong)
        assert "'" not in texts["fr"] and " :" not in texts["fr"], key  # OQLF typography
        # The same places to write in, in every language.
        assert len({text.count(PLACEHOLDER) for text in texts.values()}) == 1, key
        assert t.title_en and t.title_fr and t.title_zh_hant and t.summary_en and t.summary_fr
    for text in (getattr(templates["safety"], f"text_{locale.lower()}") for locale in REPLY_LANGUAGES):
        assert "911" in text and "1-800-420-5805" in text and "1-800-267-7685" in text
    safety = templates["safety"]
    assert "回執號碼" in safety.text_zh_hant and "回执号码" in safety.text_zh_hans
    assert "加拿大境外" in safety.text_zh_hant and "加拿大境外" in safety.text_zh_hans
    assert {s.key for s in STARTER} == set(templates)

    # Seeding again adds nothing and brings back nothing a coordinator retired.
    with console_app.app_context(), console_app.extensions[DB_EXTENSION].session() as session:
        row = session.scalars(select(ReplyTemplate).where(ReplyTemplate.key == "referred")).one()
        row.retired = True
        session.commit()
    assert "added 0 reply templates" in _seed(console_app)
    assert _templates(console_app)["referred"].retired
    assert [e.detail for e in _audit(console_app) if e.action == "reply_template.seed"] == [
        "templates=received,more-information,referred,safety,cannot-help"
    ]


# --------------------------------------------------------------------------
# A template on an English console, to a report from the zh-Hant form


def _sync_and_unlock(app: Flask, served: ServedIntake) -> str:
    unlock(app)
    with IntakeClient(served.url, served.token) as client:
        result = sync(
            app.extensions[DB_EXTENSION],
            app.extensions[KEYRING_EXTENSION],
            Path(app.config["DATA_DIR"]),
            client,
        )
    assert result.added == 1
    with served.app.app_context(), served.app.extensions["intake.db"].sessions() as session:
        row = session.scalars(select(Envelope)).one()
        envelope_id, sealed_by = row.envelope_id, parse_header(row.header).sealed_by
    return f"{envelope_id} {sealed_by}"


def _reply_box(page: str) -> str:
    found = TEXTAREA.search(page)
    assert found is not None
    return html.unescape(found.group(1)).strip()


def _answer_from_template(app: Flask, client: FlaskClient, auth: AuthActions, envelope_id: str) -> str:
    """On the English console, pick "received" for the report, see its
    meaning in English, send it unedited; the text sent."""
    received = _templates(app)["received"]
    auth.login_as("reviewer")
    headers = {"Accept-Language": "en"}
    page = client.get(f"/cases/{envelope_id}", headers=headers).get_data(as_text=True)
    assert "Start from a template" in page and "Traditional Chinese" in page
    response = client.post(
        f"/reply-templates/use/{envelope_id}",
        data={"template": str(received.id), "template_language": "", "body": ""},
        headers=headers,
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.escape(received.summary_en, quote=False) in page  # its meaning, in English
    text = _reply_box(page)
    assert text == received.text_zh_hant  # the report's language, not the console's
    response = client.post(
        f"/cases/{envelope_id}/reply",
        data={"body": text, "reply_template": "received", "reply_language": "zh_Hant"},
        headers=headers,
    )
    assert response.status_code == 302
    [entry] = [e for e in _audit(app) if e.action == "case.reply"]
    assert entry.detail.endswith(" template=received language=zh_Hant")
    return text


def test_a_template_reply_reaches_a_zh_hant_reporter_without_javascript(
    console_app: Flask, console_client: FlaskClient, auth: AuthActions, served: ServedIntake
) -> None:
    _seed(console_app)
    reporter = requests.Session()
    sent = reporter.post(f"{served.url}/zh-hant/", data={"narrative": "他們打電話給我母親"}, timeout=30)
    found = RECEIPT.search(sent.text)
    assert sent.status_code == 200 and found is not None
    envelope_id, sealed_by = _sync_and_unlock(console_app, served).split()
    assert sealed_by == "server"

    text = _answer_from_template(console_app, console_client, auth, envelope_id)

    check = reporter.get(f"{served.url}/zh-hant/receipt", timeout=10)
    token = re.search(r'name="check" type="hidden" value="([^"]+)"', check.text)
    data = {"receipt": found.group(1)} | ({"check": token.group(1)} if token else {})
    status = reporter.post(f"{served.url}/zh-hant/receipt", data=data, timeout=30)
    assert status.status_code == 200
    shown = html.unescape(status.text)
    assert "感謝您提交報告。我們已經收到，團隊成員正在仔細閱讀。" in shown
    assert text.splitlines()[-1] in shown  # "如果您現在有危險，請撥打 911。"


def test_a_template_leaves_nothing_to_fill_in_unsent_and_keeps_own_words(
    console_app: Flask, console_client: FlaskClient, auth: AuthActions, served: ServedIntake
) -> None:
    _seed(console_app)
    served.app.test_client().post("/fr/", data={"narrative": "On a appelé ma mère."})
    envelope_id = _sync_and_unlock(console_app, served).split()[0]
    more = _templates(console_app)["more-information"]
    auth.login_as("reviewer")
    own = "Merci, Amina."
    page = console_client.post(
        f"/reply-templates/use/{envelope_id}",
        data={"template": str(more.id), "template_language": "", "body": own},
    ).get_data(as_text=True)
    box = _reply_box(page)
    assert box == f"{more.text_fr}\n\n{own}"  # the French form's text, then what was typed

    hidden = {"reply_template": "more-information", "reply_language": "fr"}
    assert all(f'name="{k}" value="{v}"' in page for k, v in hidden.items())
    response = console_client.post(f"/cases/{envelope_id}/reply", data={"body": box} | hidden)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Replace each […]" in page and _reply_box(page) == box
    # Still said to come from the template, so the sent reply is audited so.
    assert all(f'name="{k}" value="{v}"' in page for k, v in hidden.items())
    filled = box.replace(PLACEHOLDER, "la date de l’appel")
    response = console_client.post(f"/cases/{envelope_id}/reply", data={"body": filled} | hidden)
    assert response.status_code == 302
    [entry] = [e for e in _audit(console_app) if e.action == "case.reply"]
    assert entry.detail.endswith(" template=more-information language=fr")
    assert "Amina" not in entry.detail

    # A retired or unknown template is refused with the typed text kept.
    response = console_client.post(
        f"/reply-templates/use/{envelope_id}", data={"template": "999999", "body": own}
    )
    assert response.status_code == 400 and own in response.get_data(as_text=True)


def test_a_template_reply_reaches_a_zh_hant_reporter_with_javascript(
    console_app: Flask, console_client: FlaskClient, auth: AuthActions, served: ServedIntake, playwright: Any
) -> None:
    pytest.importorskip("playwright.sync_api")
    _seed(console_app)
    browser = playwright.chromium.launch(
        executable_path=require_chromium(), headless=True, args=list(CHROMIUM_ARGS)
    )
    try:
        context = browser.new_context(base_url=served.url)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto("/zh-hant/")
        page.wait_for_selector("form[data-sealing=browser]", state="attached")
        page.fill("textarea[name=narrative]", "他們打電話給我在國內的父母")
        page.click("form button[type=submit]")
        receipt = str(page.wait_for_selector(".receipt-number output", timeout=60_000).text_content())
        envelope_id, sealed_by = _sync_and_unlock(console_app, served).split()
        assert sealed_by == "browser"

        text = _answer_from_template(console_app, console_client, auth, envelope_id)

        page.goto("/zh-hant/receipt")
        page.fill("#receipt", normalize_receipt(receipt))
        page.click("form button[type=submit]")
        page.wait_for_selector("main[data-replies-ready=true]", state="attached", timeout=60_000)
        # Opened on the reporter's device, in Traditional Chinese.
        assert page.text_content(".reply-list li[data-opened=true] .reply-text") == text
        assert errors == []
        context.close()
    finally:
        browser.close()
