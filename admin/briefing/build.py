"""From coded records to the protected tables of one briefing.

Steps (docs/briefings.md): select (consent to statistics, not spam or
duplicate, incident month in the period) -> generalize (month -> quarter,
small provinces pooled within their region, small communities pooled,
tactics -> families in cross-tables) -> count cases -> protect
(:mod:`admin.briefing.sdc`) -> audit. The unit is the case everywhere.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from . import codes
from .records import CodedRecord
from .sdc import (
    GRAND_TOTAL,
    DisclosureError,
    Forced,
    Key,
    Protection,
    Relation,
    Status,
    check,
    key,
    suppress_complementary,
)

UNIT = "cases"
#: The smallest k a briefing may be built with: ../shared/TAXONOMY.md,
#: "Release thresholds" (restricted government briefings: minimum cell 5;
#: anything public: 10). A briefing author may raise k, never lower it.
MIN_CELL = 5


class PeriodError(ValueError):
    """A period that is not ``YYYY-MM`` to ``YYYY-MM`` in order."""


@dataclass(frozen=True, slots=True)
class Period:
    """Months ``start`` to ``end`` inclusive (``YYYY-MM``)."""

    start: str
    end: str

    @classmethod
    def parse(cls, start: str, end: str) -> Period:
        if not (codes.MONTH_RE.match(start) and codes.MONTH_RE.match(end)) or start > end:
            raise PeriodError("the period must be YYYY-MM to YYYY-MM, the first not after the second")
        return cls(start, end)

    def quarters(self) -> list[str]:
        """Quarter codes (``2026Q1``) the period touches, in order."""
        y, m = int(self.start[:4]), int(self.start[5:])
        ey, em = int(self.end[:4]), int(self.end[5:])
        out: list[str] = []
        q, eq = (m - 1) // 3, (em - 1) // 3
        while (y, q) <= (ey, eq):
            out.append(f"{y}Q{q + 1}")
            q += 1
            if q == 4:
                y, q = y + 1, 0
        return out

    def months(self) -> list[str]:
        """Every month of the period, in order (``YYYY-MM``)."""
        y, m = int(self.start[:4]), int(self.start[5:])
        out: list[str] = []
        while f"{y}-{m:02d}" <= self.end:
            out.append(f"{y}-{m:02d}")
            y, m = (y + 1, 1) if m == 12 else (y, m + 1)
        return out


class FilterError(ValueError):
    """A filter value outside the taxonomy."""


@dataclass(frozen=True, slots=True)
class Filters:
    """Which cases a briefing is about, besides the period: one province
    and/or one community (a case with several communities matches each).
    A filtered briefing's cells count cases of the filter *and* the cell,
    which is how the release ledger compares it with other releases."""

    province: str | None = None
    community: str | None = None

    @classmethod
    def parse(cls, province: str | None, community: str | None) -> Filters:
        """From the command's or the page's strings ("" means none).

        Raises:
            FilterError: a code outside the taxonomy (the code is not echoed).
        """
        province = (province or "").strip() or None
        community = (community or "").strip() or None
        if province is not None and province not in codes.PROVINCES:
            raise FilterError("the province filter must be a province code of the taxonomy (CA-ON, …)")
        if community is not None and community not in codes.COMMUNITIES:
            raise FilterError("the community filter must be a community code of the taxonomy (uyghur, …)")
        return cls(province, community)

    def matches(self, r: CodedRecord) -> bool:
        if self.province is not None and r.province != self.province:
            return False
        return self.community is None or self.community in (r.communities or (codes.NOT_STATED,))

    def pairs(self) -> list[tuple[str, str]]:
        """The filter as ``(dimension, value)`` conditions."""
        out = []
        if self.province is not None:
            out.append(("province", self.province))
        if self.community is not None:
            out.append(("community", self.community))
        return out

    def describe(self) -> str:
        return " & ".join(f"{d}={v}" for d, v in self.pairs()) or "none"


NO_FILTERS = Filters()


def quarter(month: str) -> str:
    """``2026-05`` -> ``2026Q2``."""
    return f"{month[:4]}Q{(int(month[5:]) - 1) // 3 + 1}"


def _months_between(a: str, b: str) -> int:
    return (int(b[:4]) - int(a[:4])) * 12 + int(b[5:]) - int(a[5:])


@dataclass(frozen=True, slots=True)
class TableSpec:
    """A table: rows along one dimension, columns along another (or none)."""

    id: str
    row_dim: str
    col_dim: str | None
    title_key: str


#: The tables of a briefing, in the order of a briefing note.
TABLES = (
    TableSpec("tactic-family-by-quarter", "family", "quarter", "t_family_quarter"),
    TableSpec("tactic", "tactic", None, "t_tactic"),
    TableSpec("community-by-tactic-family", "community", "family", "t_community_family"),
    TableSpec("province-by-quarter", "province", "quarter", "t_province_quarter"),
    TableSpec("attribution-by-quarter", "attribution", "quarter", "t_attribution_quarter"),
    TableSpec("reporting-delay-by-quarter", "delay", "quarter", "t_delay_quarter"),
)


@dataclass
class Table:
    """A protected table. ``cell(r, c)`` keys; ``c=None`` is the row total,
    ``r=None`` the column total."""

    spec: TableSpec
    rows: list[str]
    cols: list[str]
    #: Whether a case can fall in several rows (then rows do not add up).
    multi_rows: bool
    multi_cols: bool

    def key(self, row: str | None, col: str | None) -> Key:
        pairs = []
        if row is not None:
            pairs.append((self.spec.row_dim, row))
        if col is not None and self.spec.col_dim is not None:
            pairs.append((self.spec.col_dim, col))
        return key(*pairs)

    def cell_keys(self) -> list[Key]:
        out = [self.key(r, c) for r in self.rows for c in self.cols]
        out += [self.key(r, None) for r in self.rows]
        out += [self.key(None, c) for c in self.cols]
        out.append(GRAND_TOTAL)
        return out


@dataclass
class Vignette:
    """Text a reviewer wrote and confirmed for release, with quote consent."""

    en: str | None
    fr: str | None


@dataclass
class Briefing:
    """Everything the outputs print: protected tables and their numbers."""

    period: Period
    k: int
    tables: list[Table]
    values: dict[Key, int]
    protection: Protection
    relations: list[Relation]
    vignettes: list[Vignette] = field(default_factory=list)
    #: Distinct reporters tied by follow-ups (None: none tied, or below k).
    people: int | None = None
    pooled_provinces: list[str] = field(default_factory=list)
    pooled_communities: list[str] = field(default_factory=list)
    filters: Filters = NO_FILTERS
    #: Where the counted cases' coding came from ("local", import labels).
    sources: tuple[str, ...] = ()
    #: A draft: not recorded in the release ledger, marked "DRAFT — NOT FOR
    #: RELEASE" on every page and in every CSV.
    draft: bool = False
    #: Earlier releases it was audited against (:func:`admin.briefing.ledger.protect_across`);
    #: None: not audited against the ledger (printed so in the methods note).
    ledger_releases: int | None = None

    @property
    def total(self) -> int:
        return self.values[GRAND_TOTAL]

    def published(self, k: Key) -> int | None:
        """The value of ``k``, or None when suppressed."""
        return self.values[k] if self.protection.status[k] is Status.PUBLISHED else None


def select_records(
    records: Iterable[CodedRecord], period: Period, filters: Filters = NO_FILTERS
) -> list[CodedRecord]:
    """Records a briefing may count: consent to statistics (never counted
    otherwise), not spam or duplicate, incident month in the period, and
    matching the filters."""
    return [
        r
        for r in records
        if r.consent_statistics
        and r.disposition not in codes.EXCLUDED_DISPOSITIONS
        and period.start <= r.incident_month <= period.end
        and filters.matches(r)
    ]


def _pool_provinces(counts: Counter[str], k: int) -> dict[str, str]:
    """Province -> published code: within each region, provinces under k
    are pooled (with the next-smallest ones until the pool reaches k)."""
    mapping = {p: p for p in counts}
    regions: dict[str, list[str]] = {}
    for p in counts:
        regions.setdefault(codes.REGION[p], []).append(p)
    for members in regions.values():
        members.sort(key=lambda p: (counts[p], p))
        pool = [p for p in members if counts[p] < k]
        if not pool:
            continue
        rest = [p for p in members if p not in pool]
        while sum(counts[p] for p in pool) < k and rest:
            pool.append(rest.pop(0))
        if len(pool) < 2:
            continue  # nothing to pool with: left to suppression
        code = "+".join(sorted(pool))
        for p in pool:
            mapping[p] = code
    return mapping


@dataclass
class Generalized:
    """How one briefing's chosen cases are generalized: each province to
    its published code (small ones pooled within a region), each community
    to its own code or the pooled one."""

    province_counts: Counter[str]
    province_of: dict[str, str]
    community_of: dict[str, str]
    #: Communities with fewer than k cases (pooled).
    small: set[str]


def generalize(chosen: Sequence[CodedRecord], k: int) -> Generalized:
    """Pool provinces and communities with fewer than ``k`` chosen cases."""
    province_counts = Counter(r.province for r in chosen)
    community_counts: Counter[str] = Counter()
    for communities, n in Counter(r.communities for r in chosen).items():
        for c in communities or (codes.NOT_STATED,):
            community_counts[c] += n
    small = {c for c, n in community_counts.items() if n < k}
    # Pooling a single small community still hides which one it is.
    community_of = {c: (codes.POOLED_COMMUNITIES if c in small else c) for c in community_counts}
    return Generalized(province_counts, _pool_provinces(province_counts, k), community_of, small)


def count_cases(chosen: Sequence[CodedRecord], g: Generalized) -> tuple[Counter[Key], dict[str, bool]]:
    """Every cell's count of cases, and which dimensions a case can hold
    several values of (multi-select: then rows do not add up).

    Cases are first grouped by the few fields each family of cells reads,
    so the work per cell follows the number of distinct combinations, not
    the number of cases; the counts are the same as case by case.
    """
    values: Counter[Key] = Counter()
    multi: dict[str, bool] = {d: False for d in ("family", "tactic", "community", "quarter", "province")}
    values[GRAND_TOTAL] = len(chosen)
    _count_singles(
        values, Counter((r.incident_month, r.report_month, r.province, r.attribution) for r in chosen), g
    )
    families_of: dict[tuple[str, ...], list[str]] = {}

    def families(tactics: tuple[str, ...]) -> list[str]:
        got = families_of.get(tactics)
        if got is None:
            got = families_of[tactics] = sorted({codes.TACTIC_FAMILY[t] for t in tactics})
        return got

    for (month, tactics), n in Counter((r.incident_month, r.tactics) for r in chosen).items():
        q = ("quarter", quarter(month))
        fams = families(tactics)
        multi["family"] |= len(fams) > 1
        multi["tactic"] |= len(tactics) > 1
        for f in fams:
            values[(("family", f),)] += n
            values[key(("family", f), q)] += n
        for t in tactics:
            values[(("tactic", t),)] += n
    for (tactics, raw), n in Counter((r.tactics, r.communities) for r in chosen).items():
        communities = sorted({g.community_of[c] for c in (raw or (codes.NOT_STATED,))})
        multi["community"] |= len(communities) > 1
        for c in communities:
            values[(("community", c),)] += n
            for f in families(tactics):
                values[key(("community", c), ("family", f))] += n
    return values, multi


def _count_singles(values: Counter[Key], groups: Counter[tuple[str, str, str, str]], g: Generalized) -> None:
    """Quarter, province, attribution and delay cells, alone and by quarter,
    from cases grouped by (incident month, report month, province,
    attribution)."""
    for (month, reported, province, attribution), n in groups.items():
        q = ("quarter", quarter(month))
        prov = ("province", g.province_of[province])
        att = ("attribution", attribution)
        delay = ("delay", codes.delay_bucket(_months_between(month, reported)))
        values[(q,)] += n
        for dim_value in (prov, att, delay):
            values[(dim_value,)] += n
            values[key(dim_value, q)] += n


def lay_out_tables(
    values: Counter[Key], multi: dict[str, bool], period: Period, g: Generalized
) -> tuple[list[Table], dict[str, list[str]]]:
    """The tables of :data:`TABLES` with their rows and columns (values
    with no case are left out where the taxonomy allows), and the rows of
    each dimension."""

    def present(dim: str, order: Sequence[str]) -> list[str]:
        return [v for v in order if values[((dim, v),)] > 0]

    rows_of = {
        "family": list(codes.FAMILIES[:4]) + present("family", ["other"]),
        "tactic": list(codes.TACTICS[:-1]) + present("tactic", ["T99"]),
        "community": present("community", [*codes.COMMUNITIES, codes.NOT_STATED, codes.POOLED_COMMUNITIES]),
        "province": sorted({g.province_of[p] for p in g.province_counts}, key=_province_order),
        "attribution": list(codes.ATTRIBUTIONS),
        "delay": list(codes.DELAYS),
        "quarter": period.quarters(),
    }
    tables = [
        Table(
            spec,
            rows_of[spec.row_dim],
            rows_of[spec.col_dim] if spec.col_dim else [],
            multi_rows=multi.get(spec.row_dim, False),
            multi_cols=multi.get(spec.col_dim or "", False),
        )
        for spec in TABLES
    ]
    return tables, rows_of


def vignettes_of(chosen: Sequence[CodedRecord], released: Sequence[tuple[str, Vignette]]) -> list[Vignette]:
    """Vignettes to print: coded ones with quote consent, then the
    console's released ones whose envelope belongs to a counted case."""
    out = [
        Vignette(r.vignette_en, r.vignette_fr)
        for r in sorted(chosen, key=lambda r: r.case_id)
        if r.consent_quote and (r.vignette_en or r.vignette_fr)
    ]
    if released:
        counted = {e for r in chosen for e in r.envelope_ids}
        out += [v for envelope_id, v in released if envelope_id in counted and (v.en or v.fr)]
    return out


