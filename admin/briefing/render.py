"""A briefing in words and pictures: labels and numbers in English and
French, the tables and findings as printed, greyscale charts, and the PDF
reports (matplotlib, PdfPages). CSV, HTML and writing the files:
:mod:`admin.briefing.outputs`.

Everything printed comes from :class:`~admin.briefing.build.Briefing`
(protected numbers only): a suppressed cell is ``x`` in tables and
missing from charts.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display; set before pyplot is imported

from babel.numbers import format_decimal, format_percent  # noqa: E402
from matplotlib.backends.backend_pdf import PdfPages  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from . import codes  # noqa: E402
from .build import Briefing, Table  # noqa: E402
from .sdc import GRAND_TOTAL  # noqa: E402

LANGS = ("en", "fr")
SUPPRESSED = "x"
#: On every page and in every CSV of a draft (never recorded as a release).
DRAFT_MARK = "DRAFT — NOT FOR RELEASE"
#: The French reports carry it in both languages.
DRAFT_MARK_FR = "DRAFT — NOT FOR RELEASE · ÉBAUCHE — NE PAS DIFFUSER"
LOCALES = {"en": "en_CA", "fr": "fr_CA"}

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "title": "Transnational repression reported to the coalition",
        "subtitle": "Briefing note · {period}",
        "classification": "Anonymized statistics · minimum cell {k}",
        "summary_h": "Summary",
        "summary": (
            "From {start} to {end}, coalition organizations coded {total} cases of suspected "
            "transnational repression in Canada whose reporters agreed to anonymized statistics. "
            "A case is one incident: several reports about it count once. All figures count cases."
        ),
        "people": "Follow-ups tie these cases to at least {people} distinct people.",
        "findings_h": "Key findings",
        "f_family": "{label} was the most frequent family of tactics: {n} cases ({share} of all cases).",
        "f_tactic": "The most frequent tactic was {label}: {n} cases ({share}).",
        "f_quarter": "The quarter with the most incidents was {quarter}: {n} cases.",
        "f_delay": "{share} of cases were reported in the month of the incident; many come months later.",
        "tables_h": "Tables",
        "t_family_quarter": "Cases by tactic family and quarter of the incident",
        "t_tactic": "Cases by tactic",
        "t_community_family": "Cases by community and tactic family",
        "t_province_quarter": "Cases by province and quarter of the incident",
        "t_attribution_quarter": "Cases by attribution and quarter of the incident",
        "t_delay_quarter": "Incident date and report date: delay by quarter of the incident",
        "unit": "Unit: cases.",
        "multi_rows": "A case can fall in several rows, so rows add up to more than the total.",
        "total": "Total",
        "chart_quarter": "Cases by quarter of the incident",
        "chart_family": "Cases by tactic family",
        "method_h": "Method and suppression",
        "method": (
            "Built only from reviewers' coding of cases whose reporters consented to statistics; "
            "never from report text. Spam and duplicates are excluded. Dates are generalized to "
            "quarters, places to provinces ({pooled_prov}), tactics to the four families of Freedom "
            "House in cross-tables, and communities with fewer than {k} cases are pooled. Cells "
            "between 1 and {km1} cases are suppressed (x), with complementary suppression so that "
            "no suppressed cell can be recovered from totals in any table of this note; an intruder "
            "audit (integer programming) confirmed that every suppressed cell stays within a range "
            "of at least {p_plus} values. Zeros are shown. Method: Hundepool et al., Statistical "
            "Disclosure Control (Wiley, 2012)."
        ),
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
            "répression transnationale au Canada dont les auteurs ont consenti aux statistiques "
            "anonymisées. Un cas est un incident : plusieurs signalements à son sujet comptent une "
            "fois. Tous les chiffres comptent des cas."
        ),
        "people": "Les suivis rattachent ces cas à au moins {people} personnes distinctes.",
        "findings_h": "Principales constatations",
        "f_family": "{label} est la famille de tactiques la plus fréquente : {n} cas ({share} des cas).",
        "f_tactic": "La tactique la plus fréquente est « {label} » : {n} cas ({share}).",
        "f_quarter": "Le trimestre comptant le plus d'incidents est le {quarter} : {n} cas.",
        "f_delay": (
            "{share} des cas ont été signalés le mois de l'incident; beaucoup le sont des mois plus tard."
        ),
        "tables_h": "Tableaux",
        "t_family_quarter": "Cas par famille de tactiques et trimestre de l'incident",
        "t_tactic": "Cas par tactique",
        "t_community_family": "Cas par communauté et famille de tactiques",
        "t_province_quarter": "Cas par province et trimestre de l'incident",
        "t_attribution_quarter": "Cas par attribution et trimestre de l'incident",
        "t_delay_quarter": "Date de l'incident et date du signalement : délai par trimestre de l'incident",
        "unit": "Unité : cas.",
        "multi_rows": "Un cas peut figurer dans plusieurs lignes : la somme des lignes dépasse le total.",
        "total": "Total",
        "chart_quarter": "Cas par trimestre de l'incident",
        "chart_family": "Cas par famille de tactiques",
        "method_h": "Méthode et suppression",
        "method": (
            "Établie uniquement à partir du codage des cas par les réviseurs, lorsque les auteurs ont "
            "consenti aux statistiques; jamais à partir du texte des signalements. Les pourriels et "
            "doublons sont exclus. Les dates sont regroupées par trimestre, les lieux par province "
            "({pooled_prov}), les tactiques selon les quatre familles de Freedom House dans les "
            "tableaux croisés, et les communautés de moins de {k} cas sont regroupées. Les cellules "
            "de 1 à {km1} cas sont supprimées (x), avec suppression complémentaire pour qu'aucune "
            "cellule supprimée ne puisse être déduite des totaux d'un tableau de cette note; un audit "
            "d'intrusion (programmation en nombres entiers) a confirmé que chaque cellule supprimée "
            "reste dans un intervalle d'au moins {p_plus} valeurs. Les zéros sont affichés. Méthode : "
            "Hundepool et al., Statistical Disclosure Control (Wiley, 2012)."
        ),
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


def number(n: int, lang: str) -> str:
    """``1,234`` / ``1 234`` (Babel, en_CA / fr_CA)."""
    return str(format_decimal(n, locale=LOCALES[lang]))


def percent(share: float, lang: str) -> str:
    """``12%`` / ``12 %`` (Babel)."""
    return str(format_percent(share, locale=LOCALES[lang]))


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
    if t.multi_rows or t.multi_cols:
        notes.append(tx["multi_rows"])
    return TableView(t.spec.id, tx[t.spec.title_key], header, rows, notes)


def findings(b: Briefing, lang: str) -> list[str]:
    """Key findings, from published cells only."""
    tx = TEXT[lang]
    total = b.total
    out = []

    def best(dim: str, values: list[str]) -> tuple[str, int] | None:
        published = [(v, b.published(((dim, v),))) for v in values]
        known = [(v, n) for v, n in published if n]
        return max(known, key=lambda vn: (vn[1], vn[0])) if known else None

    by_table = {t.spec.row_dim: t for t in b.tables}
    fam = best("family", by_table["family"].rows)
    if fam:
        out.append(
            tx["f_family"].format(
                label=codes.label(fam[0], lang), n=number(fam[1], lang), share=percent(fam[1] / total, lang)
            )
        )
    tac = best("tactic", by_table["tactic"].rows)
    if tac:
        out.append(
            tx["f_tactic"].format(
                label=codes.label(tac[0], lang), n=number(tac[1], lang), share=percent(tac[1] / total, lang)
            )
        )
    q = best("quarter", by_table["family"].cols)
    if q:
        out.append(tx["f_quarter"].format(quarter=quarter_label(q[0], lang), n=number(q[1], lang)))
    same = b.published((("delay", "d0"),))
    if same is not None:
        share = percent(same / total, lang)
        out.append(tx["f_delay"].format(share=share[0].upper() + share[1:]))
    return out


def report_context(b: Briefing, lang: str, charts: dict[str, str] | None = None) -> dict[str, Any]:
    """What the HTML template and the PDF print, in one language."""
    tx = TEXT[lang]
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
        )
        + (" " + tx["people"].format(people=number(b.people, lang)) if b.people else ""),
        "findings": findings(b, lang),
        "tables": [table_view(b, t, lang) for t in b.tables],
        "method": tx["method"].format(pooled_prov=pooled, k=b.k, km1=b.k - 1, p_plus=b.protection.p + 1),
        "caveat": tx["caveat"],
        "vignettes": [v for v in (getattr(v, lang) for v in b.vignettes) if v],
        "charts": charts or {},
        "draft": (DRAFT_MARK_FR if lang == "fr" else DRAFT_MARK) if b.draft else None,
    }


# -- charts and PDF ----------------------------------------------------------------

GREYS = ("0.25", "0.55", "0.8")
HATCHES = ("", "//", "..")


ChartData = tuple[list[str], list[int | None], str, bool]


def _draw_bars(ax: Any, data: ChartData) -> None:
    labels, values, title, horizontal = data
    shown = [v or 0 for v in values]
    positions = list(range(len(labels)))
    bars = (ax.barh if horizontal else ax.bar)(
        positions, shown, color=GREYS[1], edgecolor="black", hatch=HATCHES[1], linewidth=0.6
    )
    for pos, v, bar in zip(positions, values, bars, strict=True):
        text = SUPPRESSED if v is None else str(v)
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
    for name, data in chart_data(b, lang).items():
        fig = Figure(figsize=(7.0, 2.8))
        _draw_bars(fig.add_subplot(), data)
        fig.tight_layout()
        buf = io.StringIO()
        fig.savefig(buf, format="svg", metadata={"Date": None})
        svg = buf.getvalue()
        out[name] = svg[svg.index("<svg") :]
    return out


PAGE = (8.5, 11.0)  # US Letter, as Government of Canada notes print
MARGIN = 0.08
LINE = 0.018


class _Pages:
    """A minimal flow layout of text blocks and tables on PDF pages."""

    def __init__(self, pdf: PdfPages, mark: str | None = None) -> None:
        self.pdf = pdf
        self.fig: Figure | None = None
        self.y = 0.0
        self.mark = mark

    def _new(self) -> Figure:
        if self.fig is not None:
            self.pdf.savefig(self.fig)  # type: ignore[no-untyped-call]
        self.fig = Figure(figsize=PAGE)
        self.y = 1 - MARGIN
        if self.mark:  # a draft: at the top and foot of every page
            for y, va in ((1 - MARGIN / 3, "top"), (MARGIN / 3, "bottom")):
                self.fig.text(0.5, y, self.mark, ha="center", va=va, fontsize=11, weight="bold")
        return self.fig

    def _room(self, height: float) -> Figure:
        if self.fig is None or self.y - height < MARGIN:
            return self._new()
        return self.fig

    def text(self, text: str, *, size: float = 10, weight: str = "normal", width: int = 95) -> None:
        import textwrap

        lines = textwrap.wrap(text, width=width) or [""]
        h = LINE * size / 10
        for line in lines:
            fig = self._room(h)
            fig.text(MARGIN, self.y, line, fontsize=size, weight=weight, va="top")
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
        _draw_bars(ax, data)
        self.y -= h + 2 * LINE

    def close(self) -> None:
        if self.fig is not None:
            self.pdf.savefig(self.fig)  # type: ignore[no-untyped-call]


def report_pdf(b: Briefing, lang: str) -> bytes:
    """The report as PDF (matplotlib PdfPages; DejaVu Sans has the French
    glyphs and the narrow no-break space)."""
    ctx = report_context(b, lang)
    tx = TEXT[lang]
    figs = chart_data(b, lang)
    buf = io.BytesIO()
    with PdfPages(buf, metadata={"Title": ctx["title"], "CreationDate": None}) as pdf:
        pages = _Pages(pdf, ctx["draft"])
        pages.text(ctx["classification"], size=8)
        pages.text(ctx["title"], size=16, weight="bold", width=60)
        pages.text(ctx["subtitle"], size=11)
        pages.text(tx["summary_h"], size=12, weight="bold")
        pages.text(ctx["summary"])
        pages.text(tx["findings_h"], size=12, weight="bold")
        for f in ctx["findings"]:
            pages.text("• " + f)
        pages.chart(figs["quarter"])
        pages.chart(figs["family"])
        pages.text(tx["tables_h"], size=12, weight="bold")
        for view in ctx["tables"]:
            pages.table(view)
        for head, body in (("method_h", ctx["method"]), ("caveat_h", ctx["caveat"])):
            pages.text(tx[head], size=12, weight="bold")
            pages.text(body)
        pages.text(tx["vignettes_h"], size=12, weight="bold")
        for v in ctx["vignettes"] or [tx["no_vignettes"]]:
            pages.text(v)
        pages.close()
    return buf.getvalue()
