"""The cells of a briefing's tables and what is known about them: keys,
relations between cells, statuses, the intruder's intervals, and the
outcome of disclosure control. The method itself is
:mod:`admin.briefing.sdc`, which re-exports these names.

A published number is the count of cases that satisfy a conjunction of
coded values, named by a :data:`Key` (a sorted tuple of ``(dimension,
value)`` pairs; ``()`` is the grand total).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

Key = tuple[tuple[str, str], ...]
GRAND_TOTAL: Key = ()


def key(*pairs: tuple[str, str]) -> Key:
    """The canonical key of a conjunction of ``(dimension, value)`` pairs."""
    return tuple(sorted(pairs))


class DisclosureError(Exception):
    """The tables cannot be released: some cell stays recoverable."""


class Status(enum.StrEnum):
    PUBLISHED = "published"
    PRIMARY = "primary"
    COMPLEMENTARY = "complementary"
    #: Suppressed because, with an earlier release, it would disclose
    #: (admin/briefing/ledger.py); audited like a primary cell.
    LINKED = "linked"


#: Audit targets: cells the intruder must not narrow below the protection level.
TARGETS = frozenset({Status.PRIMARY, Status.LINKED})


@dataclass(frozen=True, slots=True)
class Forced:
    """A cell to suppress whatever its value (linked to an earlier
    release): the intruder's bounds on it, ``low..high``, and why."""

    low: int
    high: int | None
    reason: str


@dataclass(frozen=True, slots=True)
class Relation:
    """``parent`` and the cells that split it along one dimension."""

    parent: Key
    children: tuple[Key, ...]
    kind: str  # "eq" or "cover"

    def members(self) -> tuple[Key, ...]:
        return (*self.children, self.parent)


@dataclass(frozen=True, slots=True)
class Interval:
    """The intruder's tightest bounds on a suppressed cell."""

    low: int
    high: int

    @property
    def width(self) -> int:
        return self.high - self.low


@dataclass
class Protection:
    """The outcome of disclosure control: a status per key, why, and the
    intruder's interval per suppressed key."""

    k: int
    p: int
    status: dict[Key, Status]
    reason: dict[Key, str] = field(default_factory=dict)
    intervals: dict[Key, Interval] = field(default_factory=dict)
    #: Linked cells' bounds as the intruder knows them (low, high or None).
    bounds: dict[Key, tuple[int, int | None]] = field(default_factory=dict)
    #: Intervals of other suppressed cells, solved on demand (:func:`intervals_of`).
    solved: dict[Key, Interval] = field(default_factory=dict)

    def suppressed(self) -> list[Key]:
        return sorted(kk for kk, s in self.status.items() if s is not Status.PUBLISHED)
