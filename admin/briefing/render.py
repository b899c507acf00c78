"""Outputs of a briefing: CSV per table, the disclosure log, English and
French reports in HTML and PDF (matplotlib, PdfPages) with greyscale charts.

Everything printed comes from :class:`~admin.briefing.build.Briefing`
(protected numbers only): a suppressed cell is ``x`` in CSV and tables and
missing from charts. CSV is byte-identical for the same inputs.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display; set before pyplot is imported

from jinja2 import Environment, FileSystemLoader, select_autoescape  # noqa: E402
from matplotlib.backends.backend_pdf import PdfPages  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402
from matplotlib.ticker import FuncFormatter, MaxNLocator  # noqa: E402

from intake.db import ROOT  # noqa: E402

from . import codes, fonts, pages  # noqa: E402
from .build import UNIT, Briefing, Table  # noqa: E402
from .findings import findings, linked_cells, scope  # noqa: E402
from .numbers import number, percent  # noqa: E402, F401 (percent: kept importable from here)
from .sdc import GRAND_TOTAL, Status  # noqa: E402

LANGS = ("en", "fr")
SUPPRESSED = "x"
#: On every page and in every CSV of a draft (never recorded as a release).
DRAFT_MARK = "DRAFT — NOT FOR RELEASE"
#: The French reports carry it in both languages.
DRAFT_MARK_FR = "DRAFT — NOT FOR RELEASE · ÉBAUCHE — NE PAS DIFFUSER"

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "title": "Transnational repression reported to the coalition",
        "subtitle": "Briefing note · {period}",
        "classification": "Anonymized statistics · minimum cell {k}",
        "summary_h": "Summary",
        "summary": (
            "From {start} to {end}, coalition organizations coded {total} cases of suspected "
            "transnational repression {scope} whose reporters agreed to anonymized statistics. "
            "A case is one incident: several reports about it count once. All figures count cases."
        ),
        "people": "Follow-ups tie these cases to at least {people} distinct people.",
        "findings_h": "Key findings",
        "tables_h": "Tables",
        "t_family_quarter": "Cases by tactic family and quarter of the incident",
        "t_tactic": "Cases by tactic",
        "t_community_family": "Cases by community and tactic family",
        "t_province_quarter": "Cases by province and quarter of the incident",
        "t_attribution_quarter": "Cases by attribution and quarter of the incident",
        "t_delay_quarter": "Incident date and report date: delay by quarter of the incident",
        "unit": "Unit: cases.",
        "multi_rows": "A case can fall in several rows, so rows add up to more than the total.",
        "multi_cols": "A case can fall in several columns, so columns add up to more than the total.",
        "total": "Total",
        "chart_quarter": "Cases by quarter of the incident",
        "chart_family": "Cases by tactic family",
        "method_h": "Method and suppression",
        "method": (
            "What is counted: cases (one incident counts once, however many reports it has), by the "
            "month of the incident, from reviewers' coding of reports whose authors consented to "
            "statistics; never from report text; spam and duplicates excluded. Dates are grouped "
            "into quarters, places into provinces ({pooled_prov}), tactics into the four families "
            "of Freedom House in cross-tables, and communities with fewer than {k} cases are pooled. "
            "Minimum cell k = {k}: counts from 1 to {km1} are suppressed (x), with complementary "
            "suppression so that no suppressed cell can be recovered from the totals of any table "
            "of this note; an intruder audit (integer programming) confirmed that each suppressed "
            "cell stays within a range of at least {p_plus} values. Zeros are shown. {ledger} "
            "Method: Hundepool et al., Statistical Disclosure Control (Wiley, 2012)."
        ),
        "ledger": (
            "Overlapping releases: before issue, every number was compared with every earlier "
            "briefing in the coalition's release ledger ({releases}), so that no difference between "
            "two briefings gives a count from 1 to {km1}; cells suppressed for that reason: {linked}."
        ),
        "no_ledger": "This note was not compared with the release ledger of earlier briefings.",
        "caveat_h": "Under-reporting",
        "caveat": (
            "These are cases reported to coalition organizations, not the extent of transnational "
            "repression in Canada. Many targets do not report out of fear for family abroad, "
            "distrust, or not knowing where to turn. Changes between quarters may reflect outreach "
            "as much as activity."
        ),
        "vignettes_h": "Accounts released with consent",
        "no_vignettes": "No account has been released for this note.",
        "quarter": "Q{q} {y}",
        "none_pooled": "none pooled",
    },
    "fr": {
        "title": "Répression transnationale signalée à la coalition",
        "subtitle": "Note d'information · {period}",
        "classification": "Statistiques anonymisées · cellule minimale {k}",
        "summary_h": "Résumé",
        "summary": (
            "De {start} à {end}, les organisations de la coalition ont codé {total} cas présumés de "
            "répression transnationale {scope} dont les auteurs ont consenti aux statistiques "
            "anonymisées. Un cas est un incident : plusieurs signalements à son sujet comptent une "
            "fois. Tous les chiffres comptent des cas."
        ),
        "people": "Les suivis rattachent ces cas à au moins {people} personnes distinctes.",
        "findings_h": "Principales constatations",
        "tables_h": "Tableaux",
        "t_family_quarter": "Cas par famille de tactiques et trimestre de l'incident",
        "t_tactic": "Cas par tactique",
        "t_community_family": "Cas par communauté et famille de tactiques",
        "t_province_quarter": "Cas par province et trimestre de l'incident",
        "t_attribution_quarter": "Cas par attribution et trimestre de l'incident",
        "t_delay_quarter": "Date de l'incident et date du signalement : délai par trimestre de l'incident",
        "unit": "Unité : cas.",
        "multi_rows": "Un cas peut figurer dans plusieurs lignes : la somme des lignes dépasse le total.",
        "multi_cols": "Un cas peut figurer dans plusieurs colonnes : la somme des colonnes dépasse le total.",
        "total": "Total",
        "chart_quarter": "Cas par trimestre de l'incident",
        "chart_family": "Cas par famille de tactiques",
        "method_h": "Méthode et suppression",
        "method": (
            "Ce qui est compté : des cas (un incident compte une fois, quel que soit le nombre de "
            "signalements), selon le mois de l'incident, à partir du codage par les réviseurs des "
            "signalements dont les auteurs ont consenti aux statistiques; jamais à partir du texte "
            "des signalements; pourriels et doublons exclus. Les dates sont regroupées par "
            "trimestre, les lieux par province ({pooled_prov}), les tactiques selon les quatre "
            "familles de Freedom House dans les tableaux croisés, et les communautés de moins de "
            "{k} cas sont regroupées. Cellule minimale k = {k} : les nombres de 1 à {km1} sont "
            "supprimés (x), avec suppression complémentaire pour qu'aucune cellule supprimée ne "
            "puisse être déduite des totaux d'un tableau de cette note; un audit d'intrusion "
            "(programmation en nombres entiers) a confirmé que chaque cellule supprimée reste dans "
            "un intervalle d'au moins {p_plus} valeurs. Les zéros sont affichés. {ledger} "
            "Méthode : Hundepool et al., Statistical Disclosure Control (Wiley, 2012)."
        ),
        "ledger": (
            "Diffusions qui se recoupent : avant publication, chaque nombre a été comparé à chaque "
            "note antérieure du registre des diffusions de la coalition ({releases}), pour "
            "qu'aucune différence entre deux notes ne donne un nombre de 1 à {km1}; cellules "
            "supprimées pour cette raison : {linked}."
        ),
        "no_ledger": "Cette note n'a pas été comparée au registre des diffusions des notes antérieures.",
        "caveat_h": "Sous-déclaration",
        "caveat": (
            "Il s'agit des cas signalés aux organisations de la coalition, et non de l'ampleur de la "
            "répression transnationale au Canada. Beaucoup de personnes visées ne signalent rien, par "
            "crainte pour leur famille à l'étranger, par méfiance ou faute de savoir à qui s'adresser. "
            "Les variations d'un trimestre à l'autre peuvent refléter la sensibilisation autant que "
            "l'activité."
        ),
        "vignettes_h": "Témoignages diffusés avec consentement",
        "no_vignettes": "Aucun témoignage n'a été diffusé pour cette note.",
        "quarter": "T{q} {y}",
        "none_pooled": "aucune regroupée",
    },
}

MONTHS = {
    "en": ["January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December"],
    "fr": ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
           "octobre", "novembre", "décembre"],
}  # fmt: skip


def quarter_label(code: str, lang: str) -> str:
    """``2026Q1`` -> ``Q1 2026`` / ``T1 2026``."""
    return TEXT[lang]["quarter"].format(q=code[5], y=code[:4])


def month_label(month: str, lang: str) -> str:
    return f"{MONTHS[lang][int(month[5:]) - 1]} {month[:4]}"


def axis_label(dim: str | None, code: str, lang: str) -> str:
    return quarter_label(code, lang) if dim == "quarter" else codes.label(code, lang)


# -- views of the protected tables ---------------------------------------------


@dataclass
class TableView:
    """A table ready to print in one language."""

    id: str
    title: str
    header: list[str]
    rows: list[list[str]]
    notes: list[str]


def cell_text(b: Briefing, kk: Any, lang: str | None) -> str:
    value = b.published(kk)
    if value is None:
        return SUPPRESSED
    return str(value) if lang is None else number(value, lang)


def table_view(b: Briefing, t: Table, lang: str) -> TableView:
    tx = TEXT[lang]
    cols = list(t.cols)
    header = [""] + [axis_label(t.spec.col_dim, c, lang) for c in cols] + [tx["total"]]
    rows = []
    for r in t.rows:
        rows.append(
            [axis_label(t.spec.row_dim, r, lang)]
            + [cell_text(b, t.key(r, c), lang) for c in cols]
            + [cell_text(b, t.key(r, None), lang)]
        )
    rows.append(
        [tx["total"]] + [cell_text(b, t.key(None, c), lang) for c in cols] + [cell_text(b, GRAND_TOTAL, lang)]
    )
    notes = [tx["unit"]]
    if t.multi_rows:
        notes.append(tx["multi_rows"])
    if t.multi_cols:
        notes.append(tx["multi_cols"])
    return TableView(t.spec.id, tx[t.spec.title_key], header, rows, notes)


def report_context(
    b: Briefing, lang: str, charts: dict[str, str] | None = None, issue: pages.Issue | None = None
) -> dict[str, Any]:
    """What the HTML template and the PDF print, in one language; ``issue``
    (the marking, date, issuing organizations, contact) defaults to the
    running app's settings and today."""
    tx = TEXT[lang]
    issue = issue or pages.Issue.current()
    period = f"{month_label(b.period.start, lang)} – {month_label(b.period.end, lang)}"
    pooled = ", ".join(codes.label(c, lang) for c in b.pooled_provinces) or tx["none_pooled"]
    return {
        "lang": lang,
        "tx": tx,
        "title": tx["title"],
        "subtitle": tx["subtitle"].format(period=period),
        "classification": tx["classification"].format(k=b.k),
        "summary": tx["summary"].format(
            start=month_label(b.period.start, lang),
            end=month_label(b.period.end, lang),
            total=number(b.total, lang),
            scope=scope(b, lang),
        )
        + (" " + tx["people"].format(people=number(b.people, lang)) if b.people else ""),
        "findings": findings(b, lang),
        "tables": [table_view(b, t, lang) for t in b.tables],
        "method": tx["method"].format(
            pooled_prov=pooled, k=b.k, km1=b.k - 1, p_plus=b.protection.p + 1, ledger=_ledger_note(b, lang)
        ),
        "caveat": tx["caveat"],
        "vignettes": [v for v in (getattr(v, lang) for v in b.vignettes) if v],
        "charts": charts or {},
        "draft": (DRAFT_MARK_FR if lang == "fr" else DRAFT_MARK) if b.draft else None,
        "marking": issue.classification[lang],
        "issue": issue.lines(lang),
    }


