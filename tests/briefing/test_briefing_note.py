"""Briefings in Government of Canada briefing-note form: the marking, page
X of Y and the date on every page of both PDFs (read back with pypdfium2),
Chinese text printed with an embedded font, a character no font has
refusing the build, French numbers and signs, and findings that agree with
the data they come from."""

from __future__ import annotations

import csv
import dataclasses
import io
import re
from collections import Counter
from datetime import date
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from flask import Flask

from admin.briefing import codes, numbers, outputs, render
from admin.briefing.build import Briefing, Filters, Period, build, select_records
from admin.briefing.findings import findings, leaders, scope
from admin.briefing.fonts import MissingGlyphError
from admin.briefing.pages import Issue, wrap
from admin.briefing.records import CodedRecord, read_records
from admin.briefing.sdc import Protection, Status
from admin.extensions import DB_EXTENSION

PERIOD = Period.parse("2025-01", "2026-10")
ISSUED = date(2026, 12, 7)
DATES = {"en": "December 7, 2026", "fr": "7 décembre 2026"}
MARKING = "UNCLASSIFIED / NON CLASSIFIÉ"
#: A vignette in English with Chinese words, as reviewers quote them.
CHINESE_EN = "The caller said 你的家人在新疆很安全 and named my mother's street."
CHINESE_FR = "L'appelant a dit 你的家人在新疆很安全 et a nommé la rue de ma mère."


@pytest.fixture(scope="module")
def records(coded_cases_path: Path) -> list[CodedRecord]:
    return read_records(coded_cases_path)


def _with_vignette(records: list[CodedRecord], en: str, fr: str | None = None) -> list[CodedRecord]:
    first = next(i for i, r in enumerate(records) if r.consent_statistics)
    out = list(records)
    out[first] = dataclasses.replace(records[first], consent_quote=True, vignette_en=en, vignette_fr=fr)
    return out


@pytest.fixture(scope="module")
def chinese(records: list[CodedRecord]) -> Briefing:
    return build(_with_vignette(records, CHINESE_EN, CHINESE_FR), PERIOD, k=5)


def _pages(data: bytes) -> list[str]:
    doc = pdfium.PdfDocument(data)
    try:
        out = []
        for page in doc:
            textpage = page.get_textpage()
            out.append(textpage.get_text_range())
            textpage.close()
            page.close()
        return out
    finally:
        doc.close()


ISSUE = Issue.from_config(
    {"BRIEFING_ISSUED_BY": ["Org One", "Org Two"], "BRIEFING_CONTACT": "Briefings desk, +1 613 555 0100"},
    ISSUED,
)


@pytest.mark.parametrize("draft", [False, True])
@pytest.mark.parametrize("lang", ["en", "fr"])
def test_every_page_has_marking_page_number_and_date(chinese: Briefing, lang: str, draft: bool) -> None:
    b = dataclasses.replace(chinese, draft=draft)
    data = render.report_pdf(b, lang, ISSUE)
    pages = _pages(data)
    assert len(pages) >= 3
    of = "of" if lang == "en" else "de"
    for number, text in enumerate(pages, start=1):
        assert text.count(MARKING) == 2, number  # head and foot
        assert f"page {number} {of} {len(pages)}" in text
        assert DATES[lang] in text
        if draft:  # kept beside the marking (drafts are never released)
            assert render.DRAFT_MARK in text
    first = pages[0]
    assert "Org One; Org Two" in first and "Briefings desk, +1 613 555 0100" in first
    # The Chinese words are there as text, drawn with the embedded CJK font.
    assert (CHINESE_EN if lang == "en" else CHINESE_FR) in "".join(pages).replace("\r\n", " ")
    assert b"NotoSansCJK" in data


def test_other_scripts_print(chinese: Briefing) -> None:
    """Uyghur (Arabic script, shaped right to left), Cyrillic and Traditional
    Chinese print from the embedded fonts: no glyph is missing."""
    from admin.briefing.build import Vignette

    text = "ئۇيغۇر تىلى — Мы боимся за семью — 我們很害怕"
    b = dataclasses.replace(chinese, vignettes=[Vignette(text, text)])
    for lang in ("en", "fr"):
        assert "Мы боимся за семью" in "".join(_pages(render.report_pdf(b, lang, ISSUE)))


