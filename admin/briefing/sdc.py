"""Statistical disclosure control of a briefing's tables: primary and
complementary cell suppression, and the intruder audit.

Model. Every published number is the count of cases that satisfy a
conjunction of coded values, named by a :data:`Key` (a sorted tuple of
``(dimension, value)`` pairs; ``()`` is the grand total). The same key in two
tables is the same number, so it has one status everywhere: margins shared by
several tables of one briefing are protected together. The linear relations
an intruder knows between those numbers are :class:`Relation` objects:

* ``eq``: the children partition the parent (each case has exactly one value
  of that dimension), ``sum(children) == parent``;
* ``cover``: each case has at least one value (multi-select, e.g. tactic
  families, or tactics within a family), so ``child <= parent`` for each
  child and ``sum(children) >= parent``.

Method (Hundepool et al., *Statistical Disclosure Control*, Wiley 2012,
ch. 4 and 5; τ-ARGUS manual, "hypercube" and "optimal" methods):

1. :func:`suppress_primary`: every cell with ``0 < value < k``. Zeros are
   published (they are not a person; coarsening comes first).
2. :func:`suppress_complementary`: while some ``eq`` relation has exactly one
   suppressed member, suppress its smallest positive published member
   (children before the parent; never the grand total). Then audit; for each
   cell the audit finds under-protected, suppress the smallest positive
   published cell of a relation it is in, and audit again.
3. :func:`audit`: the intruder's attack (Cox 1980, "Properties of the sensitive
   cell", Fischetti & Salazar-González 1999/2000 "Models and algorithms for
   optimizing cell suppression"): for each suppressed cell, the smallest and
   largest value consistent with every published number and relation, solved
   as an integer program with ``scipy.optimize.milp`` (HiGHS). The intruder is
   assumed to know the rule and which suppressions were primary (the
   disclosure log may leak): primary cells lie in ``[1, k-1]``, complementary
   ones in ``[k, ∞)``. A primary cell whose interval is narrower than the
   protection level ``p`` fails the audit, and the briefing is refused.

Cells *linked* to earlier releases (:mod:`admin.briefing.ledger`) are
suppressed with the bounds an intruder who reads the earlier release and
the disclosure log knows for them, and audited like primary cells. Every
count is at most the grand total, which is always published.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_array

from .cells import (
    GRAND_TOTAL,
    TARGETS,
    DisclosureError,
    Forced,
    Interval,
    Key,
    Protection,
    Relation,
    Status,
    key,
)

__all__ = [
    "GRAND_TOTAL",
    "TARGETS",
    "DisclosureError",
    "Forced",
    "Interval",
    "Key",
    "Protection",
    "Relation",
    "Status",
    "audit",
    "check",
    "default_protection",
    "forget_solved",
    "intervals_of",
    "key",
    "suppress_complementary",
    "suppress_primary",
]


def default_protection(k: int) -> int:
    """Default protection level: a third of the range ``1..k-1`` a primary
    cell may take, rounded up (2 for k=5, 3 for k=10), at least 1. The
    intruder then cannot narrow a suppressed cell to fewer than p+1
    consecutive values."""
    return max(1, -(-(k - 1) // 3))


def suppress_primary(values: Mapping[Key, int], k: int) -> dict[Key, Status]:
    """Primary suppression: every cell with ``0 < value < k``."""
    return {kk: (Status.PRIMARY if 0 < v < k else Status.PUBLISHED) for kk, v in values.items()}


def _describe(kk: Key) -> str:
    return " & ".join(f"{d}={v}" for d, v in kk) or "grand total"


def _pick(candidates: Iterable[Key], values: Mapping[Key, int], status: Mapping[Key, Status]) -> Key | None:
    """The smallest positive published cell (ties: by key), never the grand
    total: the cheapest complement that still hides something."""
    best: tuple[int, int, Key] | None = None
    for kk in candidates:
        if kk == GRAND_TOTAL or status[kk] is not Status.PUBLISHED or values[kk] <= 0:
            continue
        cand = (values[kk], -len(kk), kk)  # on ties, interior cells before margins
        if best is None or cand < best:
            best = cand
    return None if best is None else best[2]


def _singletons(
    relations: Sequence[Relation],
    values: Mapping[Key, int],
    status: dict[Key, Status],
    reason: dict[Key, str],
) -> None:
    changed = True
    while changed:
        changed = False
        for rel in relations:
            if rel.kind != "eq":
                continue
            hidden = [m for m in rel.members() if status[m] is not Status.PUBLISHED]
            if len(hidden) != 1:
                continue
            choice = _pick(rel.children, values, status) or _pick((rel.parent,), values, status)
            if choice is None:
                continue
            status[choice] = Status.COMPLEMENTARY
            reason[choice] = f"complementary: protects {_describe(hidden[0])} (total {_describe(rel.parent)})"
            changed = True


def suppress_complementary(
    values: Mapping[Key, int],
    relations: Sequence[Relation],
    k: int,
    p: int | None = None,
    *,
    max_rounds: int = 500,
    tries: int = 12,
    forced: Mapping[Key, Forced] | None = None,
    start: Protection | None = None,
) -> Protection:
    """Primary then complementary suppression until :func:`audit` passes.

    For a cell the audit finds under-protected, candidates are the positive
    published cells reachable from it through relations and other suppressed
    cells, nearest and smallest first; the first one (of ``tries``) that
    widens the cell's interval is suppressed, else the nearest.

    Suppressing a cell only widens the intruder's intervals (its value lies
    within the bounds it gets), so a cell that passed stays passed and is
    not solved again; :func:`check` recomputes every interval at the end.
    ``start`` continues from an earlier protection of the same values
    (with more ``forced`` cells).

    Raises:
        DisclosureError: the grand total is below ``k``, or no further
            complement can protect a cell.
    """
    p = default_protection(k) if p is None else p
    if GRAND_TOTAL in values and values[GRAND_TOTAL] < k:
        raise DisclosureError(f"fewer than {k} cases in all: nothing can be released")
    status, reason, bounds = _initial_status(values, k, forced or {}, start)
    by_member: dict[Key, list[Relation]] = {}
    for rel in relations:
        for m in rel.members():
            by_member.setdefault(m, []).append(rel)
    intervals = _carried_over(start, forced or {})
    passed = {kk for kk, iv in intervals.items() if iv.width >= p}
    for _round in range(max_rounds):
        _singletons(relations, values, status, reason)
        failing = _audit_new(values, relations, status, k, p, bounds, intervals, passed)
        if not failing:
            return Protection(k=k, p=p, status=status, reason=reason, intervals=intervals, bounds=bounds)
        for cell in failing:
            _complement(cell, values, relations, status, reason, bounds, by_member, k, p, tries)
    raise DisclosureError("complementary suppression did not converge")


def _audit_new(
    values: Mapping[Key, int],
    relations: Sequence[Relation],
    status: Mapping[Key, Status],
    k: int,
    p: int,
    bounds: Mapping[Key, tuple[int, int | None]],
    intervals: dict[Key, Interval],
    passed: set[Key],
) -> list[Key]:
    """Solve the targets not yet ``passed`` into ``intervals``; add those
    that now pass to ``passed`` and return the others."""
    todo = sorted(kk for kk, s in status.items() if s in TARGETS and kk not in passed)
    if todo:
        model = _Model(values, relations, status, k, bounds)
        for kk in todo:
            intervals[kk] = model.interval(kk)
    passed.update(kk for kk in todo if intervals[kk].width >= p)
    return [kk for kk in todo if kk not in passed]


def _carried_over(start: Protection | None, forced: Mapping[Key, Forced]) -> dict[Key, Interval]:
    """Intervals of ``start`` that still hold: cells that passed before
    still pass (more suppression only widens), unless forced now with new
    bounds (more knowledge for the intruder)."""
    if start is None:
        return {}
    return {kk: iv for kk, iv in start.intervals.items() if kk not in forced}


def _initial_status(
    values: Mapping[Key, int], k: int, forced: Mapping[Key, Forced], start: Protection | None
) -> tuple[dict[Key, Status], dict[Key, str], dict[Key, tuple[int, int | None]]]:
    """Statuses, reasons and linked bounds before complementary
    suppression: primary suppression (or ``start``'s), then ``forced``
    cells linked."""
    if start is not None:
        status, reason, bounds = dict(start.status), dict(start.reason), dict(start.bounds)
    else:
        status = suppress_primary(values, k)
        reason = {kk: f"primary: fewer than {k} cases" for kk, s in status.items() if s is Status.PRIMARY}
        bounds = {}
    for kk, f in sorted(forced.items()):
        if kk not in status or status[kk] is Status.PRIMARY:
            continue
        if kk == GRAND_TOTAL:
            raise DisclosureError(f"the grand total {f.reason}")
        status[kk] = Status.LINKED
        reason[kk] = f.reason
        bounds[kk] = (f.low, f.high)
    return status, reason, bounds


def _complement(
    cell: Key,
    values: Mapping[Key, int],
    relations: Sequence[Relation],
    status: dict[Key, Status],
    reason: dict[Key, str],
    bounds: Mapping[Key, tuple[int, int | None]],
    by_member: Mapping[Key, list[Relation]],
    k: int,
    p: int,
    tries: int,
) -> None:
    """Suppress one more cell for the under-protected ``cell``: the first
    candidate (of ``tries``) that widens its interval, else the nearest.

    Raises:
        DisclosureError: no candidate is left.
    """
    width = _Model(values, relations, status, k, bounds).interval(cell).width
    if width >= p:
        return  # an earlier complement of this round already helped
    candidates = _candidates(cell, by_member, values, status)
    if not candidates:
        raise DisclosureError(f"no complement left to protect {_describe(cell)}")
    chosen = candidates[0]
    for cand in candidates[:tries]:
        status[cand] = Status.COMPLEMENTARY
        wider = _Model(values, relations, status, k, bounds).interval(cell).width > width
        status[cand] = Status.PUBLISHED
        if wider:
            chosen = cand
            break
    status[chosen] = Status.COMPLEMENTARY
    reason[chosen] = f"complementary: protects {_describe(cell)}"


def _candidates(
    cell: Key,
    by_member: Mapping[Key, list[Relation]],
    values: Mapping[Key, int],
    status: Mapping[Key, Status],
) -> list[Key]:
    """Positive published cells (not the grand total) reachable from
    ``cell`` through relations, crossing only suppressed cells; ordered by
    distance, then value."""
    seen = {cell}
    frontier = [cell]
    found: dict[Key, int] = {}
    distance = 0
    while frontier:
        nxt: list[Key] = []
        for kk in frontier:
            for rel in by_member.get(kk, ()):
                for m in rel.members():
                    if m in seen:
                        continue
                    seen.add(m)
                    if status[m] is Status.PUBLISHED:
                        if m != GRAND_TOTAL and values[m] > 0:
                            found[m] = distance
                    else:
                        nxt.append(m)
        frontier = nxt
        distance += 1
    return sorted(found, key=lambda m: (found[m], values[m], -len(m), m))


class _Model:
    """The intruder's integer program over the suppressed cells."""

    def __init__(
        self,
        values: Mapping[Key, int],
        relations: Sequence[Relation],
        status: Mapping[Key, Status],
        k: int,
        bounds: Mapping[Key, tuple[int, int | None]] | None = None,
    ) -> None:
        self.status = status
        hidden = sorted(kk for kk, s in status.items() if s is not Status.PUBLISHED)
        self.index = index = {kk: i for i, kk in enumerate(hidden)}
        self.n = n = len(hidden)
        rows: list[int] = []
        cols: list[int] = []
        data: list[float] = []
        lower: list[float] = []
        upper: list[float] = []

        def add(terms: Mapping[Key, float], lo: float, hi: float) -> None:
            # Published cells are constants: move them to the bounds.
            const = 0.0
            row: dict[int, float] = {}
            for kk, coef in terms.items():
                if kk in index:
                    row[index[kk]] = row.get(index[kk], 0.0) + coef
                else:
                    const += coef * values[kk]
            row = {i: c for i, c in row.items() if c != 0.0}
            if not row:
                if not (lo - 1e-9 <= const <= hi + 1e-9):
                    raise DisclosureError("published numbers contradict a relation")
                return
            r = len(lower)
            for i, c in row.items():
                rows.append(r)
                cols.append(i)
                data.append(c)
            lower.append(lo - const)
            upper.append(hi - const)

        for rel in relations:
            if not any(m in index for m in rel.members()):
                continue
            total: dict[Key, float] = {c: 1.0 for c in rel.children}
            total[rel.parent] = total.get(rel.parent, 0.0) - 1.0
            if rel.kind == "eq":
                add(total, 0.0, 0.0)
            else:
                add(total, 0.0, np.inf)
                for c in rel.children:
                    if c in index or rel.parent in index:
                        add({c: 1.0, rel.parent: -1.0}, -np.inf, 0.0)
        # Every count is at most the grand total (always published).
        top = float(values[GRAND_TOTAL]) if GRAND_TOTAL in values else np.inf
        linked = bounds or {}

        def bound(kk: Key) -> tuple[float, float]:
            if status[kk] is Status.PRIMARY:
                return 1.0, float(k - 1)
            if status[kk] is Status.LINKED:
                low, high = linked.get(kk, (0, None))
                return float(low), min(top, np.inf if high is None else float(high))
            return float(k), max(float(k), top)

        ends = [bound(kk) for kk in hidden]
        self.bounds = Bounds(np.array([e[0] for e in ends]), np.array([e[1] for e in ends]))
        self.constraints = []
        if lower:
            a = coo_array((data, (rows, cols)), shape=(len(lower), n)).tocsr()
            self.constraints.append(LinearConstraint(a, np.array(lower), np.array(upper)))
        self.integrality = np.ones(n)
        self.program = _fingerprint(
            n, self.bounds.lb, self.bounds.ub, np.array(rows), np.array(cols), np.array(data), lower, upper
        )

    def interval(self, kk: Key) -> Interval:
        i = self.index[kk]
        got = _SOLVED.get((self.program, i))
        if got is not None:
            return got
        ends = []
        for sign in (1.0, -1.0):
            c = np.zeros(self.n)
            c[i] = sign
            res = milp(c, integrality=self.integrality, bounds=self.bounds, constraints=self.constraints)
            if not res.success:
                raise DisclosureError(f"audit could not solve for {_describe(kk)}: {res.message}")
            ends.append(float(res.fun))
        if len(_SOLVED) >= _SOLVED_MAX:
            _SOLVED.clear()
        got = _SOLVED[(self.program, i)] = Interval(round(ends[0]), round(-ends[1]))
        return got


#: Intervals already solved, by integer program and variable. The same
#: program (same constraints and bounds, so the same suppression pattern
#: of the same counts) has the same optimum, so the audit that
#: :func:`check` runs after :func:`suppress_complementary` solves only
#: what suppression has not solved for the very same program. Bounded;
#: holds no count that is not in the caller's own tables.
_SOLVED: dict[tuple[bytes, int], Interval] = {}
_SOLVED_MAX = 4096


def forget_solved() -> None:
    """Empty the store of solved intervals (a benchmark starts cold)."""
    _SOLVED.clear()


def _fingerprint(n: int, *arrays: Any) -> bytes:
    """A digest of an integer program's arrays (each with its length)."""
    h = hashlib.sha256(str(n).encode())
    for arr in arrays:
        a = np.ascontiguousarray(arr, dtype=np.float64)
        h.update(len(a).to_bytes(8, "little"))
        h.update(a.tobytes())
    return h.digest()


def audit(
    values: Mapping[Key, int],
    relations: Sequence[Relation],
    status: Mapping[Key, Status],
    k: int,
    bounds: Mapping[Key, tuple[int, int | None]] | None = None,
    *,
    every: bool = False,
) -> dict[Key, Interval]:
    """The intruder audit: for each primary-suppressed or linked key (every
    suppressed key with ``every``), the smallest and largest integer value
    consistent with the published cells, the relations and the suppression
    rule (primary cells in ``[1, k-1]``, complementary ones ``>= k``,
    linked ones within ``bounds``; all at most the grand total).

    Raises:
        DisclosureError: published numbers contradict the relations.
    """
    targets = sorted(kk for kk, s in status.items() if (s is not Status.PUBLISHED if every else s in TARGETS))
    if not targets:
        return {}
    model = _Model(values, relations, status, k, bounds)
    return {kk: model.interval(kk) for kk in targets}


def intervals_of(
    values: Mapping[Key, int], relations: Sequence[Relation], protection: Protection, keys: Iterable[Key]
) -> dict[Key, Interval]:
    """The intruder's interval for each suppressed key in ``keys``: those
    the audit computed already (primary and linked cells), the others
    (complementary cells) solved here on one model."""
    out: dict[Key, Interval] = {}
    rest = []
    for kk in keys:
        if kk in protection.intervals:
            out[kk] = protection.intervals[kk]
        elif kk in protection.solved:
            out[kk] = protection.solved[kk]
        elif protection.status[kk] is not Status.PUBLISHED:
            rest.append(kk)
    if rest:
        model = _Model(values, relations, protection.status, protection.k, protection.bounds)
        for kk in rest:
            out[kk] = protection.solved[kk] = model.interval(kk)
    return out


def check(protection: Protection, values: Mapping[Key, int], relations: Sequence[Relation]) -> None:
    """Refuse to release unless no published cell is below k and the audit
    passes for every primary cell (recomputed here from the final statuses,
    not trusted; an integer program solved already for exactly these
    statuses is not solved twice).

    Raises:
        DisclosureError: a published cell below k, or an interval narrower
            than the protection level.
    """
    k, p = protection.k, protection.p
    for kk, s in protection.status.items():
        if s is Status.PUBLISHED and 0 < values[kk] < k:
            raise DisclosureError(f"{_describe(kk)} is published below k={k}")
    intervals = audit(values, relations, protection.status, k, protection.bounds)
    for kk, iv in intervals.items():
        if protection.status[kk] in TARGETS and iv.width < p:
            raise DisclosureError(
                f"{_describe(kk)} can be narrowed to {iv.low}..{iv.high} (protection level {p})"
            )
    protection.intervals = intervals