def _ledger_note(b: Briefing, lang: str) -> str:
    tx = TEXT[lang]
    if b.ledger_releases is None:
        return tx["no_ledger"]
    return tx["ledger"].format(
        releases=number(b.ledger_releases, lang),
        km1=number(b.k - 1, lang),
        linked=number(linked_cells(b), lang),
    )


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


# -- charts and PDF ----------------------------------------------------------------

GREYS = ("0.25", "0.55", "0.8")
HATCHES = ("", "//", "..")


ChartData = tuple[list[str], list[int | None], str, bool]


def _draw_bars(ax: Any, data: ChartData, lang: str = "en") -> None:
    labels, values, title, horizontal = data
    shown = [v or 0 for v in values]
    positions = list(range(len(labels)))
    bars = (ax.barh if horizontal else ax.bar)(
        positions, shown, color=GREYS[1], edgecolor="black", hatch=HATCHES[1], linewidth=0.6
    )
    for pos, v, bar in zip(positions, values, bars, strict=True):
        text = SUPPRESSED if v is None else number(v, lang)
        if horizontal:
            ax.text(bar.get_width(), pos, f" {text}", va="center", fontsize=8)
        else:
            ax.text(pos, bar.get_height(), text, ha="center", va="bottom", fontsize=8)
    if horizontal:
        ax.set_yticks(positions, labels, fontsize=8)
        ax.invert_yaxis()
    else:
        ax.set_xticks(positions, labels, fontsize=8)
    ax.set_title(title, fontsize=10, loc="left")
    ax.spines[["top", "right"]].set_visible(False)
    # The count axis in the note's typography (1 250, not 1250), whole numbers only.
    counts = ax.xaxis if horizontal else ax.yaxis
    counts.set_major_locator(MaxNLocator(integer=True))
    counts.set_major_formatter(FuncFormatter(lambda x, _pos: number(round(x), lang)))