def test_the_marking_is_a_setting(chinese: Briefing) -> None:
    issue = Issue.from_config({"BRIEFING_CLASSIFICATION": "PROTECTED A / PROTÉGÉ A"}, ISSUED)
    pages = _pages(render.report_pdf(chinese, "fr", issue))
    assert all(text.count("PROTECTED A / PROTÉGÉ A") == 2 for text in pages)
    assert MARKING not in "".join(pages)


def test_html_report_has_marking_issuer_and_date(chinese: Briefing) -> None:
    html = outputs.report_html(chinese, "fr", ISSUE)
    assert html.count(MARKING) == 2
    assert "Publiée par : Org One; Org Two" in html and DATES["fr"] in html
    assert f'<blockquote dir="auto">{CHINESE_FR}</blockquote>'.replace("'", "&#39;") in html


@pytest.mark.parametrize(
    "char",
    [
        "\ue000",  # private use: in no font by definition
        "\U00013000",  # EGYPTIAN HIEROGLYPH A001: no shipped font has it
    ],
)
def test_a_character_no_font_has_fails_the_build(records: list[CodedRecord], char: str) -> None:
    b = build(_with_vignette(records, f"Account with {char} in it."), PERIOD, k=5)
    code = f"U+{ord(char):04X}"
    with pytest.raises(MissingGlyphError, match=re.escape(code)) as raised:
        render.report_pdf(b, "en", ISSUE)
    assert "accounts released with consent" in str(raised.value)
    assert "Account with" not in str(raised.value)  # names the character, not the text


def test_the_command_refuses_a_missing_glyph_and_writes_and_records_nothing(
    console_app: Flask, coded_cases_path: Path, tmp_path: Path
) -> None:
    lines = coded_cases_path.read_text(encoding="utf-8").splitlines()
    header, rows = lines[0], lines[1:]
    first = next(i for i, row in enumerate(rows) if row.endswith(",yes"))
    rows = [f"{row},no," for row in rows]
    rows[first] = rows[first][: -len(",no,")] + ",yes,A private-use \ue000 character"
    path = tmp_path / "with-vignette.csv"
    path.write_text("\n".join([f"{header},consent_quote,vignette_en", *rows]) + "\n", encoding="utf-8")
    runner = console_app.test_cli_runner()
    result = runner.invoke(args=["coded", "import", str(path)])
    assert result.exit_code == 0, result.output
    for extra in ([], ["--draft"]):
        out = tmp_path / f"out{len(extra)}"
        result = runner.invoke(
            args=["briefing", "--from", "2025-01", "--to", "2026-10", "--out", str(out), *extra]
        )
        assert result.exit_code != 0
        assert "U+E000" in result.output and "private-use" in result.output
        assert "A private-use" not in result.output
        assert not out.exists()
    from admin.briefing.ledger import load_releases

    with console_app.extensions[DB_EXTENSION].session() as session:
        assert load_releases(session) == []


# -- numbers and signs ------------------------------------------------------------------


def test_numbers_and_signs_per_locale() -> None:
    assert numbers.number(1250, "fr") == "1\u00a0250"
    assert numbers.number(1250, "en") == "1,250"
    assert numbers.number(-3, "fr") == "\u22123"
    assert numbers.number(-1250, "fr") == "\u22121\u00a0250"
    assert numbers.signed(-3, "fr") == "\u22123" and numbers.signed(12, "fr") == "+12"
    assert numbers.number(-3, "en") == "-3"  # CLDR en_CA
    assert numbers.percent(0.12, "fr") == "12\u00a0%"
    assert numbers.long_date(ISSUED, "fr") == "7 décembre 2026"


