"""The intake's tables. They hold sealed envelopes and what is needed to
serve them to reviewers; never plaintext, never an address, never a finer time
than the day (DESIGN.md invariants 1 and 3). Ordering uses ``seq``.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import ForeignKey, LargeBinary, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from core.db import new_metadata


class Base(DeclarativeBase):
    """Declarative base of the intake database."""

    metadata = new_metadata()


class Envelope(Base):
    """A committed sealed envelope. The attachment ciphertexts live in the
    blob store under ``envelope_id``; the row is written only after they are
    durable, so a row always points at complete blobs (invariant 5)."""

    __tablename__ = "envelope"
    #: seq numbers are never reused, also after the newest envelope is
    #: deleted: consoles read "after the last seq they stored" (migration 0005).
    __table_args__ = {"sqlite_autoincrement": True}

    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    envelope_id: Mapped[str] = mapped_column(String(32), unique=True)
    day: Mapped[date]
    sealed_by: Mapped[str] = mapped_column(String(16))
    header: Mapped[bytes] = mapped_column(LargeBinary)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    attachment_sizes: Mapped[str] = mapped_column(Text, default="")
    #: Keyed hash of the form's one-time submission token (see
    #: :func:`intake.store.envelopes.store_envelope`): a second POST of the same form
    #: finds it and stores nothing. Unique; NULL when the client sent none.
    submission_hash: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    #: Follow-ups: the ``seq`` of the report this envelope adds
    #: to, when the reporter sent it with the report's receipt; NULL for a
    #: report. The sealed body says the same (``"follows"``, the report's
    #: envelope id), so a console can check the two agree
    #: (docs/report-fields.md, "Follow-ups").
    followup_of: Mapped[int | None] = mapped_column(
        ForeignKey("envelope.seq", ondelete="CASCADE"), index=True, default=None
    )

    recipients: Mapped[list[EnvelopeRecipient]] = relationship(
        back_populates="envelope", cascade="all, delete-orphan"
    )
    receipts: Mapped[list[ReceiptRecord]] = relationship(cascade="all, delete-orphan")
    blobs: Mapped[list[EnvelopeBlob]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, order_by="EnvelopeBlob.position"
    )
    replies: Mapped[list[Reply]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, order_by="Reply.seq"
    )

    @property
    def sizes(self) -> list[int]:
        """Ciphertext size of each attachment, in bytes."""
        return [int(s) for s in self.attachment_sizes.split(",") if s]


class EnvelopeRecipient(Base):
    """Which recipient (organization) and key an envelope is sealed to: the
    index the reviewer API filters on."""

    __tablename__ = "envelope_recipient"

    envelope_seq: Mapped[int] = mapped_column(
        ForeignKey("envelope.seq", ondelete="CASCADE"), primary_key=True
    )
    key_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    recipient_id: Mapped[str] = mapped_column(String(64), index=True)

    envelope: Mapped[Envelope] = relationship(back_populates="recipients")


class EnvelopeBlob(Base):
    """An attachment ciphertext kept in the database (``BLOB_STORE =
    "database"``, the default on PostgreSQL), so that every intake host
    sharing the database serves it, and so that it commits in the same
    transaction as its envelope."""

    __tablename__ = "envelope_blob"

    envelope_seq: Mapped[int] = mapped_column(
        ForeignKey("envelope.seq", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class Reply(Base):
    """A reviewer's reply to a report, sealed in the console to the
    reporter's reply key (the report header's ``reply_key``, derived from
    the receipt: docs/envelope.md, "Reply keys"). The intake holds only the
    reply envelope's header and body ciphertext; only the receipt opens it.
    Deleted with its report."""

    __tablename__ = "reply"

    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    #: The report (never a follow-up) this reply answers.
    envelope_seq: Mapped[int] = mapped_column(ForeignKey("envelope.seq", ondelete="CASCADE"), index=True)
    #: The reply envelope's own id: a console retrying after a lost answer
    #: stores it once.
    reply_id: Mapped[str] = mapped_column(String(32), unique=True)
    header: Mapped[bytes] = mapped_column(LargeBinary)
    body: Mapped[bytes] = mapped_column(LargeBinary)


class ReceiptRecord(Base):
    """A keyed hash (HMAC-SHA256 under the intake's receipt secret) of a
    receipt, for the reporter's later follow-up. The receipt itself is never
    stored."""

    __tablename__ = "receipt"

    receipt_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    envelope_seq: Mapped[int] = mapped_column(ForeignKey("envelope.seq", ondelete="CASCADE"), index=True)


class ApiToken(Base):
    """A reviewer API bearer token of one organization, stored as SHA-256 of
    the token (the token has 256 bits of entropy, so a fast hash is enough)."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    recipient_id: Mapped[str] = mapped_column(String(64), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_day: Mapped[date]
    revoked: Mapped[bool] = mapped_column(default=False)


class SpentChallenge(Base):
    """A proof-of-work challenge (:mod:`intake.report.proofofwork`) already
    used, so that one solved challenge is accepted once by every worker and
    host sharing the database, also after a restart.

    Only a SHA-256 of the challenge's nonce is kept (random; no time in it),
    with ``keep_until``, a day: the spend's UTC day plus enough whole days
    to outlast the challenge's expiry. It says no more than the envelope's
    own ``day``, where a precise expiry (the challenge's issue time plus its
    lifetime) would date a report to the second. Rows past ``keep_until``
    are purged. On SQLite the table has no rowid: rows sit in hash order,
    not in the order they arrived."""

    __tablename__ = "spent_challenge"
    __table_args__ = {"sqlite_with_rowid": False}

    challenge_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    keep_until: Mapped[date] = mapped_column(index=True)
