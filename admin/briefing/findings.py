"""Key findings of a briefing, computed from its released tables only.

Every number a finding prints is a published cell. A finding that ranks
("the most frequent …") is made only when the released tables prove it: the
leader's published count is above the largest value every other candidate
can have given what was released — its own count when published, else the
upper bound of the intruder's interval for the suppressed cell
(:func:`admin.briefing.sdc.intervals_of`, the same bound the disclosure log
prints). A suppressed cell is never read for its value: a finding that the
released numbers cannot prove is left out, not guessed. Quarters only
partly inside the period are not compared with full ones.
"""

from __future__ import annotations

from collections.abc import Sequence

from . import codes
from .build import Briefing, Table
from .numbers import number, percent, signed
from .sdc import Key, Status, intervals_of

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "family": "{label} was the most frequent family of tactics: {n} cases ({share} of all cases).",
        "family_tie": (
            "{labels} were the most frequent families of tactics: {n} cases each ({share} of all cases each)."
        ),
        "tactic": "The most frequent tactic was {label}: {n} cases ({share}).",
        "tactic_tie": "The most frequent tactics were {labels}: {n} cases each ({share} each).",
        "quarter": "The quarter with the most cases was {quarter}: {n} cases{note}.",
        "quarter_tie": "The quarters with the most cases were {quarters}: {n} cases each{note}.",
        "full_only": " (full quarters of the period only)",
        "change": "{quarter}: {n} cases, {change} compared with {previous} ({m}).",
        "no_change": "{quarter}: {n} cases, as many as in {previous}.",
        "same_month": "{share} of cases were reported in the month of the incident.",
        "late": "{share} of cases were reported three months or more after the incident.",
        "none_late": "No case was reported three months or more after the incident.",
        "and": " and ",
        "scope": "in Canada",
        "scope_filtered": "in Canada ({filters})",
        "province": "province: {value}",
        "community": "community: {value}",
    },
    "fr": {
        "family": "{label} est la famille de tactiques la plus fréquente : {n} cas ({share} des cas).",
        "family_tie": (
            "{labels} sont les familles de tactiques les plus fréquentes : {n} cas chacune "
            "({share} des cas chacune)."
        ),
        "tactic": "La tactique la plus fréquente est « {label} » : {n} cas ({share}).",
        "tactic_tie": "Les tactiques les plus fréquentes sont {labels} : {n} cas chacune ({share} chacune).",
        "quarter": "Le trimestre comptant le plus de cas est le {quarter} : {n} cas{note}.",
        "quarter_tie": "Les trimestres comptant le plus de cas sont {quarters} : {n} cas chacun{note}.",
        "full_only": " (trimestres complets de la période seulement)",
        "change": "{quarter} : {n} cas, {change} par rapport au {previous} ({m}).",
        "no_change": "{quarter} : {n} cas, autant qu'au {previous}.",
        "same_month": "{share} des cas ont été signalés le mois de l'incident.",
        "late": "{share} des cas ont été signalés trois mois ou plus après l'incident.",
        "none_late": "Aucun cas n'a été signalé trois mois ou plus après l'incident.",
        "and": " et ",
        "scope": "au Canada",
        "scope_filtered": "au Canada ({filters})",
        "province": "province : {value}",
        "community": "communauté : {value}",
    },
}


def _join(items: Sequence[str], lang: str) -> str:
    if len(items) < 2:
        return "".join(items)
    return ", ".join(items[:-1]) + TEXT[lang]["and"] + items[-1]


def full_quarters(b: Briefing) -> list[str]:
    """The quarters of the period whose three months all lie in it."""
    months = set(b.period.months())
    out = []
    for q in b.period.quarters():
        first = (int(q[5]) - 1) * 3 + 1
        if all(f"{q[:4]}-{m:02d}" in months for m in range(first, first + 3)):
            out.append(q)
    return out


def leaders(b: Briefing, keys: dict[str, Key]) -> tuple[list[str], int] | None:
    """The candidates (name -> cell) with the largest published count, when
    the released tables prove no other candidate has as many; else None.

    Returns:
        The leaders' names (several on a tie) and their count (> 0).
    """
    published = {name: b.published(kk) for name, kk in keys.items()}
    known = {name: n for name, n in published.items() if n is not None}
    if not known or max(known.values()) <= 0:
        return None
    best = max(known.values())
    suppressed = [kk for name, kk in keys.items() if published[name] is None]
    bounds = intervals_of(b.values, b.relations, b.protection, suppressed) if suppressed else {}
    if any(bounds[kk].high >= best for kk in suppressed):
        return None  # a suppressed candidate may have as many: not provable
    return sorted(name for name, n in known.items() if n == best), best


