"""The release ledger, and disclosure control across releases.

Every briefing a coordinator publishes is recorded as a
:class:`~admin.briefing.releases.Release` (that module holds the record,
its interchange form and its storage): what was released (each table's
rows and columns, every released cell's value or ``x``, the statuses and
the intruder's interval for each suppressed cell), k, p, the period, the filters, which organizations' coding
it counted, who and when. Never a coded case: the ledger holds only numbers
that left the console, so an intruder holding every earlier briefing holds
exactly the ledger's published numbers.

Before a briefing is published, :func:`protect_across` audits it jointly with
every earlier release (docs/briefings.md, "Releases and the audit across
releases"):

* **Definitions.** A released number counts the cases that satisfy a
  conjunction of conditions ("has a value of *dimension* in *set*"), within
  a range of incident months: the cell's key (pooled provinces and
  communities expanded to their members), the release's filters, and the
  cell's quarter cut to the period (or the whole period for margins).
* **Apriori statuses** (τ-ARGUS "apriori" files; sdcTable linked tables):
  a cell with the *same definition* as a cell an earlier release suppressed
  is suppressed again, so the same number is never published once hidden.
* **Differences.** For every pair (new cell, earlier cell) of the same key
  shape whose definitions are nested (months, filters, pooled values) or
  equal, the intruder's interval for the difference is computed from the
  published values and the intervals the audit leaves on suppressed cells.
  A difference that is known to be a positive count below k within fewer
  than p+1 values (for published pairs: a difference in 1..k-1; either sign,
  since data revised between releases differ both ways) is a disclosure.
* **Further protection.** Each new cell in such a pair is suppressed as
  *linked*, with the bounds an intruder reading the disclosure log knows
  for it, and the new briefing is protected and audited again
  (:func:`admin.briefing.sdc.suppress_complementary`), until no pair
  discloses. The grand total cannot be suppressed: then the briefing is
  refused, naming the cells and releases.

Coalition merges fall under the same rule: releases imported with another
organization's coded records (:mod:`admin.briefing.records`) are earlier
releases like this console's own, and definitions ignore which
organizations a release counted, so a coalition figure minus one
organization's published figure is checked like a difference of periods.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from . import codes
from .build import Briefing, Filters, Period, reprotect
from .releases import Release, ReleasedCell, load_releases, release_of, store_release
from .sdc import GRAND_TOTAL, DisclosureError, Forced, Interval, Key, Status, intervals_of

#: Rounds of further protection before a briefing is refused.
MAX_ROUNDS = 8


# -- definitions -------------------------------------------------------------------

Clause = tuple[str, frozenset[str]]


def _month_index(month: str) -> int:
    return int(month[:4]) * 12 + int(month[5:]) - 1


def _expand(dim: str, value: str, pooled: Sequence[str]) -> frozenset[str]:
    if dim == "province" and "+" in value:
        return frozenset(value.split("+"))
    if dim == "community" and value == codes.POOLED_COMMUNITIES:
        return frozenset(pooled)
    return frozenset((value,))


@dataclass(frozen=True, slots=True)
class Definition:
    """Which cases a released number counts: conditions and a month range."""

    #: The key's dimensions (with "quarter" if it has one): only numbers of
    #: the same shape are compared (other differences are within one table).
    shape: tuple[str, ...]
    #: The key's values, pooled ones expanded (one clause per pair).
    key_clauses: frozenset[Clause]
    #: The release's filters.
    filter_clauses: frozenset[Clause]
    first: int
    last: int

    def clauses(self) -> frozenset[Clause]:
        return self.key_clauses | self.filter_clauses


def definition(kk: Key, period: Period, filters: Filters, pooled: Sequence[str]) -> Definition:
    """The definition of the cell ``kk`` of a release."""
    first, last = _month_index(period.start), _month_index(period.end)
    clauses = set()
    for dim, value in kk:
        if dim == "quarter":
            q0 = int(value[:4]) * 12 + (int(value[5]) - 1) * 3
            first, last = max(first, q0), min(last, q0 + 2)
            continue
        clauses.add((dim, _expand(dim, value, pooled)))
    return Definition(
        shape=tuple(d for d, _v in kk),
        key_clauses=frozenset(clauses),
        filter_clauses=frozenset((d, frozenset((v,))) for d, v in filters.pairs()),
        first=first,
        last=last,
    )


def _implies(narrow: frozenset[Clause], wide: frozenset[Clause]) -> bool:
    """Whether every case satisfying ``narrow`` satisfies ``wide``."""
    # Plain loops: called for every pair of condition sets of one shape
    # (tens of thousands per briefing against a ledger of 20 releases).
    for dw, vw in wide:
        for d, v in narrow:
            if d == dw and v <= vw:
                break
        else:
            return False
    return True


def nested(a: Definition, b: Definition) -> bool:
    """Whether ``b``'s cases are among ``a``'s (or the same)."""
    return a.first <= b.first and b.last <= a.last and _implies(b.clauses(), a.clauses())


# -- the audit across releases ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class Disclosure:
    """A pair of released numbers whose difference would disclose."""

    key: Key
    other: Release
    other_key: Key
    low: int
    high: int
    same: bool

    def describe(self) -> str:
        what = "the same cell" if self.same else "a cell whose cases nest with it"
        diff = f"{self.low}" if self.low == self.high else f"{self.low}..{self.high}"
        return (
            f"{_describe(self.key)} with {self.other.name()}'s {_describe(self.other_key)} "
            f"({what}): their difference would be {diff} cases"
        )


def _describe(kk: Key) -> str:
    return " & ".join(f"{d}={v}" for d, v in kk) or "grand total"


@dataclass
class _Earlier:
    release: Release
    cell: ReleasedCell
    definition: Definition


Related = list[tuple[list[_Earlier], bool, bool]]


@dataclass
class Index:
    """Earlier releases' cells grouped for :func:`cross_audit`: by shape,
    then by conditions (key and filters together). A new cell is compared
    with the groups whose conditions nest with its own, and within a group
    only the month ranges are compared (:func:`nested`). ``related``
    remembers, per new condition set, which groups nest with it."""

    groups: dict[tuple[str, ...], dict[frozenset[Clause], list[_Earlier]]]
    related: dict[tuple[tuple[str, ...], frozenset[Clause]], Related] = field(default_factory=dict)

    def nesting(self, shape: tuple[str, ...], conditions: frozenset[Clause]) -> Related:
        """Groups of ``shape`` whose conditions imply, or are implied by,
        ``conditions``: ``(cells, theirs among mine, mine among theirs)``."""
        got = self.related.get((shape, conditions))
        if got is None:
            got = self.related[(shape, conditions)] = [
                (group, wider, narrower)
                for theirs, group in self.groups.get(shape, {}).items()
                for wider, narrower in [(_implies(theirs, conditions), _implies(conditions, theirs))]
                if wider or narrower
            ]
        return got


def index_releases(earlier: Iterable[Release]) -> Index:
    """The :class:`Index` of ``earlier`` releases."""
    groups: dict[tuple[str, ...], dict[frozenset[Clause], list[_Earlier]]] = {}
    for rel in earlier:
        for c in rel.cells:
            d = definition(c.key, rel.period, rel.filters, rel.pooled_communities)
            groups.setdefault(d.shape, {}).setdefault(d.clauses(), []).append(_Earlier(rel, c, d))
    return Index(groups)


def _discloses(low: int, high: int, k: int, p: int) -> bool:
    """An intruder knows a positive count below k within fewer than p+1
    values (published pairs: ``low == high`` in ``1..k-1``)."""
    return 1 <= low <= k - 1 and high - low < p


def cross_audit(
    b: Briefing, earlier: Sequence[Release], index: Index | None = None
) -> tuple[list[Disclosure], dict[Key, Forced]]:
    """The audit of ``b`` against ``earlier`` releases (``index``: their
    :func:`index_releases`, when already built): pairs that would disclose,
    and the apriori suppressions (same definition suppressed before). See
    the module docstring."""
    if not earlier:
        return [], {}
    index = index_releases(earlier) if index is None else index
    pairs, apriori = _nested_pairs(b, index)
    intervals = intervals_of(b.values, b.relations, b.protection, _worth_solving(b, pairs))
    return _disclosures(b, pairs, intervals), apriori


Pair = tuple[Key, _Earlier, bool]


def _nested_pairs(b: Briefing, index: Index) -> tuple[list[Pair], dict[Key, Forced]]:
    """Pairs (new cell, earlier cell, same definition) of nested or equal
    definitions whose earlier side has an interval, and the apriori
    suppressions: a published new cell with the same definition as an
    earlier suppressed one."""
    status = b.protection.status
    pairs: list[Pair] = []
    apriori: dict[Key, Forced] = {}
    for kk in sorted({kk for t in b.tables for kk in t.cell_keys()}):
        mine = definition(kk, b.period, b.filters, b.pooled_communities)
        for group, wider, narrower in index.nesting(mine.shape, mine.clauses()):
            for e in group:
                d = e.definition
                inside = mine.first <= d.first and d.last <= mine.last
                outside = d.first <= mine.first and mine.last <= d.last
                if not ((wider and inside) or (narrower and outside)):
                    continue  # neither nested(mine, d) nor nested(d, mine)
                same = wider and narrower and inside and outside
                if same and e.cell.value is None and status[kk] is Status.PUBLISHED:
                    apriori.setdefault(kk, Forced(0, None, f"linked: suppressed in {e.release.name()}"))
                elif e.cell.interval() is not None:
                    pairs.append((kk, e, same))
    return pairs, apriori


def _worth_solving(b: Briefing, pairs: Sequence[Pair]) -> list[Key]:
    """Suppressed new cells whose interval could matter: a disclosing
    difference lies, in truth, within 1..k+p-2 (either sign), and needs
    the earlier side narrower than p. Only these are solved."""
    wanted = set()
    for kk, e, _same in pairs:
        if b.protection.status[kk] is Status.PUBLISHED:
            continue
        lo_e, hi_e = e.cell.interval() or (0, 0)
        k, p = max(b.k, e.release.k), max(b.protection.p, e.release.p)
        v = b.values[kk]
        near = min(abs(v - lo_e), abs(v - hi_e)) if not lo_e <= v <= hi_e else 0
        if hi_e - lo_e < p and near <= k + p - 2:
            wanted.add(kk)
    return sorted(wanted)


def _disclosures(b: Briefing, pairs: Sequence[Pair], intervals: Mapping[Key, Interval]) -> list[Disclosure]:
    """The pairs whose difference, as an intruder bounds it, discloses."""
    found: list[Disclosure] = []
    for kk, e, same in pairs:
        if b.protection.status[kk] is Status.PUBLISHED:
            lo = hi = b.values[kk]
        elif kk in intervals:
            lo, hi = intervals[kk].low, intervals[kk].high
        else:
            continue
        e_lo, e_hi = e.cell.interval() or (0, 0)  # pairs hold only cells with one
        k, p = max(b.k, e.release.k), max(b.protection.p, e.release.p)
        d_lo, d_hi = lo - e_hi, hi - e_lo
        for low, high in ((d_lo, d_hi), (-d_hi, -d_lo)):
            if _discloses(low, high, k, p):
                found.append(Disclosure(kk, e.release, e.cell.key, low, high, same))
    return found


def _bounds(b: Briefing, d: Disclosure) -> Forced:
    """The intruder's bounds on a cell suppressed because of ``d``: it
    knows the rule, so the difference lies in 1..k-1 (of the sign seen)."""
    k = max(b.k, d.other.k)
    theirs = next(c for c in d.other.cells if c.key == d.other_key)
    reason = f"linked: {d.describe()}"
    if theirs.value is None:
        return Forced(0, None, reason)
    v, other = b.values[d.key], theirs.value
    if v > other:
        return Forced(other + 1, other + k - 1, reason)
    return Forced(max(0, other - k + 1), max(0, other - 1), reason)


def _intersect(f: Forced, g: Forced) -> Forced:
    high = g.high if f.high is None else f.high if g.high is None else min(f.high, g.high)
    return Forced(max(f.low, g.low), high, f.reason if f.reason.startswith("linked: ") else g.reason)


def protect_across(b: Briefing, earlier: Sequence[Release]) -> Briefing:
    """``b`` protected further until no combination with an ``earlier``
    release discloses; the disclosure log says why each linked cell is
    suppressed.

    Raises:
        DisclosureError: a combination cannot be protected by suppression
            (the grand total would be disclosed, or a cell stays disclosed
            after suppression); the message names the cells and releases.
    """
    forced: dict[Key, Forced] = {}
    index = index_releases(earlier)
    for _round in range(MAX_ROUNDS):
        found, apriori = cross_audit(b, earlier, index)
        new = {kk: f for kk, f in apriori.items() if kk not in forced}
        stuck: list[Disclosure] = []
        for d in found:
            status = b.protection.status[d.key]
            if d.key == GRAND_TOTAL or status is Status.PRIMARY:
                stuck.append(d)  # suppression cannot help: refuse
                continue
            g = _bounds(b, d)
            f = new.get(d.key) or forced.get(d.key)
            merged = g if f is None else _intersect(f, g)
            if d.key in forced and merged == forced[d.key]:
                stuck.append(d)  # already suppressed with these bounds, still disclosed
                continue
            new[d.key] = merged
        if stuck:
            names = "; ".join(d.describe() for d in stuck[:5])
            more = f" (and {len(stuck) - 5} more)" if len(stuck) > 5 else ""
            hint = " Choose a period or filters that differ more from the earlier release."
            raise DisclosureError(f"with earlier releases: {names}{more}.{hint}")
        if not new:
            return replace(b, ledger_releases=len(earlier))
        forced.update(new)
        try:
            b = reprotect(b, forced)
        except DisclosureError as exc:
            names = "; ".join(d.describe() for d in found[:5]) or "; ".join(
                f"{_describe(kk)} ({f.reason})" for kk, f in list(new.items())[:5]
            )
            more = f" (and {len(found) - 5} more)" if len(found) > 5 else ""
            raise DisclosureError(
                f"with earlier releases: {names}{more}; suppressing these cells cannot protect them ({exc})."
            ) from exc
    raise DisclosureError("further protection against earlier releases did not converge")


# -- storage -----------------------------------------------------------------------


def publish(session: Session, b: Briefing, actor: str, published_at: str) -> Release:
    """Record ``b`` (already protected across releases) in the ledger and
    the audit log. The caller commits after writing the files.

    Raises:
        DisclosureError: ``b`` is a draft, or fails the audit against the
            ledger as it is now (a release published meanwhile).
    """
    from ..audit import log as audit_log  # the console's log; ledger stays importable alone

    # One publication at a time: two coordinators publishing at once would
    # each be audited without the other's release. PostgreSQL: a table lock
    # until commit; SQLite: the write lock, taken before the ledger is read
    # (a stale read snapshot then fails to take it, and nothing is recorded).
    try:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("LOCK TABLE briefing_releases IN EXCLUSIVE MODE"))
        else:
            session.execute(text("UPDATE briefing_releases SET uid = uid WHERE 1 = 0"))
    except OperationalError as exc:
        raise DisclosureError("another briefing is being published: publish again in a moment") from exc
    found, apriori = cross_audit(b, load_releases(session))
    if found or apriori:
        raise DisclosureError("the ledger changed while this briefing was built: build it again")
    release = release_of(b, actor, published_at)
    store_release(session, release)
    audit_log.record(
        session,
        actor,
        audit_log.Action.BRIEFING_PUBLISH,
        release.uid,
        f"period={release.period.start}..{release.period.end} filters={release.filters.describe()} "
        f"k={release.k} p={release.p} cells={len(release.cells)}",
    )
    return release