@pytest.fixture(scope="module")
def big(records: list[CodedRecord]) -> Briefing:
    """Six copies of 2025's cases (new case ids and envelopes): counts in the
    thousands, and a last quarter with fewer cases than the one before."""
    copies = [
        dataclasses.replace(
            r, case_id=f"{r.case_id}-{n}", envelope_ids=tuple(f"{n}{e[1:]}" for e in r.envelope_ids)
        )
        for n in range(6)
        for r in records
    ]
    return build(copies, Period.parse("2025-01", "2025-12"), k=5)


def test_french_pdf_numbers_use_no_break_spaces_and_the_minus_sign(big: Briefing) -> None:
    assert big.total >= 1000
    q3, q4 = (big.published(big.tables[0].key(None, q)) for q in ("2025Q3", "2025Q4"))
    assert q3 is not None and q4 is not None and q4 < q3
    fr = "".join(_pages(render.report_pdf(big, "fr", ISSUE)))
    total = numbers.number(big.total, "fr")
    assert "\u00a0" in total and total in fr  # 1 116, not 1116 nor 1 116 with a plain space
    assert f"{numbers.number(q4, 'fr')} cas, \u2212{q3 - q4} par rapport au T3 2025" in fr
    assert str(big.total) not in fr
    en = "".join(_pages(render.report_pdf(big, "en", ISSUE)))
    assert f"{big.total:,}" in en and f"-{q3 - q4} compared with Q3 2025" in en
    # The charts' bar labels and count axis are formatted too.
    distance = big.published(big.tables[0].key("distance", None))
    assert distance is not None and distance >= 1000
    assert numbers.number(distance, "fr") in fr


# -- findings against the data ---------------------------------------------------------------


def _truth(records: list[CodedRecord]) -> dict[str, Counter[str]]:
    """Counts straight from the records a briefing selects, independently of
    build(): cases per family, per tactic, per quarter, per delay bucket."""
    chosen = select_records(records, PERIOD)
    out: dict[str, Counter[str]] = {d: Counter() for d in ("family", "tactic", "quarter", "delay")}
    for r in chosen:
        out["family"].update({codes.TACTIC_FAMILY[t] for t in r.tactics})
        out["tactic"].update(set(r.tactics))
        out["quarter"][f"{r.incident_month[:4]}Q{(int(r.incident_month[5:]) - 1) // 3 + 1}"] += 1
        months = (
            (int(r.report_month[:4]) - int(r.incident_month[:4])) * 12
            + int(r.report_month[5:])
            - int(r.incident_month[5:])
        )
        out["delay"][codes.delay_bucket(months)] += 1
    return out


def test_findings_agree_with_the_data(records: list[CodedRecord], chinese: Briefing) -> None:
    truth = _truth(records)
    total = sum(truth["delay"].values())
    text = findings(chinese, "en")
    family, n = truth["family"].most_common(1)[0]
    assert all(m < n for f, m in truth["family"].items() if f != family)
    assert (
        f"{codes.label('family', family, 'en')} was the most frequent family of tactics: {n} cases" in text[0]
    )
    tactic, n = truth["tactic"].most_common(1)[0]
    assert all(m < n for t, m in truth["tactic"].items() if t != tactic)
    assert text[1].startswith(
        f"The most frequent tactic was {codes.label('tactic', tactic, 'en')}: {n} cases"
    )
    # 2026Q4 has only October in the period: compared only among full quarters.
    full = {q: m for q, m in truth["quarter"].items() if q != "2026Q4"}
    quarter, n = max(full.items(), key=lambda qm: qm[1])
    assert (
        f"The quarter with the most cases was {render.quarter_label(quarter, 'en')}: {n} cases (full"
        in text[2]
    )
    change = truth["quarter"]["2026Q3"] - truth["quarter"]["2026Q2"]
    assert f"{numbers.signed(change, 'en')} compared with Q2 2026" in text[3]
    same_month = numbers.percent(truth["delay"]["d0"] / total, "en")
    assert text[4] == f"{same_month} of cases were reported in the month of the incident."
    # The old canned "many come months later" was false here: nobody did.
    assert truth["delay"]["d3_5"] + truth["delay"]["d6"] == 0
    assert text[5] == "No case was reported three months or more after the incident."
    assert not any("months later" in f for f in text)


