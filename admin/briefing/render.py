"""Outputs of a briefing: CSV per table, the disclosure log, English and
French reports in HTML and PDF (matplotlib, PdfPages) with greyscale charts.

Everything printed comes from :class:`~admin.briefing.build.Briefing`
(protected numbers only): a suppressed cell is ``x`` in CSV and tables and
missing from charts. CSV is byte-identical for the same inputs.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display; set before pyplot is imported

from matplotlib.backends.backend_pdf import PdfPages  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402
from matplotlib.ticker import FuncFormatter, MaxNLocator  # noqa: E402

from . import codes, fonts, pages  # noqa: E402
from .build import Briefing, Table  # noqa: E402
from .findings import findings, linked_cells, scope  # noqa: E402
from .numbers import number, percent  # noqa: E402, F401 (percent: kept importable from here)
from .sdc import GRAND_TOTAL  # noqa: E402
from .texts import DRAFT_MARK as DRAFT_MARK  # noqa: E402 (re-exported)
from .texts import DRAFT_MARK_FR as DRAFT_MARK_FR
from .texts import LANGS as LANGS
from .texts import MONTHS as MONTHS
from .texts import SUPPRESSED as SUPPRESSED
from .texts import TEXT as TEXT


def quarter_label(code: str, lang: str) -> str:
    """``2026Q1`` -> ``Q1 2026`` / ``T1 2026``."""
    return TEXT[lang]["quarter"].format(q=code[5], y=code[:4])


def month_label(month: str, lang: str) -> str:
    return f"{MONTHS[lang][int(month[5:]) - 1]} {month[:4]}"


def axis_label(dim: str | None, code: str, lang: str) -> str:
    """The label of ``code`` on a table axis of dimension ``dim``."""
    if dim is None:
        raise ValueError("a table without columns has no column labels")
    return quarter_label(code, lang) if dim == "quarter" else codes.label(dim, code, lang)


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
    pooled = ", ".join(codes.label("province", c, lang) for c in b.pooled_provinces) or tx["none_pooled"]
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
            [codes.label("family", f, lang) for f in fam_table.rows],
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
