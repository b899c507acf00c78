"""The files of a briefing: CSV per table and the disclosure log (both
byte-identical for the same inputs), the standalone HTML reports, and
:func:`write_outputs`, which writes them with the PDF reports of
:mod:`admin.briefing.render`.

Everything printed comes from :class:`~admin.briefing.build.Briefing`
(protected numbers only): a suppressed cell is ``x``.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from core.db import ROOT

from . import pages
from .build import UNIT, Briefing, Table
from .render import (
    DRAFT_MARK,
    LANGS,
    axis_label,
    cell_text,
    chart_svgs,
    check_printable,
    report_context,
    report_pdf,
)
from .sdc import Status

# -- CSV -------------------------------------------------------------------------


def _csv(rows: list[list[str]], draft: bool = False) -> bytes:
    """CSV bytes; a draft starts with a one-field row saying so."""
    if draft:
        rows = [[DRAFT_MARK], *rows]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerows(rows)
    return buf.getvalue().encode("utf-8")


def table_csv(b: Briefing, t: Table) -> bytes:
    """One table: codes and both labels per row, ``x`` where suppressed."""
    col_codes = [c for c in t.cols]
    header = ["unit", t.spec.row_dim, "label_en", "label_fr", *col_codes, "total"]
    rows = [header]
    for r in [*t.rows, None]:
        code = r if r is not None else "total"
        rows.append(
            [
                UNIT,
                code,
                axis_label(t.spec.row_dim, code, "en") if r is not None else "Total",
                axis_label(t.spec.row_dim, code, "fr") if r is not None else "Total",
                *[cell_text(b, t.key(r, c), None) for c in t.cols],
                cell_text(b, t.key(r, None), None),
            ]
        )
    return _csv(rows, b.draft)


def disclosure_log_csv(b: Briefing) -> bytes:
    """Every suppressed cell, in every table it appears in, and why. Never
    the suppressed value itself."""
    rows = [["table", "row", "column", "status", "reason", "intruder_low", "intruder_high"]]
    for t in b.tables:
        cells = [(r, c) for r in [*t.rows, None] for c in [*t.cols, None]]
        for r, c in cells:
            kk = t.key(r, c)
            status = b.protection.status[kk]
            if status is Status.PUBLISHED:
                continue
            iv = b.protection.intervals.get(kk)
            rows.append(
                [
                    t.spec.id,
                    r or "total",
                    c or "total",
                    status.value,
                    b.protection.reason.get(kk, ""),
                    str(iv.low) if iv else "",
                    str(iv.high) if iv else "",
                ]
            )
    return _csv(rows, b.draft)


# -- HTML ---------------------------------------------------------------------------

_env = Environment(
    loader=FileSystemLoader(str(ROOT / "templates" / "admin")),
    autoescape=select_autoescape(default=True, default_for_string=True),
)


def report_html(b: Briefing, lang: str, issue: pages.Issue | None = None) -> str:
    """The standalone HTML report (inline SVG charts; nothing from elsewhere)."""
    template = _env.get_template("briefing/report.html")
    return template.render(**report_context(b, lang, chart_svgs(b, lang), issue))


def write_outputs(
    b: Briefing, out_dir: Path, *, pdf: bool = True, html: bool = True, issue: pages.Issue | None = None
) -> list[Path]:
    """Write ``<table>.csv``, ``disclosure-log.csv``, ``briefing-{en,fr}.pdf``
    and ``briefing-{en,fr}.html`` into ``out_dir``; returns the paths.

    Raises:
        fonts.MissingGlyphError: before anything is written, when a PDF
            would print a character no font has.
    """
    issue = issue or pages.Issue.current()
    if pdf:
        check_printable(b, issue)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def put(name: str, data: bytes | str) -> None:
        path = out_dir / name
        path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
        written.append(path)

    for t in b.tables:
        put(f"{t.spec.id}.csv", table_csv(b, t))
    put("disclosure-log.csv", disclosure_log_csv(b))
    for lang in LANGS:
        if pdf:
            put(f"briefing-{lang}.pdf", report_pdf(b, lang, issue))
        if html:
            put(f"briefing-{lang}.html", report_html(b, lang, issue))
    return written