def test_a_ranking_suppression_could_overturn_is_not_claimed(chinese: Briefing) -> None:
    """Suppress the leading family (as a complementary cell could be): the
    released tables no longer prove which family leads, so no finding says
    the runner-up does, and the hidden count is printed nowhere."""
    table = chinese.tables[0]
    lead = table.key("distance", None)
    status = dict(chinese.protection.status)
    status[lead] = Status.COMPLEMENTARY
    b = dataclasses.replace(
        chinese,
        protection=Protection(
            k=chinese.k, p=chinese.protection.p, status=status, intervals=dict(chinese.protection.intervals)
        ),
    )
    assert leaders(b, {r: table.key(r, None) for r in table.rows}) is None
    text = " ".join(findings(b, "en"))
    assert "most frequent family" not in text
    assert str(chinese.values[lead]) not in text


def test_a_filtered_note_says_what_it_counts(chinese: Briefing) -> None:
    b = dataclasses.replace(chinese, filters=Filters.parse("CA-ON", "uyghur"))
    assert scope(b, "en") == "in Canada (province: Ontario; community: Uyghur)"
    assert "in Canada (province: Ontario" in render.report_context(b, "en", issue=ISSUE)["summary"]
    assert scope(chinese, "fr") == "au Canada"


def test_table_notes_say_which_direction_adds_up_to_more(chinese: Briefing) -> None:
    by_table = {t.spec.id: t for t in chinese.tables}
    t = by_table["community-by-tactic-family"]
    assert t.multi_cols
    notes = render.table_view(chinese, t, "en").notes
    assert "A case can fall in several columns, so columns add up to more than the total." in notes
    assert (
        "A case can fall in several rows, so rows add up to more than the total." in notes
    ) == t.multi_rows


def test_methods_note_says_what_was_counted_and_the_ledger(chinese: Briefing) -> None:
    method = render.report_context(chinese, "en", issue=ISSUE)["method"]
    assert "What is counted: cases" in method and "k = 5" in method
    assert "not compared with the release ledger" in method
    audited = dataclasses.replace(chinese, ledger_releases=3)
    method = render.report_context(audited, "en", issue=ISSUE)["method"]
    assert "every earlier briefing in the coalition's release ledger (3)" in method


def test_wrap_breaks_chinese_without_spaces() -> None:
    lines = wrap("我的家人在新疆，他们被警察问话。我们很害怕。", 10)
    assert all(sum(2 for _ in line) <= 10 for line in lines)
    assert "".join(lines) == "我的家人在新疆，他们被警察问话。我们很害怕。"
    assert not any(line.startswith(("，", "。")) for line in lines)


def test_other_community_and_other_tactics_print_apart(records: list[CodedRecord]) -> None:
    """The community-by-family table has an "other" row (a community) and
    an "other" column (a family): the CSV and both reports label each as
    what it is."""
    coded = [
        dataclasses.replace(
            r,
            communities=("other",) if i % 3 == 0 else r.communities,
            tactics=("T99",) if i % 4 == 0 else r.tactics,
        )
        for i, r in enumerate(records)
    ]
    b = build(coded, PERIOD, k=5)
    table = next(t for t in b.tables if t.spec.id == "community-by-tactic-family")
    assert "other" in table.rows and "other" in table.cols
    rows = list(csv.reader(io.StringIO(outputs.table_csv(b, table).decode("utf-8"))))
    (other,) = [row for row in rows if row[1] == "other"]
    assert other[2:4] == ["Other community", "Autre communauté"]
    for lang, community, family in (("en", "Other community", "Other tactics"),
                                    ("fr", "Autre communauté", "Autres tactiques")):  # fmt: skip
        view = render.table_view(b, table, lang)
        assert family in view.header and community in [row[0] for row in view.rows]
        html = outputs.report_html(b, lang)
        assert community in html and family in html