def chart_data(b: Briefing, lang: str) -> dict[str, ChartData]:
    """Greyscale bar charts from published numbers (suppressed: no bar, ``x``)."""
    tx = TEXT[lang]
    fam_table = b.tables[0]
    quarters = fam_table.cols
    return {
        "quarter": (
            [quarter_label(q, lang) for q in quarters],
            [b.published(fam_table.key(None, q)) for q in quarters],
            tx["chart_quarter"],
            False,
        ),
        "family": (
            [codes.label(f, lang) for f in fam_table.rows],
            [b.published(fam_table.key(f, None)) for f in fam_table.rows],
            tx["chart_family"],
            True,
        ),
    }


def chart_svgs(b: Briefing, lang: str) -> dict[str, str]:
    """The charts as inline SVG text (for the HTML report)."""
    out = {}
    with fonts.drawing("a chart"):
        for name, data in chart_data(b, lang).items():
            fig = Figure(figsize=(7.0, 2.8))
            _draw_bars(fig.add_subplot(), data, lang)
            fig.tight_layout()
            buf = io.StringIO()
            fig.savefig(buf, format="svg", metadata={"Date": None})
            svg = buf.getvalue()
            out[name] = svg[svg.index("<svg") :]
    return out


#: The charts by name, as the console serves them (``chart_png``).
CHARTS = ("quarter", "family")


