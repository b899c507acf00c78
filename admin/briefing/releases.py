"""What the release ledger holds: a published briefing as a
:class:`Release` (every released cell's value or ``x``, the intruder's
interval for each suppressed one, k, p, the period, the filters, who and
when; never a coded case), its interchange form, and its storage.

The audit that reads these releases before the next briefing is published
is :mod:`admin.briefing.ledger`.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import BriefingRelease
from . import codes
from .build import Briefing, Filters, Period
from .sdc import DisclosureError, Key, Status, intervals_of

LEDGER_FORMAT = "tnr-briefing-release"
LEDGER_VERSION = 1


class LedgerError(ValueError):
    """A release record that cannot be read (names the field, never a value)."""


# -- what a release holds --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReleasedCell:
    """One released number: its key, its value (None: suppressed, ``x``),
    and for a suppressed cell its status and the intruder's interval."""

    key: Key
    value: int | None
    status: str
    low: int | None = None
    high: int | None = None

    def interval(self) -> tuple[int, int] | None:
        """What an intruder knows of the cell: ``(v, v)`` when published."""
        if self.value is not None:
            return self.value, self.value
        if self.low is None or self.high is None:
            return None
        return self.low, self.high


@dataclass
class Release:
    """A published briefing as the ledger records it."""

    uid: str
    published_at: str
    actor: str
    #: "local", or the label of the import it came with (another console's).
    origin: str
    period: Period
    filters: Filters
    k: int
    p: int
    total: int
    sources: list[str]
    pooled_communities: list[str]
    #: ``{"id", "row_dim", "col_dim", "rows", "cols"}`` per table, in order.
    tables: list[dict[str, Any]]
    cells: list[ReleasedCell] = field(default_factory=list)

    def name(self) -> str:
        """How a refusal names the release: id, period, filters, who."""
        filt = self.filters.describe()
        where = f"{self.period.start}..{self.period.end}" + ("" if filt == "none" else f", {filt}")
        origin = "" if self.origin == "local" else f", from {self.origin}"
        return f"release {self.uid} ({where}, k={self.k}{origin})"

    def to_json(self) -> dict[str, Any]:
        """The interchange form (also the database's ``body``)."""
        return {
            "format": LEDGER_FORMAT,
            "version": LEDGER_VERSION,
            "uid": self.uid,
            "published_at": self.published_at,
            "actor": self.actor,
            "origin": self.origin,
            "period": [self.period.start, self.period.end],
            "filters": {"province": self.filters.province, "community": self.filters.community},
            "k": self.k,
            "p": self.p,
            "total": self.total,
            "sources": self.sources,
            "pooled_communities": self.pooled_communities,
            "tables": self.tables,
            "cells": [[[list(pair) for pair in c.key], c.value, c.status, c.low, c.high] for c in self.cells],
        }

    @classmethod
    def from_json(cls, doc: Any, where: str = "release") -> Release:
        """Read :meth:`to_json` back, validating every field.

        Raises:
            LedgerError: a missing or malformed field (named, never its value).
        """
        if not isinstance(doc, dict) or doc.get("format") != LEDGER_FORMAT:
            raise LedgerError(f"{where}: not a {LEDGER_FORMAT} record")
        if doc.get("version") != LEDGER_VERSION:
            raise LedgerError(f"{where}: unsupported release version")
        try:
            uid = str(doc["uid"])
            if not codes.CASE_ID_RE.match(uid):
                raise LedgerError(f"{where}: uid")
            start, end = doc["period"]
            period = Period.parse(str(start), str(end))
            filt = doc["filters"]
            filters = Filters.parse(filt.get("province"), filt.get("community"))
            cells = []
            for item in doc["cells"]:
                pairs, value, status, low, high = item
                kk = tuple((str(d), str(v)) for d, v in pairs)
                cells.append(
                    ReleasedCell(
                        kk,
                        None if value is None else int(value),
                        Status(str(status)).value,
                        None if low is None else int(low),
                        None if high is None else int(high),
                    )
                )
            tables = [
                {
                    "id": str(t["id"]),
                    "row_dim": str(t["row_dim"]),
                    "col_dim": None if t["col_dim"] is None else str(t["col_dim"]),
                    "rows": [str(r) for r in t["rows"]],
                    "cols": [str(c) for c in t["cols"]],
                }
                for t in doc["tables"]
            ]
            return cls(
                uid=uid,
                published_at=str(doc["published_at"])[:20],
                actor=str(doc["actor"])[:254],
                origin=str(doc.get("origin") or "local")[:64],
                period=period,
                filters=filters,
                k=int(doc["k"]),
                p=int(doc["p"]),
                total=int(doc["total"]),
                sources=[str(s)[:64] for s in doc.get("sources", [])],
                pooled_communities=[str(c) for c in doc.get("pooled_communities", [])],
                tables=tables,
                cells=cells,
            )
        except LedgerError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise LedgerError(f"{where}: malformed release record") from exc