def build(
    records: Iterable[CodedRecord],
    period: Period,
    k: int = 5,
    p: int | None = None,
    released: Sequence[tuple[str, Vignette]] = (),
    *,
    filters: Filters = NO_FILTERS,
    forced: Mapping[Key, Forced] | None = None,
) -> Briefing:
    """Select, generalize, count and protect.

    ``forced`` are cells to suppress whatever their value, with the bounds
    an intruder knows for them (cells linked to earlier releases:
    :func:`admin.briefing.ledger.protect_across`).

    ``released`` are the console's released vignettes by envelope id
    (:func:`admin.cases.vignettes.released_vignettes`, which checked the
    reporter's consent to quoting); one is printed only when its envelope
    belongs to a case this briefing counts.

    Raises:
        DisclosureError: k below :data:`MIN_CELL`, fewer than k cases, or
            the audit refuses.
    """
    if k < MIN_CELL:
        raise DisclosureError(f"k must be at least {MIN_CELL} (the release threshold for briefings)")
    chosen = select_records(records, period, filters)
    g = generalize(chosen, k)
    values, multi = count_cases(chosen, g)
    tables, rows_of = lay_out_tables(values, multi, period, g)
    relations = _relations(tables, multi, rows_of)
    all_keys = {kk for t in tables for kk in t.cell_keys()}
    cell_values = {kk: values[kk] for kk in sorted(all_keys)}
    protection = suppress_complementary(cell_values, relations, k, p, forced=forced)
    check(protection, cell_values, relations)  # refuse to release on any failure
    people_refs = {r.person_ref for r in chosen if r.person_ref}
    return Briefing(
        period=period,
        k=k,
        tables=tables,
        values=cell_values,
        protection=protection,
        relations=relations,
        vignettes=vignettes_of(chosen, released),
        people=len(people_refs) if len(people_refs) >= k else None,
        pooled_provinces=sorted({c for c in g.province_of.values() if "+" in c}),
        pooled_communities=sorted(g.small),
        filters=filters,
        sources=tuple(sorted({r.source for r in chosen})),
    )


