"""The case page shows the reporter's answers with the form's own labels
(admin/cases/reportview.py, from core/schema/fields.py), never raw JSON; unknown
codes as themselves; hostile text escaped and marked; emoji joined by a ZWJ
intact."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from admin.audit import log as audit
from admin.cases.reportview import recipients_of, report_sections
from admin.display import visible_controls
from admin.extensions import DB_EXTENSION, KEYRING_EXTENSION
from admin.sync.client import IntakeClient
from admin.sync.run import sync
from core.envelope import RecipientPrivateKey, seal
from core.schema import fields
from tests.admin.admin_testlib import AuthActions, FakeIntake, canary, pin_roster, unlock

FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # man ZWJ woman ZWJ girl


def full_report(**changes: Any) -> dict[str, Any]:
    """A report of the current form (docs/report-fields.md), every key set."""
    report: dict[str, Any] = {
        "form_version": 2,
        "kind": "report",
        "language": "zh-Hant",
        "narrative": "Police visited my mother in Urumqi and asked who I meet in Montreal.",
        "when": "2026-07",
        "ongoing": True,
        "province": "CA-QC",
        "city": "Montreal",
        "tactics": ["T04", "T06"],
        "channel": ["wechat", "family_abroad"],
        "targeted": ["me", "family_abroad"],
        "community": ["uyghur"],
        "state": "other",
        "state_other": "Ruritania",
        "police_told": "prefer_not",
        "impact": ["fear", "changed_travel"],
        "contact": {
            "method": "signal",
            "value": "+1 514 555 0100",
            "safe_times": "evenings",
            "language": "ug",
        },
        "consent": {
            "statistics": True,
            "share_coalition": False,
            "contact": True,
            "refer_police": False,
            "quote": False,
        },
    }
    report.update(changes)
    return report


def synced_page(
    app: Flask, client: FlaskClient, auth: AuthActions, fake: FakeIntake, envelope_id: str
) -> str:
    unlock(app)
    with IntakeClient(fake.url, fake.token) as intake_client:
        sync(
            app.extensions[DB_EXTENSION],
            app.extensions[KEYRING_EXTENSION],
            Path(app.config["DATA_DIR"]),
            intake_client,
        )
    auth.login_as("reviewer")
    response = client.get(f"/cases/{envelope_id}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def case_page(
    app: Flask, client: FlaskClient, auth: AuthActions, fake: FakeIntake, report: dict[str, Any]
) -> str:
    return synced_page(app, client, auth, fake, fake.add(report).envelope_id)


def report_part(page: str) -> str:
    """The page between the report's heading and the attachments'."""
    return page.split('<h2 id="report-title">Report</h2>', 1)[1].split("<h3>Attachments</h3>", 1)[0]


def dd(part: str, key: str) -> str:
    """The text of the ``<dd id="report-KEY">``."""
    return part.split(f'id="report-{key}">', 1)[1].split("</dd>", 1)[0]


def test_a_full_report_shows_the_forms_labels_not_json(
    console_app: Flask, console_client: FlaskClient, auth: AuthActions, fake_intake: FakeIntake
) -> None:
    part = report_part(case_page(console_app, console_client, auth, fake_intake, full_report()))
    # Labels of core/schema/fields.py, the words the reporter saw.
    tactics = dd(part, "tactics")
    assert "T04" in tactics
    assert str(fields.TACTICS[1].label) in tactics  # T04: threats to family back home
    assert "Someone threatened, questioned or punished my family or friends back home" in tactics
    assert "I was followed, watched or photographed" in tactics
    assert "Quebec" in dd(part, "province") and "CA-QC" not in dd(part, "province")
    assert "Montreal" in dd(part, "city")
    assert "yes" in dd(part, "ongoing")
    assert "WeChat" in dd(part, "channel") and "Through family outside Canada" in dd(part, "channel")
    assert "My family outside Canada" in dd(part, "targeted")
    assert "Uyghur" in dd(part, "community")
    assert "Another state" in dd(part, "state") and "Ruritania" in dd(part, "state_other")
    assert "Prefer not to say" in dd(part, "police_told")
    assert "I changed my travel plans" in dd(part, "impact")
    assert "Signal" in dd(part, "contact-method")
    assert "+1 514 555 0100" in dd(part, "contact-value")
    assert "evenings" in dd(part, "contact-safe-times")
    assert "Uyghur" in dd(part, "contact-language")
    # The five consents, yes or no, with the reporter's words.
    assert "Use my report in statistics, without my name or any other personal details." in part
    consents = {
        code: dd(part, f"consent-{code}").strip() for code in ("statistics", "share_coalition", "contact")
    }
    assert consents == {"statistics": "yes", "share_coalition": "no", "contact": "yes"}
    assert dd(part, "consent-refer_police").strip() == "no"
    assert dd(part, "consent-quote").strip() == "no"
    # The organizations it was sealed to, the form and its language.
    assert "this organization (test-org)" in dd(part, "recipients")
    assert "2" in dd(part, "form_version")
    assert "zh-Hant" in dd(part, "language")
    # No raw JSON anywhere in the report.
    for json_mark in ("[", "]", "{", "}", "null", "true", "false", "&#34;", '"T04"'):
        assert json_mark not in part, json_mark
    assert "Other fields" not in part
    assert "not a code of this form" not in part


def test_unanswered_fields_and_an_interview(
    console_app: Flask, console_client: FlaskClient, auth: AuthActions, fake_intake: FakeIntake
) -> None:
    report = full_report(
        when="",
        province=None,
        city="",
        tactics=[],
        state=None,
        state_other="",
        contact={"method": None, "value": "", "safe_times": "", "language": None},
        taken_by="interview",
    )
    filed = fake_intake.add(report, sealed_by="console")
    with console_app.extensions[DB_EXTENSION].session() as session:
        # As admin/interview/views.py records a filing from this console.
        audit.record(session, "rev@example.org", "interview.file", filed.envelope_id, "attachments=0")
    page = synced_page(console_app, console_client, auth, fake_intake, filed.envelope_id)
    part = report_part(page)
    for key in ("when", "province", "city", "tactics", "state", "contact-method", "contact-value"):
        assert "—" in dd(part, key), key
    assert dd(part, "taken_by") == "interview (a reviewer filed it)"
    assert '<dd id="taken-by">interview (a reviewer filed it)</dd>' in page
    assert "null" not in part and "[" not in part


def test_a_browser_report_cannot_pass_for_an_interview(
    console_app: Flask, console_client: FlaskClient, auth: AuthActions, fake_intake: FakeIntake
) -> None:
    """Anyone can seal a body saying "taken_by": "interview" from a browser:
    only a report the console sealed is shown as filed by a reviewer."""
    planted = fake_intake.add(full_report(taken_by="interview"), sealed_by="browser")
    # A seized intake can also forge the header's sealed_by: without this
    # console's own record of the filing, no label either.
    forged = fake_intake.add(full_report(taken_by="interview"), sealed_by="console")
    page = synced_page(console_app, console_client, auth, fake_intake, planted.envelope_id)
    for shown in (page, console_client.get(f"/cases/{forged.envelope_id}").get_data(as_text=True)):
        part = report_part(shown)
        assert 'id="taken-by"' not in shown
        assert "a reviewer filed it" not in shown
        assert "interview" in dd(part, "taken_by") and "not a code of this form" in dd(part, "taken_by")


def test_unknown_codes_and_odd_values_show_as_they_are(
    console_app: Flask, console_client: FlaskClient, auth: AuthActions, fake_intake: FakeIntake
) -> None:
    report = full_report(
        form_version=3,
        tactics=["T04", "T42"],
        province="CA-XX",
        channel="carrier_pigeon",  # not even a list
        contact={"method": "fax", "value": "", "safe_times": "", "language": "tlh"},
        consent=["statistics"],  # not an object
        language="tlh-Latn",
        mood="tired",  # a field of a newer form
    )
    part = report_part(case_page(console_app, console_client, auth, fake_intake, report))
    assert "T42" in dd(part, "tactics") and "not a code of this form" in dd(part, "tactics")
    assert "T04" in dd(part, "tactics")
    assert "CA-XX" in dd(part, "province")
    assert "carrier_pigeon" in dd(part, "channel")
    assert "fax" in dd(part, "contact-method") and "tlh" in dd(part, "contact-language")
    assert "statistics" in dd(part, "consent")
    assert "tlh-Latn" in dd(part, "language")
    assert "3" in dd(part, "form_version")
    assert "Other fields" in part and "mood" in part and "tired" in part


def test_hostile_text_stays_escaped_and_marked(
    console_app: Flask, console_client: FlaskClient, auth: AuthActions, fake_intake: FakeIntake
) -> None:
    text = canary()
    report = full_report(
        narrative=f"{text} <script>alert(1)</script>",
        city="<b>Toronto</b>",
        state_other="invoice\u202egnp.exe",
        tactics=["<img src=x onerror=alert(1)>"],
        contact={"method": "email", "value": "me\u2066@evil\u2069", "safe_times": "", "language": "en"},
        **{'"><script>alert(2)</script>': "key"},
    )
    page = case_page(console_app, console_client, auth, fake_intake, report)
    part = report_part(page)
    assert text in part
    assert "<script>" not in page and "<img" not in page and "<b>Toronto" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in part
    assert "&lt;b&gt;Toronto&lt;/b&gt;" in dd(part, "city")
    assert "&lt;img src=x onerror=alert(1)&gt;" in dd(part, "tactics")
    assert "invoice⟨U+202E⟩gnp.exe" in dd(part, "state_other")
    assert "me⟨U+2066⟩@evil⟨U+2069⟩" in dd(part, "contact-value")
    assert "&#34;&gt;&lt;script&gt;alert(2)&lt;/script&gt;" in part  # an unknown key, escaped
    assert not any(ch in page for ch in "\u202e\u2066\u2069")


def test_a_family_emoji_renders_whole_but_a_bare_zero_width_space_is_marked(
    console_app: Flask, console_client: FlaskClient, auth: AuthActions, fake_intake: FakeIntake
) -> None:
    report = full_report(
        narrative=f"My family {FAMILY} is scared. look\u200bhere a\u200db", city=f"Montr\u200beal {FAMILY}"
    )
    part = report_part(case_page(console_app, console_client, auth, fake_intake, report))
    assert f"My family {FAMILY} is scared." in dd(part, "narrative")
    assert "look⟨U+200B⟩here" in dd(part, "narrative")
    assert "a⟨U+200D⟩b" in dd(part, "narrative")  # a joiner between letters is marked
    assert f"Montr⟨U+200B⟩eal {FAMILY}" in dd(part, "city")


def test_a_followup_page_shows_its_text_and_report(
    console_app: Flask, console_client: FlaskClient, auth: AuthActions, fake_intake: FakeIntake
) -> None:
    report = fake_intake.add(full_report()).envelope_id
    later = canary()
    served = fake_intake.add(
        {"form_version": 2, "kind": "followup", "language": "fr", "follows": report, "narrative": later}
    )
    served.follows = report
    child = synced_page(console_app, console_client, auth, fake_intake, served.envelope_id)
    part = report_part(child)
    assert later in dd(part, "narrative")
    assert report in dd(part, "follows")
    assert "Français" in dd(part, "language")
    parent = console_client.get(f"/cases/{report}").get_data(as_text=True)
    assert later in parent  # in the timeline
    assert "Quebec" in report_part(parent)


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (FAMILY, FAMILY),
        ("\U0001f468\U0001f3fd\u200d\U0001f4bb", "\U0001f468\U0001f3fd\u200d\U0001f4bb"),  # skin tone, ZWJ
        ("\U0001f3f3\ufe0f\u200d\U0001f308", "\U0001f3f3\ufe0f\u200d\U0001f308"),  # VS16, ZWJ
        ("\u2764\ufe0f\u200d\U0001f525", "\u2764\ufe0f\u200d\U0001f525"),  # heart on fire
        ("a\u200db", "a⟨U+200D⟩b"),
        ("\u200d\U0001f468", "⟨U+200D⟩\U0001f468"),
        ("\U0001f468\u200d", "\U0001f468⟨U+200D⟩"),
        ("\U0001f468\u200d\u202e\U0001f469", "\U0001f468⟨U+200D⟩⟨U+202E⟩\U0001f469"),
        ("\U0001f468\u200b\U0001f469", "\U0001f468⟨U+200B⟩\U0001f469"),
        ("one\u2028two\u2029three", "one⟨U+2028⟩two⟨U+2029⟩three"),
        ("x\u200c\u2060\ufeffy", "x⟨U+200C⟩⟨U+2060⟩⟨U+FEFF⟩y"),
        ("\u202a\u202b\u202c\u202d\u202e", "⟨U+202A⟩⟨U+202B⟩⟨U+202C⟩⟨U+202D⟩⟨U+202E⟩"),
        ("\u2066\u2067\u2068\u2069", "⟨U+2066⟩⟨U+2067⟩⟨U+2068⟩⟨U+2069⟩"),
        ("line\nnext\ttab", "line\nnext\ttab"),
    ],
)
def test_visible_controls_lets_only_emoji_joiners_pass(text: str, shown: str) -> None:
    assert visible_controls(text) == shown


def test_recipients_name_our_keys_and_count_the_others(
    console_app: Flask, org_key: RecipientPrivateKey
) -> None:
    other = RecipientPrivateKey.generate()
    sealed = seal({"narrative": "x"}, [org_key.public_key, other.public_key], day=date(2026, 11, 2))
    with console_app.test_request_context():
        values = recipients_of(sealed.header, Path(console_app.config["DATA_DIR"]))
        assert [v.text for v in values] == ["this organization (test-org)", "another organization"]
        assert [v.code for v in values] == [org_key.key_id[:16], other.key_id[:16]]
        assert recipients_of(b"not a header", Path(console_app.config["DATA_DIR"])) == []
        # With a pinned roster, the other organization is named from it,
        # and a key outside it is said to be so.
        pinned = pin_roster(console_app, other.public_key).by_key_id()
        named = recipients_of(sealed.header, Path(console_app.config["DATA_DIR"]), pinned)
        assert [v.text for v in named] == ["this organization (test-org)", "other-org (en) (other-org)"]
        stranger = RecipientPrivateKey.generate().public_key
        planted = seal({"narrative": "x"}, [org_key.public_key, stranger], day=date(2026, 11, 2))
        shown = recipients_of(planted.header, Path(console_app.config["DATA_DIR"]), pinned)
        assert shown[1].text == "a key outside the pinned roster" and shown[1].unknown


def test_report_sections_never_raise_on_odd_reports(console_app: Flask) -> None:
    odd: list[dict[str, Any]] = [
        {},
        {"narrative": None},
        {"narrative": ["a"], "tactics": {"T01": True}, "ongoing": "maybe", "contact": "call me"},
        {
            "consent": {"statistics": "yes", "extra": True},
            "contact": {"method": 5, "x": "y"},
            "taken_by": "robot",
        },
        {"province": ["CA-ON"], "state": 1.5, "impact": [None, ["fear"]], "language": None},
    ]
    with console_app.test_request_context():
        for report in odd:
            sections = report_sections(report)
            for section in sections:
                for row in section.rows:
                    assert all(isinstance(v.text, str) for v in row.values)
