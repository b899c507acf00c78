"""A briefing of shared/cases/coded_cases.csv: thresholds, the audit,
consent, consistent totals, byte-identical CSV, PDFs in both languages."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pypdfium2 as pdfium
import pytest

from admin.briefing import outputs, render
from admin.briefing.build import Briefing, Period, build, select_records
from admin.briefing.records import CodedRecord, read_records
from admin.briefing.sdc import DisclosureError, Protection, Status, check

pytestmark = pytest.mark.db_independent

PERIOD = Period.parse("2025-01", "2026-10")


@pytest.fixture(scope="module")
def records(coded_cases_path: Path) -> list[CodedRecord]:
    return read_records(coded_cases_path)


@pytest.fixture(scope="module")
def briefing(records: list[CodedRecord]) -> Briefing:
    return build(records, PERIOD, k=5)


@pytest.mark.parametrize("k", [5, 10])
def test_no_published_cell_below_k_and_audit_passes(records: list[CodedRecord], k: int) -> None:
    b = build(records, PERIOD, k=k)
    low = [kk for kk, s in b.protection.status.items() if s is Status.PUBLISHED and 0 < b.values[kk] < k]
    assert low == []
    check(b.protection, b.values, b.relations)  # raises if any interval is too narrow
    assert b.protection.suppressed()


@pytest.mark.parametrize("k", [1, 2, 4])
def test_k_below_the_release_threshold_is_refused(records: list[CodedRecord], k: int) -> None:
    """TAXONOMY.md, "Release thresholds": no briefing with cells under 5."""
    with pytest.raises(DisclosureError, match="at least 5"):
        build(records, PERIOD, k=k)


def test_without_complementary_suppression_the_audit_refuses(briefing: Briefing) -> None:
    status = {
        kk: (Status.PUBLISHED if s is Status.COMPLEMENTARY else s)
        for kk, s in briefing.protection.status.items()
    }
    stripped = Protection(k=briefing.k, p=briefing.protection.p, status=status)
    with pytest.raises(DisclosureError):
        check(stripped, briefing.values, briefing.relations)


def test_counts_cases_with_consent_only(records: list[CodedRecord], briefing: Briefing) -> None:
    consenting = [r for r in records if r.consent_statistics]
    assert len(consenting) < len(records)
    assert briefing.total == len(consenting) == len(select_records(records, PERIOD))
    # Changing a non-consenting case changes nothing released.
    changed = [
        dataclasses.replace(r, province="CA-NU", tactics=("T02",)) if not r.consent_statistics else r
        for r in records
    ]
    other = build(changed, PERIOD, k=5)
    assert [outputs.table_csv(other, t) for t in other.tables] == [
        outputs.table_csv(briefing, t) for t in briefing.tables
    ]


def test_published_margins_equal_what_they_sum(briefing: Briefing) -> None:
    for rel in briefing.relations:
        if rel.kind == "eq":
            assert sum(briefing.values[c] for c in rel.children) == briefing.values[rel.parent]
    # The same margin has one status in every table that shows it.
    quarter_total = (("quarter", "2025Q1"),)
    shown = {
        briefing.protection.status[t.key(None, "2025Q1")]
        for t in briefing.tables
        if t.spec.col_dim == "quarter"
    }
    assert shown == {briefing.protection.status[quarter_total]}


def test_small_places_and_communities_are_pooled(briefing: Briefing) -> None:
    assert briefing.pooled_provinces == ["CA-MB+CA-SK"]
    assert "southern_mongolian" in briefing.pooled_communities
    csv_text = b"".join(outputs.table_csv(briefing, t) for t in briefing.tables).decode()
    assert "Saskatchewan" not in csv_text.replace("Manitoba + Saskatchewan", "")
    assert "southern_mongolian" not in csv_text


def test_csv_is_byte_identical_across_runs(records: list[CodedRecord], tmp_path: Path) -> None:
    outs = []
    for run in ("a", "b"):
        b = build(list(reversed(records)) if run == "b" else records, PERIOD, k=5)
        paths = outputs.write_outputs(b, tmp_path / run, pdf=False, html=False)
        outs.append({p.name: p.read_bytes() for p in paths})
    assert outs[0] == outs[1]
    assert "disclosure-log.csv" in outs[0]
    log = outs[0]["disclosure-log.csv"].decode()
    assert "primary: fewer than 5 cases" in log and "complementary" in log
    table = outs[0]["tactic-family-by-quarter.csv"].decode().splitlines()
    assert table[0].startswith("unit,family,label_en,label_fr,2025Q1")
    assert ",x," in "\n".join(table)


def _ink(pdf_bytes: bytes) -> tuple[int, float]:
    """Pages, and the share of dark pixels on page 1 rendered to an image."""
    doc = pdfium.PdfDocument(pdf_bytes)
    try:
        page = doc[0]
        image = page.render(scale=0.5).to_pil().convert("L")
        page.close()
        dark = sum(image.histogram()[:128])
        return len(doc), dark / (image.width * image.height)
    finally:
        doc.close()


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_pdf_page_one_renders_and_is_not_blank(briefing: Briefing, lang: str) -> None:
    data = render.report_pdf(briefing, lang)
    assert data.startswith(b"%PDF")
    pages, ink = _ink(data)
    assert pages >= 2
    assert ink > 0.01


def test_french_typography(briefing: Briefing) -> None:
    assert render.quarter_label("2026Q1", "fr") == "T1 2026"
    assert render.quarter_label("2026Q1", "en") == "Q1 2026"
    assert render.percent(0.12, "fr") == "12\u00a0%"
    assert render.number(1234, "fr") == "1\u00a0234"
    html = outputs.report_html(briefing, "fr")
    assert '<html lang="fr">' in html and "T1 2025" in html and "\u00a0%" in html
    assert "Sous-déclaration" in html


def test_vignettes_only_with_release_and_quote_consent(records: list[CodedRecord]) -> None:
    plain = build(records, PERIOD, k=5)
    assert plain.vignettes == []
    assert "No account has been released" in outputs.report_html(plain, "en")
    first, second, *rest = [r for r in records if r.consent_statistics]
    with_text = [
        dataclasses.replace(first, vignette_en="Released account one.", consent_quote=True),
        dataclasses.replace(second, vignette_en="Unconsented account two.", consent_quote=False),
        *rest,
    ]
    b = build(with_text, PERIOD, k=5)
    html = outputs.report_html(b, "en")
    assert "Released account one." in html
    assert "Unconsented account two." not in html