def chart_png(b: Briefing, lang: str, name: str) -> bytes:
    """One chart as PNG, for the console's preview: a same-origin image
    keeps its CSP without inline styles or ``data:`` URLs.

    Raises:
        KeyError: ``name`` is not in :data:`CHARTS`.
    """
    data = chart_data(b, lang)[name]
    with fonts.drawing("a chart"):
        fig = Figure(figsize=(7.0, 2.8))
        _draw_bars(fig.add_subplot(), data, lang)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=200, metadata={"Software": None})  # 2x the <img> size
    return buf.getvalue()


PAGE = (8.5, 11.0)  # US Letter, as Government of Canada notes print
MARGIN = 0.08
LINE = 0.018


class _Pages:
    """A minimal flow layout of text blocks and tables on PDF pages."""

    def __init__(
        self, pdf: PdfPages, mark: str | None = None, issue: pages.Issue | None = None, lang: str = "en"
    ) -> None:
        self.pdf = pdf
        self.fig: Figure | None = None
        self.y = 0.0
        self.mark = mark
        self.issue = issue or pages.Issue.current()
        self.lang = lang
        # Kept until the end: "page X of Y" needs Y.
        self.figs: list[Figure] = []

    def _new(self) -> Figure:
        self.fig = Figure(figsize=PAGE)
        self.figs.append(self.fig)
        self.y = 1 - MARGIN
        return self.fig

    def _room(self, height: float) -> Figure:
        if self.fig is None or self.y - height < MARGIN:
            return self._new()
        return self.fig

    def text(self, text: str, *, size: float = 10, weight: str = "normal", width: int = 95) -> None:
        lines = pages.wrap(text, width)  # Chinese has no spaces to break at
        h = LINE * size / 10
        for line in lines:
            fig = self._room(h)
            # parse_math=False: a "$" in a vignette is a dollar, not TeX.
            fig.text(MARGIN, self.y, line, fontsize=size, weight=weight, va="top", parse_math=False)
            self.y -= h
        self.y -= h * 0.4

    def table(self, view: TableView) -> None:
        # Drawn as text and rules rather than Axes.table, which measures every
        # cell and is ten times slower; widths come from character counts.
        import textwrap

        size = 7.0 if len(view.header) > 6 else 8.0
        # Column headers wrap onto lines of at most 14 characters.
        header = [view.header[0]] + ["\n".join(textwrap.wrap(h, 14)) or h for h in view.header[1:]]
        head_lines = max(h.count("\n") + 1 for h in header)
        chars = [
            max([len(line) for line in header[c].split("\n")] + [len(str(row[c])) for row in view.rows])
            for c in range(len(header))
        ]
        avail = 1 - 2 * MARGIN
        unit = size / 72 / PAGE[0] * 0.62  # one character, as a share of the page width
        scale = min(1.0, avail / sum((w + 2) * unit for w in chars))
        size, unit = size * scale, unit * scale
        widths = [(w + 2) * unit for w in chars]
        row_h = 0.0155 * max(scale, 0.8)
        head_h = row_h * (1 + 0.75 * (head_lines - 1))
        n = len(view.rows) + 1
        height = head_h + row_h * len(view.rows)
        self._room(height + 4 * LINE)  # keep the title with its table
        self.text(view.title, size=10, weight="bold")
        fig = self._room(height + LINE)
        x0 = MARGIN
        top = self.y
        total_w = sum(widths)
        for r, row in enumerate([header, *view.rows]):
            h = head_h if r == 0 else row_h
            y = top if r == 0 else top - head_h - (r - 1) * row_h
            if r in (0, n - 1):
                fig.patches.append(
                    Rectangle((x0, y - h), total_w, h, color="0.9", transform=fig.transFigure, figure=fig)
                )
            x = x0
            for c, value in enumerate(row):
                left = c == 0
                fig.text(
                    x + (unit if left else widths[c] - unit),
                    y - h / 2,
                    str(value),
                    fontsize=size,
                    ha="left" if left else "right",
                    va="center",
                    multialignment="right",
                    weight="bold" if r == 0 else "normal",
                    parse_math=False,
                )
                x += widths[c]
        bottom = top - height
        for yy in (top, top - head_h, bottom + row_h, bottom):
            fig.add_artist(Line2D([x0, x0 + total_w], [yy, yy], linewidth=0.5, color="black"))
        self.y -= height + LINE * 0.5
        for note in view.notes:
            self.text(note, size=7.5)

    def chart(self, data: ChartData) -> None:
        h = 2.4 / PAGE[1]
        fig = self._room(h + 2 * LINE)
        left = MARGIN + (0.22 if data[3] else 0.02)  # room for the bar labels
        ax = fig.add_axes((left, self.y - h, 1 - MARGIN - left, h - LINE))
        _draw_bars(ax, data, self.lang)
        self.y -= h + 2 * LINE

    def close(self) -> None:
        """Stamp every page (marking, date, page X of Y, a draft's mark) and
        write them."""
        for number_, fig in enumerate(self.figs, start=1):
            pages.stamp(fig, number_, len(self.figs), self.issue, self.lang, self.mark)
            self.pdf.savefig(fig)  # type: ignore[no-untyped-call]


