"""Cases: an opened envelope and what reviewers add to it (attachments, tags, notes, replies,
coding, links, vignettes), the quarantine of what did not open, and reply templates."""

from __future__ import annotations

import enum
from datetime import date

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base


class Case(Base):
    """An opened envelope. Content columns (``*_ct``) are nonce || AES-256-GCM
    ciphertext under the data key, bound to the envelope id and field."""

    __tablename__ = "cases"
    # The inbox sorts urgent first, then newest; each filter
    # has an index that also serves that order (100,000 cases, paged).
    __table_args__ = (
        Index("ix_cases_urgent_seq", "urgent", "seq"),
        Index("ix_cases_status_urgent_seq", "status", "urgent", "seq"),
        Index("ix_cases_assignee_id_urgent_seq", "assignee_id", "urgent", "seq"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    envelope_id: Mapped[str] = mapped_column(String(32), unique=True)
    #: The intake's insertion sequence number.
    seq: Mapped[int] = mapped_column(Integer, index=True)
    day: Mapped[date] = mapped_column(Date)
    sealed_by: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(32), default="new")
    # --- triage (admin/cases/triage.py) ---
    #: Imminent danger: listed first.
    urgent: Mapped[bool] = mapped_column(default=False, server_default="0")
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    #: The envelope's cleartext header bytes, needed to open attachments.
    header: Mapped[bytes] = mapped_column(LargeBinary)
    content_key_ct: Mapped[bytes] = mapped_column(LargeBinary)
    report_ct: Mapped[bytes] = mapped_column(LargeBinary)
    # --- reporter follow-ups: the envelope id of the report this one adds
    # to (the intake API's ``follows``, checked against the sealed body).
    # A follow-up is shown on its report's case page, not in the inbox.
    follows: Mapped[str | None] = mapped_column(String(32), index=True, default=None)
    # --- the reporter's consent to statistics and to quoting, copied at sync
    # from the sealed report: briefings need them without the key unlocked.
    # Two booleans, no content; False unless the reporter ticked the box.
    consent_statistics: Mapped[bool] = mapped_column(default=False, server_default="0")
    consent_quote: Mapped[bool] = mapped_column(default=False, server_default="0")
    # --- the conversation (envelope format v2, core/envelope/conversation.py):
    # a v2 report's auth key, sealed under the data key like the report
    # (field "auth-key"); replies are proved under it. None for an older
    # (v1) report and for follow-ups.
    auth_key_ct: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    # A follow-up whose proof verified under its report's auth key at sync;
    # False for a follow-up of an older report ("not authenticated").
    followup_verified: Mapped[bool] = mapped_column(default=False, server_default="0")
    # --- retention: the day the case was last set to "closed"
    # (None while it is not closed); purge counts RETENTION_DAYS_CLOSED from it.
    closed_day: Mapped[date | None] = mapped_column(Date, default=None)

    attachments: Mapped[list[CaseAttachment]] = relationship(
        back_populates="case", order_by="CaseAttachment.position", cascade="all, delete-orphan"
    )


class CaseAttachment(Base):
    """A sealed attachment kept as received in ``DATA_DIR/blobs``; its name,
    type, size and digest are in ``meta_ct`` (JSON, under the data key)."""

    __tablename__ = "case_attachments"
    __table_args__ = (UniqueConstraint("case_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    ciphertext_size: Mapped[int] = mapped_column(Integer)
    #: File name inside ``DATA_DIR/blobs``.
    blob: Mapped[str] = mapped_column(String(128))
    meta_ct: Mapped[bytes] = mapped_column(LargeBinary)

    case: Mapped[Case] = relationship(back_populates="attachments")


class Quarantine(Base):
    """An envelope that did not open. Kept with the reason, never dropped."""

    __tablename__ = "quarantine"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    envelope_id: Mapped[str | None] = mapped_column(String(64), index=True)
    error_class: Mapped[str] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(Text)
    #: The cleartext header as received, if it could be decoded.
    header: Mapped[bytes | None] = mapped_column(LargeBinary)
    day: Mapped[date] = mapped_column(Date)


class Disposition(enum.StrEnum):
    """A case's status in triage."""

    NEW = "new"
    IN_REVIEW = "in_review"
    NEEDS_INFORMATION = "needs_information"
    VERIFIED = "verified"
    REFERRED = "referred"
    CLOSED = "closed"
    SPAM = "spam"
    DUPLICATE = "duplicate"


DISPOSITIONS = tuple(d.value for d in Disposition)


class CaseTag(Base):
    """A reviewer's label on a case ([a-z0-9-], in clear so the inbox can
    filter by it: never a name)."""

    __tablename__ = "case_tags"
    __table_args__ = (UniqueConstraint("case_id", "tag"), Index("ix_case_tags_tag_case_id", "tag", "case_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    tag: Mapped[str] = mapped_column(String(32))


class CaseNote(Base):
    """An internal note: text AES-256-GCM under the data key, bound to the
    envelope id and ``note/<uid>``."""

    __tablename__ = "case_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    day: Mapped[date] = mapped_column(Date)
    body_ct: Mapped[bytes] = mapped_column(LargeBinary)


class CaseReply(Base):
    """A reply a reviewer sent to the reporter. The intake holds it sealed
    to the reporter's reply key (``reply_id`` is that envelope's id); the
    console keeps its own copy of the text, AES-256-GCM under the data key,
    bound to the envelope id and ``reply/<uid>``, for the case timeline."""

    __tablename__ = "case_replies"

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    day: Mapped[date] = mapped_column(Date)
    reply_id: Mapped[str] = mapped_column(String(32), unique=True)
    body_ct: Mapped[bytes] = mapped_column(LargeBinary)


class CaseCoding(Base):
    """The reviewer's TNR coding of a case (shared/TAXONOMY.md), one row per
    case, apart from what the reporter ticked (which stays inside the
    sealed report). Codes only, no free text: this is what briefings count.
    Tactics and communities are child rows so the inbox can filter on an
    index."""

    __tablename__ = "case_codings"
    __table_args__ = (
        CheckConstraint("attribution IN ('A', 'B', 'C', 'D', 'E')", name="attribution"),
        CheckConstraint("confidence IN ('low', 'medium', 'high')", name="confidence"),
    )

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True)
    attribution: Mapped[str | None] = mapped_column(String(1))
    confidence: Mapped[str | None] = mapped_column(String(8))
    #: prc, hksar, other, unknown.
    state: Mapped[str | None] = mapped_column(String(16))
    #: ISO 3166-2:CA code (CA-ON), "online" or "abroad".
    province: Mapped[str | None] = mapped_column(String(8), index=True)
    #: Month of the incident, YYYY-MM (not the report's day), or None.
    incident_month: Mapped[str | None] = mapped_column(String(7))
    coded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    coded_day: Mapped[date] = mapped_column(Date)
    #: Bumped on every change, so an export can tell a newer coding.
    version: Mapped[int] = mapped_column(Integer, default=1)

    tactics: Mapped[list[CaseCodingTactic]] = relationship(
        cascade="all, delete-orphan", order_by="CaseCodingTactic.code"
    )
    communities: Mapped[list[CaseCodingCommunity]] = relationship(
        cascade="all, delete-orphan", order_by="CaseCodingCommunity.code"
    )


class CaseCodingTactic(Base):
    """A tactic code (T01-T15, T99) of a case's coding."""

    __tablename__ = "case_coding_tactics"
    __table_args__ = (Index("ix_case_coding_tactics_code_case_id", "code", "case_id"),)

    case_id: Mapped[int] = mapped_column(
        ForeignKey("case_codings.case_id", ondelete="CASCADE"), primary_key=True
    )
    code: Mapped[str] = mapped_column(String(3), primary_key=True)


class CaseCodingCommunity(Base):
    """A community code of a case's coding."""

    __tablename__ = "case_coding_communities"
    __table_args__ = (Index("ix_case_coding_communities_code_case_id", "code", "case_id"),)

    case_id: Mapped[int] = mapped_column(
        ForeignKey("case_codings.case_id", ondelete="CASCADE"), primary_key=True
    )
    code: Mapped[str] = mapped_column(String(32), primary_key=True)


class PurgedEnvelope(Base):
    """A tombstone: an envelope whose case was purged (retention), by id and
    day. Sync skips these ids, so an envelope the intake still serves (another
    organization holds it, or its deletion failed) is never added again."""

    __tablename__ = "purged_envelopes"

    envelope_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    day: Mapped[date] = mapped_column(Date)


class LinkKind(enum.StrEnum):
    """How two cases are linked. ``duplicate``: the case is a
    duplicate of the other (same incident reported again); ``related``:
    a connection worth seeing (same perpetrator, same event), counted apart."""

    RELATED = "related"
    DUPLICATE = "duplicate"


LINK_KINDS = tuple(k.value for k in LinkKind)


class CaseLink(Base):
    """A link between two cases of this console. For ``duplicate``,
    ``case_id`` is the duplicate and ``other_id`` the case it duplicates;
    ``related`` is symmetric. One link per pair of cases (either direction,
    enforced by :func:`admin.cases.links.add_link`). Ids and a kind only."""

    __tablename__ = "case_links"
    __table_args__ = (
        UniqueConstraint("case_id", "other_id"),
        CheckConstraint("kind IN ('related', 'duplicate')", name="kind"),
        CheckConstraint("case_id <> other_id", name="not_self"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    other_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    day: Mapped[date] = mapped_column(Date)


class CaseVignette(Base):
    """A short anonymized account a reviewer wrote for briefings,
    one per case. The text (JSON ``{"en", "fr"}``) is AES-256-GCM under the
    data key, bound to the envelope id and ``vignette/<rev>``; every edit
    bumps ``rev``. A coordinator's release names the revision it confirmed
    (``released_rev``), so an edit, or an older ciphertext put back, is
    never released without a new confirmation (invariant 8)."""

    __tablename__ = "case_vignettes"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True)
    rev: Mapped[int] = mapped_column(Integer, default=1)
    body_ct: Mapped[bytes] = mapped_column(LargeBinary)
    written_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    written_day: Mapped[date] = mapped_column(Date)
    #: The revision a coordinator released, or None.
    released_rev: Mapped[int | None] = mapped_column(Integer, default=None)
    released_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    released_day: Mapped[date | None] = mapped_column(Date, default=None)

    @property
    def released(self) -> bool:
        """Whether the current text is the released one."""
        return self.released_rev is not None and self.released_rev == self.rev


class ReplyTemplate(Base):
    """A reply for a common situation, kept by coordinators
    (admin/replytemplates/service.py): its text in each reporter language (the
    reporter's form languages: ``en``, ``fr``, ``zh_Hant``, ``zh_Hans``),
    and a title and short meaning in each console language (``en``, ``fr``,
    ``zh_Hant``; French and Chinese may be empty, then English shows). No
    reporter content: a template is the organization's own words, kept in
    clear. A retired template is kept (the audit log names it) but no
    longer offered on the case page."""

    __tablename__ = "reply_templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Stable name (lower-case letters, digits, hyphens): the starter set's
    #: seed and the audit log refer to it.
    key: Mapped[str] = mapped_column(String(40), unique=True)
    #: Order on the case page and the list, smallest first.
    position: Mapped[int] = mapped_column(Integer, default=100)
    retired: Mapped[bool] = mapped_column(default=False, server_default="0")
    title_en: Mapped[str] = mapped_column(String(120))
    title_fr: Mapped[str] = mapped_column(String(120), default="")
    title_zh_hant: Mapped[str] = mapped_column(String(120), default="")
    summary_en: Mapped[str] = mapped_column(Text)
    summary_fr: Mapped[str] = mapped_column(Text, default="")
    summary_zh_hant: Mapped[str] = mapped_column(Text, default="")
    text_en: Mapped[str] = mapped_column(Text)
    text_fr: Mapped[str] = mapped_column(Text)
    text_zh_hant: Mapped[str] = mapped_column(Text)
    text_zh_hans: Mapped[str] = mapped_column(Text)
