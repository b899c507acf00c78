"""Briefings: coded records and releases."""

from __future__ import annotations

from sqlalchemy import (
    ForeignKey,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base

# --------------------------------------------------------------------------
# Briefings: coded records. Only reviewers' coding, never report
# text; a later coding UI writes the same rows. See docs/briefings.md.


class CodedCase(Base):
    """A case as coded by reviewers (TAXONOMY.md): the unit briefings count.

    Multi-select fields are ``;``-joined codes. ``vignette_*`` hold only text
    a reviewer wrote and confirmed for release, shown only with
    ``consent_quote``.
    """

    __tablename__ = "coded_cases"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_ref: Mapped[str] = mapped_column(String(64), unique=True)
    incident_month: Mapped[str] = mapped_column(String(7))
    report_month: Mapped[str] = mapped_column(String(7))
    province: Mapped[str] = mapped_column(String(16))
    tactics: Mapped[str] = mapped_column(String(128))
    communities: Mapped[str] = mapped_column(String(512), default="")
    attribution: Mapped[str] = mapped_column(String(1))
    confidence: Mapped[str] = mapped_column(String(8))
    disposition: Mapped[str] = mapped_column(String(32))
    consent_statistics: Mapped[bool] = mapped_column(default=False)
    consent_quote: Mapped[bool] = mapped_column(default=False)
    #: Opaque id tying follow-ups to one reporter, for counting people.
    person_ref: Mapped[str | None] = mapped_column(String(64))
    vignette_en: Mapped[str | None] = mapped_column(Text)
    vignette_fr: Mapped[str | None] = mapped_column(Text)
    #: Where the coding came from: "local" or the label given to an import.
    source: Mapped[str] = mapped_column(String(64), default="local")

    envelopes: Mapped[list[CodedEnvelope]] = relationship(
        back_populates="coded_case", order_by="CodedEnvelope.envelope_id", cascade="all, delete-orphan"
    )


class CodedEnvelope(Base):
    """An envelope linked to a coded case. Unique: one report counts in one
    case only, however many organizations it was addressed to."""

    __tablename__ = "coded_envelopes"

    id: Mapped[int] = mapped_column(primary_key=True)
    envelope_id: Mapped[str] = mapped_column(String(32), unique=True)
    coded_case_id: Mapped[int] = mapped_column(ForeignKey("coded_cases.id", ondelete="CASCADE"), index=True)

    coded_case: Mapped[CodedCase] = relationship(back_populates="envelopes")


class BriefingRelease(Base):
    """A published briefing in the release ledger (admin/briefing/ledger.py):
    the numbers that left the console (every released cell's value or
    ``x``, statuses, intervals), k, p, period, filters, who and when, as the
    JSON ``body``. Never a coded case. Exported and imported with the coded
    records, so a new console keeps the history the next release is audited
    against."""

    __tablename__ = "briefing_releases"

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(64), unique=True)
    #: UTC, to the second (the console's time, as in the audit log).
    published_at: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(254))
    #: "local", or the label of the import that brought it.
    origin: Mapped[str] = mapped_column(String(64), default="local")
    period_start: Mapped[str] = mapped_column(String(7))
    period_end: Mapped[str] = mapped_column(String(7))
    k: Mapped[int] = mapped_column()
    p: Mapped[int] = mapped_column()
    filters: Mapped[str] = mapped_column(String(128))
    body: Mapped[str] = mapped_column(Text)