def printed_texts(
    ctx: dict[str, Any], charts: dict[str, ChartData], issue: pages.Issue
) -> list[tuple[str, str]]:
    """Every string a report prints, with the part of the note it is in
    (for :func:`admin.briefing.fonts.check`)."""
    lang = ctx["lang"]
    settings = "the page marking, date or issuing organizations (BRIEFING_* settings)"
    out = [(settings, t) for t in issue.texts(lang)]
    out += [("the title", ctx[name]) for name in ("classification", "title", "subtitle")]
    out += [("the headings", t) for t in ctx["tx"].values()]
    out += [("the summary", ctx["summary"]), ("the methods note", ctx["method"])]
    out += [("the key findings", f) for f in ctx["findings"]]
    for view in ctx["tables"]:
        out += [("a table", str(cell)) for row in [[view.title], view.header, *view.rows] for cell in row]
    out += [("a chart", t) for labels, _values, title, _h in charts.values() for t in [*labels, title]]
    out += [("the accounts released with consent", v) for v in ctx["vignettes"]]
    if ctx["draft"]:
        out.append(("the draft marking", ctx["draft"]))
    return out


def check_printable(b: Briefing, issue: pages.Issue | None = None) -> None:
    """Refuse a briefing whose English or French PDF would print an empty
    box: run before anything is written or recorded.

    Raises:
        fonts.MissingGlyphError: naming the character and where it is.
    """
    issue = issue or pages.Issue.current()
    for lang in LANGS:
        fonts.check(printed_texts(report_context(b, lang, issue=issue), chart_data(b, lang), issue))