def new_uid() -> str:
    """A release id: ``R`` and 12 hex digits (random, so two consoles'
    releases never collide when their ledgers are merged)."""
    return "R" + secrets.token_hex(6)


def release_of(b: Briefing, actor: str, published_at: str, uid: str | None = None) -> Release:
    """What the ledger records for briefing ``b``: every released cell once
    (a margin shared by several tables is one cell), with the intruder's
    interval for each suppressed one."""
    if b.draft:
        raise DisclosureError("a draft is not released")
    intervals = intervals_of(b.values, b.relations, b.protection, b.protection.suppressed())
    cells = []
    for kk in sorted({kk for t in b.tables for kk in t.cell_keys()}):
        status = b.protection.status[kk]
        if status is Status.PUBLISHED:
            cells.append(ReleasedCell(kk, b.values[kk], status.value))
        else:
            iv = intervals[kk]
            cells.append(ReleasedCell(kk, None, status.value, iv.low, iv.high))
    return Release(
        uid=uid or new_uid(),
        published_at=published_at,
        actor=actor,
        origin="local",
        period=b.period,
        filters=b.filters,
        k=b.k,
        p=b.protection.p,
        total=b.total,
        sources=list(b.sources),
        pooled_communities=list(b.pooled_communities),
        tables=[
            {
                "id": t.spec.id,
                "row_dim": t.spec.row_dim,
                "col_dim": t.spec.col_dim,
                "rows": list(t.rows),
                "cols": list(t.cols),
            }
            for t in b.tables
        ],
        cells=cells,
    )


# -- storage -----------------------------------------------------------------------


def load_releases(session: Session) -> list[Release]:
    """Every release in the ledger, oldest first."""
    rows = session.scalars(select(BriefingRelease).order_by(BriefingRelease.id)).all()
    return [Release.from_json(json.loads(row.body), f"release {row.uid}") for row in rows]


def store_release(session: Session, release: Release) -> bool:
    """Add ``release`` to the ledger; False when its uid is there already
    (an import of a ledger this console has)."""
    if session.scalar(select(BriefingRelease.id).where(BriefingRelease.uid == release.uid)) is not None:
        return False
    session.add(
        BriefingRelease(
            uid=release.uid,
            published_at=release.published_at,
            actor=release.actor,
            origin=release.origin,
            period_start=release.period.start,
            period_end=release.period.end,
            k=release.k,
            p=release.p,
            filters=release.filters.describe(),
            body=json.dumps(release.to_json(), sort_keys=True, separators=(",", ":")),
        )
    )
    session.flush()
    return True


def relabel(release: Release, source: str) -> Release:
    """A release read from another console's export: its "local" is that
    console, named here by the import's ``source`` label."""
    if release.origin == "local":
        release.origin = source
    release.sources = [source if s == "local" else s for s in release.sources]
    return release


def as_mapping(releases: Iterable[Release]) -> list[dict[str, Any]]:
    """Releases for an export (oldest first)."""
    return [r.to_json() for r in releases]
