"""Suppression and the intruder audit on small hand-made tables, including
patterns where naive suppression leaks."""

from __future__ import annotations

import pytest

from admin.briefing.sdc import (
    DisclosureError,
    Protection,
    Relation,
    Status,
    audit,
    check,
    key,
    suppress_complementary,
    suppress_primary,
)

pytestmark = pytest.mark.db_independent

K = 5


def table(cells: list[list[int]]) -> tuple[dict, list[Relation]]:
    """A row x column table with margins and grand total, as keys and
    additive relations."""
    rows = [f"r{i}" for i in range(len(cells))]
    cols = [f"c{j}" for j in range(len(cells[0]))]
    values = {
        key(("row", r), ("col", c)): cells[i][j] for i, r in enumerate(rows) for j, c in enumerate(cols)
    }
    for i, r in enumerate(rows):
        values[key(("row", r))] = sum(cells[i])
    for j, c in enumerate(cols):
        values[key(("col", c))] = sum(row[j] for row in cells)
    values[()] = sum(map(sum, cells))
    rels = [Relation(key(("row", r)), tuple(key(("row", r), ("col", c)) for c in cols), "eq") for r in rows]
    rels += [Relation(key(("col", c)), tuple(key(("row", r), ("col", c)) for r in rows), "eq") for c in cols]
    rels.append(Relation((), tuple(key(("row", r)) for r in rows), "eq"))
    rels.append(Relation((), tuple(key(("col", c)) for c in cols), "eq"))
    return values, rels


def primary_only(values: dict, k: int = K) -> Protection:
    return Protection(k=k, p=2, status=suppress_primary(values, k))


def test_single_suppressed_cell_in_a_row_is_recovered_exactly() -> None:
    values, rels = table([[3, 20, 30], [12, 25, 40], [30, 15, 50]])
    intervals = audit(values, rels, suppress_primary(values, K), K)
    cell = key(("row", "r0"), ("col", "c0"))
    assert intervals[cell].low == intervals[cell].high == 3
    with pytest.raises(DisclosureError, match="narrowed"):
        check(primary_only(values), values, rels)


def test_two_suppressed_per_row_and_column_still_leak_when_small() -> None:
    # A 2x2 block of ones: every row and column has two suppressed cells,
    # which naive "at least two per line" accepts, yet a+b=2 with a,b>=1
    # forces a=b=1.
    values, rels = table([[1, 1, 20], [1, 1, 30], [25, 35, 40]])
    status = suppress_primary(values, K)
    assert sum(s is Status.PRIMARY for s in status.values()) == 4
    intervals = audit(values, rels, status, K)
    assert all(iv.width == 0 for iv in intervals.values())
    with pytest.raises(DisclosureError):
        check(primary_only(values), values, rels)


def test_complementary_suppression_passes_the_audit() -> None:
    values, rels = table([[1, 1, 20], [1, 1, 30], [25, 35, 40]])
    protection = suppress_complementary(values, rels, K)
    check(protection, values, rels)
    assert len(protection.suppressed()) > 4
    for kk, iv in protection.intervals.items():
        assert iv.width >= protection.p, kk
    # No published cell is below k.
    assert not [kk for kk, s in protection.status.items() if s is Status.PUBLISHED and 0 < values[kk] < K]


def test_removing_the_complements_makes_the_audit_refuse() -> None:
    values, rels = table([[3, 20, 30], [12, 25, 40], [30, 15, 50]])
    protection = suppress_complementary(values, rels, K)
    check(protection, values, rels)
    stripped = Protection(
        k=K,
        p=protection.p,
        status={
            kk: (Status.PUBLISHED if s is Status.COMPLEMENTARY else s) for kk, s in protection.status.items()
        },
    )
    with pytest.raises(DisclosureError):
        check(stripped, values, rels)


def test_margin_shared_by_two_tables_is_protected_in_both() -> None:
    # Table A (row x col) and table B (other x col) share the column margins.
    # A small column total suppressed in A would be readable in B if the two
    # were protected apart; one key, one status.
    values, rels = table([[2, 20], [1, 30]])
    values[key(("other", "o0"), ("col", "c0"))] = 2
    values[key(("other", "o1"), ("col", "c0"))] = 1
    values[key(("other", "o0"), ("col", "c1"))] = 25
    values[key(("other", "o1"), ("col", "c1"))] = 25
    values[key(("other", "o0"))] = 27
    values[key(("other", "o1"))] = 26
    for o in ("o0", "o1"):
        rels.append(
            Relation(
                key(("other", o)), (key(("other", o), ("col", "c0")), key(("other", o), ("col", "c1"))), "eq"
            )
        )
    for c in ("c0", "c1"):
        rels.append(
            Relation(
                key(("col", c)), (key(("other", "o0"), ("col", c)), key(("other", "o1"), ("col", c))), "eq"
            )
        )
    rels.append(Relation((), (key(("other", "o0")), key(("other", "o1"))), "eq"))
    protection = suppress_complementary(values, rels, K)
    check(protection, values, rels)
    assert protection.status[key(("col", "c0"))] is Status.PRIMARY  # 3 cases


def test_fewer_than_k_cases_in_all_is_refused() -> None:
    values, rels = table([[1, 1], [1, 0]])
    with pytest.raises(DisclosureError, match="fewer than"):
        suppress_complementary(values, rels, K)
