"""The report's fields (core/schema/fields.py) on the no-JavaScript path:
the JSON shape of docs/report-fields.md, "a narrative or one tactic", the
choice of organizations, the safety text."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

import intake
from core.envelope import RecipientPrivateKey, SealedEnvelope, open_envelope
from core.schema.fields import FORM_VERSION, ReportFieldError, normalize_when, report_from_form
from intake.store.models import Envelope

from ..helpers import write_key_file

TODAY = dt.date(2026, 11, 29)

FULL = MultiDict(
    [
        ("narrative", "Two men photographed me at the rally.\r\nAgain."),
        ("tactics", "T06"),
        ("tactics", "T10"),
        ("tactics", "T04"),
        ("tactics", "T77"),  # not a code: dropped
        ("when", "２０２６年7月"),
        ("ongoing", "yes"),
        ("province", "CA-ON"),
        ("city", "  Toronto\u3000"),
        ("channel", "family_abroad"),
        ("channel", "in_person"),
        ("targeted", "me"),
        ("targeted", "family_abroad"),
        ("community", "hong_konger"),
        ("state", "hksar"),
        ("state_other", " \u3000"),  # only spaces: nothing typed
        ("police_told", "no"),
        ("impact", "fear"),
        ("contact_method", "signal"),
        ("contact_value", "+1 416 555 0147"),
        ("contact_safe_times", "evenings"),
        ("contact_language", "yue"),
        ("consent", "statistics"),
        ("consent", "share_coalition"),
    ]
)

EXPECTED: dict[str, Any] = {
    "form_version": FORM_VERSION,
    "kind": "report",
    "language": "en",
    "narrative": "Two men photographed me at the rally.\nAgain.",
    "when": "2026-07",
    "ongoing": True,
    "province": "CA-ON",
    "city": "Toronto",
    "tactics": ["T04", "T06", "T10"],  # in the form's order, not the posted one
    "channel": ["in_person", "family_abroad"],
    "targeted": ["me", "family_abroad"],
    "community": ["hong_konger"],
    "state": "hksar",
    "state_other": "",
    "police_told": "no",
    "impact": ["fear"],
    "contact": {"method": "signal", "value": "+1 416 555 0147", "safe_times": "evenings", "language": "yue"},
    "consent": {
        "statistics": True,
        "share_coalition": True,
        "contact": False,
        "refer_police": False,
        "quote": False,
    },
}

EMPTY_TACTIC_ONLY: dict[str, Any] = {
    "form_version": FORM_VERSION,
    "kind": "report",
    "language": "fr",
    "narrative": "",
    "when": "",
    "ongoing": False,
    "province": None,
    "city": "",
    "tactics": ["T12"],
    "channel": [],
    "targeted": [],
    "community": [],
    "state": None,
    "state_other": "",
    "police_told": None,
    "impact": [],
    "contact": {"method": None, "value": "", "safe_times": "", "language": None},
    "consent": {k: False for k in ("statistics", "share_coalition", "contact", "refer_police", "quote")},
}


def test_the_report_json_shape() -> None:
    assert report_from_form(FULL, "en", TODAY) == EXPECTED


def test_one_tactic_alone_is_a_report_with_every_key_present() -> None:
    assert report_from_form(MultiDict([("tactics", "T12")]), "fr", TODAY) == EMPTY_TACTIC_ONLY


@pytest.mark.parametrize("posted", [{}, {"narrative": " \r\n "}, {"tactics": "T42"}, {"city": "Toronto"}])
def test_a_narrative_or_one_tactic_is_required(posted: dict[str, str]) -> None:
    with pytest.raises(ReportFieldError) as caught:
        report_from_form(MultiDict(posted), "en", TODAY)
    assert (caught.value.field, caught.value.code) == ("narrative", "narrative_or_tactic")


@pytest.mark.parametrize(
    ("typed", "value"),
    [
        ("2026-07-14", "2026-07-14"),
        ("2026/7/14", "2026-07-14"),
        ("２０２６年７月１４日", "2026-07-14"),
        ("2026.7", "2026-07"),
        ("2026-07", "2026-07"),
        ("", ""),
        ("  ", ""),
    ],
)
def test_when_accepts_dates_and_months_as_people_type_them(typed: str, value: str) -> None:
    assert normalize_when(typed, TODAY) == value


@pytest.mark.parametrize(
    "typed", ["last summer", "2026-13", "2026-02-30", "2027-01", "14/07/2026", "1800-01"]
)
def test_when_refuses_what_is_not_a_date_or_month(typed: str) -> None:
    with pytest.raises(ReportFieldError):
        normalize_when(typed, TODAY)


def test_other_state_keeps_its_name_and_no_contact_keeps_no_details() -> None:
    posted = MultiDict({"tactics": "T05", "state": "other", "state_other": "Iran", "contact_method": "none"})
    report = report_from_form(posted, "en", TODAY)
    assert report["state_other"] == "Iran"
    assert report["contact"] == {"method": "none", "value": "", "safe_times": "", "language": None}


@pytest.mark.parametrize(
    ("posted", "field", "code"),
    [
        ({"state_other": "Iran"}, "state_other", "other_state_not_chosen"),
        ({"state": "prc", "state_other": "Iran"}, "state_other", "other_state_not_chosen"),
        (
            {"contact_value": "+1 416 555 0147", "consent": "contact"},
            "contact_value",
            "contact_method_not_chosen",
        ),
        ({"contact_method": "none", "contact_value": "x"}, "contact_value", "contact_method_not_chosen"),
        ({"contact_method": "T42", "contact_value": "x"}, "contact_value", "contact_method_not_chosen"),
        ({"contact_safe_times": "evenings"}, "contact_safe_times", "contact_method_not_chosen"),
        (
            {"contact_method": "none", "contact_value": "x", "contact_safe_times": "evenings"},
            "contact_value",
            "contact_method_not_chosen",
        ),
    ],
)
def test_text_typed_for_a_choice_not_made_is_refused_not_dropped(
    posted: dict[str, str], field: str, code: str
) -> None:
    with pytest.raises(ReportFieldError) as caught:
        report_from_form(MultiDict({"tactics": "T05", **posted}), "en", TODAY)
    assert (caught.value.field, caught.value.code) == (field, code)


def test_short_text_over_its_limit_is_refused() -> None:
    with pytest.raises(ReportFieldError) as caught:
        report_from_form(MultiDict({"tactics": "T05", "city": "x" * 201}), "en", TODAY)
    assert (caught.value.field, caught.value.code) == ("city", "too_long")


def _two_org_app(tmp_path: Path) -> tuple[Flask, RecipientPrivateKey, RecipientPrivateKey]:
    keys = tmp_path / "keys"
    first = write_key_file(keys, "org-one")
    second = write_key_file(keys, "org-two")
    app = intake.create_app(
        {"TESTING": True, "DATA_DIR": str(tmp_path / "d"), "KEYS_DIR": str(keys), "WTF_CSRF_ENABLED": False}
    )
    return app, first, second


def _stored(app: Flask) -> list[SealedEnvelope]:
    with app.extensions["intake.db"].sessions() as session:
        return [SealedEnvelope(r.header, r.body, ()) for r in session.scalars(select(Envelope))]


def test_the_form_posts_every_field_and_seals_only_to_the_chosen_organization(tmp_path: Path) -> None:
    app, first, second = _two_org_app(tmp_path)
    posted = MultiDict(FULL)
    posted.add("recipients_shown", "1")
    posted.add("recipients", "org-two")
    response = app.test_client().post("/en/", data=posted)
    assert response.status_code == 200
    [sealed] = _stored(app)
    opened = open_envelope(sealed, [second])
    expected = dict(EXPECTED, when=opened.report["when"])
    assert opened.report == expected
    with pytest.raises(Exception, match="none of the unlocked keys"):
        open_envelope(sealed, [first])
    app.extensions["intake.db"].engine.dispose()


def test_unticking_every_organization_is_refused_and_keeps_the_choices(tmp_path: Path) -> None:
    app, _first, _second = _two_org_app(tmp_path)
    posted = MultiDict([("narrative", "kept"), ("recipients_shown", "1"), ("tactics", "T09")])
    response = app.test_client().post("/fr/", data=posted)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "Choisissez au moins une organisation." in html
    assert 'value="T09" checked' in html and "kept" in html
    assert 'id="recipients-org-one" value="org-one" checked' not in html
    assert _stored(app) == []
    app.extensions["intake.db"].engine.dispose()


def test_the_form_offers_every_organization_ticked_with_its_fingerprints(tmp_path: Path) -> None:
    app, first, second = _two_org_app(tmp_path)
    html = app.test_client().get("/zh-hans/").get_data(as_text=True)
    for key, rid in ((first, "org-one"), (second, "org-two")):
        assert f'id="recipients-{rid}" value="{rid}" checked' in html
        assert key.public_key.fingerprint in html
    # The five consents, none pre-selected.
    for code in ("statistics", "share_coalition", "contact", "refer_police", "quote"):
        assert f'id="consent-{code}" value="{code}">' in html
    app.extensions["intake.db"].engine.dispose()


@pytest.mark.parametrize(
    ("lang", "phrases"),
    [
        ("en", ["call 911", "1-800-420-5805", "1-800-267-7685", "Tor Browser", "not a police report"]),
        ("zh-hant", ["撥打 911", "1-800-420-5805", "1-800-267-7685", "Tor 瀏覽器", "這不是報案"]),
        ("zh-hans", ["拨打 911", "1-800-420-5805", "1-800-267-7685", "Tor 浏览器", "这不是报案"]),
        ("fr", ["composez le 911", "1-800-420-5805", "1-800-267-7685", "navigateur Tor", "pas une plainte"]),
    ],
)
def test_the_safety_text_is_on_the_form(tmp_path: Path, lang: str, phrases: list[str]) -> None:
    app, _first, _second = _two_org_app(tmp_path)
    html = app.test_client().get(f"/{lang}/").get_data(as_text=True)
    for phrase in phrases:
        assert phrase in html
    app.extensions["intake.db"].engine.dispose()


CONTACT_WITHOUT_METHOD = MultiDict(
    [
        ("narrative", "kept narrative"),
        ("tactics", "T05"),
        ("contact_value", "+1 416 555 0147"),
        ("contact_safe_times", "evenings"),
        ("consent", "contact"),
        ("recipients_shown", "1"),
        ("recipients", "org-one"),
    ]
)


@pytest.mark.parametrize(
    ("lang", "message"),
    [
        (
            "en",
            "Please choose how a reviewer may contact you (Signal, email or phone), "
            "or clear the contact details.",
        ),
        ("zh-hans", "请选择审阅人员可以如何联系您（Signal、电子邮件或电话），或清空您填写的联系信息。"),
    ],
)
def test_contact_details_without_a_method_are_refused_and_kept(
    tmp_path: Path, lang: str, message: str
) -> None:
    app, _first, _second = _two_org_app(tmp_path)
    response = app.test_client().post(f"/{lang}/", data=CONTACT_WITHOUT_METHOD)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    # Shown in the summary (linked to the field) and at the field, which
    # names it; everything typed is back in the form.
    assert f'<a href="#contact_value">{message}</a>' in html
    assert f'<p class="errors" id="contact_value-error">{message}</p>' in html
    assert 'name="contact_value" id="contact_value" value="+1 416 555 0147"' in html
    assert 'aria-describedby="contact_value-error" aria-invalid="true"' in html
    assert 'name="contact_safe_times" id="contact_safe_times" value="evenings"' in html
    assert 'id="consent-contact" value="contact" checked' in html
    assert 'value="T05" checked' in html and "kept narrative" in html
    assert _stored(app) == []
    # Choosing a way to be contacted sends it, the details included.
    chosen = MultiDict(CONTACT_WITHOUT_METHOD)
    chosen.add("contact_method", "phone")
    assert app.test_client().post(f"/{lang}/", data=chosen).status_code == 200
    [sealed] = _stored(app)
    contact = open_envelope(sealed, [_first]).report["contact"]
    assert (contact["method"], contact["value"], contact["safe_times"]) == (
        "phone",
        "+1 416 555 0147",
        "evenings",
    )
    app.extensions["intake.db"].engine.dispose()


@pytest.mark.parametrize(
    ("lang", "message"),
    [
        ("en", "Please choose “Another state”, or clear the name of the other state."),
        ("fr", "Choisissez «\u00a0Un autre État\u00a0», ou effacez le nom de l’autre État."),
    ],
)
def test_another_state_named_but_not_chosen_is_refused_and_kept(
    tmp_path: Path, lang: str, message: str
) -> None:
    app, _first, _second = _two_org_app(tmp_path)
    posted = MultiDict(
        [
            ("tactics", "T05"),
            ("state", "prc"),
            ("state_other", "Iran"),
            ("recipients_shown", "1"),
            ("recipients", "org-one"),
        ]
    )
    response = app.test_client().post(f"/{lang}/", data=posted)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert f'<p class="errors" id="state_other-error">{message}</p>' in html
    assert 'name="state_other" id="state_other" value="Iran"' in html
    assert 'aria-describedby="state_other-error" aria-invalid="true"' in html
    assert 'id="state-prc" value="prc" checked' in html
    assert _stored(app) == []
    app.extensions["intake.db"].engine.dispose()