def reprotect(b: Briefing, forced: Mapping[Key, Forced]) -> Briefing:
    """``b`` protected further with ``forced`` cells suppressed, from its
    current protection (the counts are kept: suppression continues and the
    audit runs again).

    Raises:
        DisclosureError: the audit refuses.
    """
    protection = suppress_complementary(
        b.values, b.relations, b.k, b.protection.p, forced=forced, start=b.protection
    )
    check(protection, b.values, b.relations)
    return dataclasses.replace(b, protection=protection)


def _province_order(code: str) -> tuple[int, str]:
    first = code.split("+")[0]
    return (codes.PROVINCES.index(first), code)


def _relations(
    tables: Sequence[Table], multi: dict[str, bool], rows_of: dict[str, list[str]]
) -> list[Relation]:
    """The relations an intruder knows, once each (shared margins share
    their relations)."""
    out: dict[tuple[Key, str], Relation] = {}

    def add(parent: Key, along: str, children: list[Key]) -> None:
        kind = "cover" if multi.get(along, False) else "eq"
        out.setdefault((parent, along), Relation(parent, tuple(children), kind))

    for t in tables:
        rd, cd = t.spec.row_dim, t.spec.col_dim
        add(GRAND_TOTAL, rd, [t.key(r, None) for r in t.rows])
        if cd is None:
            continue
        add(GRAND_TOTAL, cd, [t.key(None, c) for c in t.cols])
        for r in t.rows:
            add(t.key(r, None), cd, [t.key(r, c) for c in t.cols])
        for c in t.cols:
            add(t.key(None, c), rd, [t.key(r, c) for r in t.rows])
    # Tactics within a family: a family's cases are those with one of its tactics.
    for fam in rows_of["family"]:
        children = [key(("tactic", tc)) for tc in rows_of["tactic"] if codes.TACTIC_FAMILY[tc] == fam]
        out.setdefault(
            (key(("family", fam)), "tactic"), Relation(key(("family", fam)), tuple(children), "cover")
        )
    return [out[kk] for kk in sorted(out)]