def report_pdf(b: Briefing, lang: str, issue: pages.Issue | None = None) -> bytes:
    """The report as PDF, in Government of Canada briefing-note form: on
    every page the classification marking (head and foot), the date of
    issue and "page X of Y"; the issuing organizations and contact under
    the title. Fonts: :mod:`admin.briefing.fonts` (embedded subsets).

    Raises:
        fonts.MissingGlyphError: a character no font has (nothing printed
            as an empty box).
    """
    issue = issue or pages.Issue.current()
    ctx = report_context(b, lang, issue=issue)
    tx = TEXT[lang]
    figs = chart_data(b, lang)
    fonts.check(printed_texts(ctx, figs, issue))
    buf = io.BytesIO()
    with (
        fonts.drawing(f"the {lang} report"),
        PdfPages(buf, metadata={"Title": ctx["title"], "CreationDate": None}) as pdf,
    ):
        flow = _Pages(pdf, ctx["draft"], issue, lang)
        flow.text(ctx["classification"], size=8)
        flow.text(ctx["title"], size=16, weight="bold", width=60)
        flow.text(ctx["subtitle"], size=11)
        for line in ctx["issue"]:
            flow.text(line, size=9)
        flow.text(tx["summary_h"], size=12, weight="bold")
        flow.text(ctx["summary"])
        flow.text(tx["findings_h"], size=12, weight="bold")
        for f in ctx["findings"]:
            flow.text("• " + f)
        flow.chart(figs["quarter"])
        flow.chart(figs["family"])
        flow.text(tx["tables_h"], size=12, weight="bold")
        for view in ctx["tables"]:
            flow.table(view)
        for head, body in (("method_h", ctx["method"]), ("caveat_h", ctx["caveat"])):
            flow.text(tx[head], size=12, weight="bold")
            flow.text(body)
        flow.text(tx["vignettes_h"], size=12, weight="bold")
        for v in ctx["vignettes"] or [tx["no_vignettes"]]:
            flow.text(v)
        flow.close()
    return buf.getvalue()


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