def _table(b: Briefing, row_dim: str) -> Table:
    return next(t for t in b.tables if t.spec.row_dim == row_dim)


def _leading_codes(b: Briefing, dim: str, lang: str) -> str | None:
    """The family or tactic (``dim``) with the most cases, when provable."""
    table = _table(b, dim)
    lead = leaders(b, {r: table.key(r, None) for r in table.rows})
    if lead is None:
        return None
    tx = TEXT[lang]
    names, n = lead
    labels = [codes.label(dim, name, lang) for name in names]
    if dim == "tactic" and lang == "fr" and len(labels) > 1:
        labels = [f"« {label} »" for label in labels]
    share = percent(n / b.total, lang)
    if len(names) == 1:
        return tx[dim].format(label=labels[0], n=number(n, lang), share=share)
    return tx[f"{dim}_tie"].format(labels=_join(labels, lang), n=number(n, lang), share=share)


def _leading_quarter(b: Briefing, quarters: list[str], by_quarter: Table, lang: str) -> str | None:
    """The full quarter(s) with the most cases, when provable."""
    from .render import quarter_label  # render prints these findings

    lead = leaders(b, {q: by_quarter.key(None, q) for q in quarters})
    if lead is None:
        return None
    tx = TEXT[lang]
    names, n = lead
    labels = [("le " if lang == "fr" and len(names) > 1 else "") + quarter_label(q, lang) for q in names]
    note = tx["full_only"] if len(quarters) < len(b.period.quarters()) else ""
    if len(names) == 1:
        return tx["quarter"].format(quarter=labels[0], n=number(n, lang), note=note)
    return tx["quarter_tie"].format(quarters=_join(labels, lang), n=number(n, lang), note=note)


def _last_quarter_change(b: Briefing, quarters: list[str], by_quarter: Table, lang: str) -> str | None:
    """The last full quarter against the one before, when both are published."""
    from .render import quarter_label  # render prints these findings

    last, previous = quarters[-1], quarters[-2]
    n_last = b.published(by_quarter.key(None, last))
    n_prev = b.published(by_quarter.key(None, previous))
    if n_last is None or n_prev is None:
        return None
    fields = {
        "quarter": quarter_label(last, lang),
        "previous": quarter_label(previous, lang),
        "n": number(n_last, lang),
        "m": number(n_prev, lang),
        "change": signed(n_last - n_prev, lang),
    }
    return TEXT[lang]["change" if n_last != n_prev else "no_change"].format(**fields)


def _quarter_findings(b: Briefing, lang: str) -> list[str | None]:
    """The leading quarter and the last quarter's change (full quarters only)."""
    quarters = full_quarters(b)
    if len(quarters) < 2:
        return []
    by_quarter = _table(b, "family")  # its column margins are the quarters' totals
    return [
        _leading_quarter(b, quarters, by_quarter, lang),
        _last_quarter_change(b, quarters, by_quarter, lang),
    ]


def _delay_findings(b: Briefing, lang: str) -> list[str | None]:
    """Shares reported in the month of the incident and three months or more after."""
    tx = TEXT[lang]
    out: list[str | None] = []
    same = b.published((("delay", "d0"),))
    if same is not None:
        out.append(tx["same_month"].format(share=percent(same / b.total, lang)))
    late = [b.published((("delay", d),)) for d in ("d3_5", "d6")]
    if all(n is not None for n in late):
        n_late = sum(n or 0 for n in late)
        out.append(
            tx["none_late"] if n_late == 0 else tx["late"].format(share=percent(n_late / b.total, lang))
        )
    return out


def findings(b: Briefing, lang: str) -> list[str]:
    """Key findings, from published cells only (module docstring)."""
    found = [
        _leading_codes(b, "family", lang),
        _leading_codes(b, "tactic", lang),
        *_quarter_findings(b, lang),
        *_delay_findings(b, lang),
    ]
    return [f for f in found if f is not None]


def scope(b: Briefing, lang: str) -> str:
    """Where and whom the note counts: "in Canada", or with its filters
    ("in Canada (province: Ontario)")."""
    tx = TEXT[lang]
    parts = [tx[dim].format(value=codes.label(dim, value, lang)) for dim, value in b.filters.pairs()]
    return tx["scope_filtered"].format(filters="; ".join(parts)) if parts else tx["scope"]


def linked_cells(b: Briefing) -> int:
    """Cells suppressed because of earlier releases in the ledger."""
    return sum(1 for s in b.protection.status.values() if s is Status.LINKED)
