"""The data key's wraps, and what guards against a seized intake: alarms and the pinned
coalition roster."""

from __future__ import annotations

from datetime import date

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class DataKeyWrap(Base):
    """The console's data key, HPKE-sealed to one organization public key."""

    __tablename__ = "data_key_wraps"

    id: Mapped[int] = mapped_column(primary_key=True)
    key_id: Mapped[str] = mapped_column(String(64), unique=True)
    #: HPKE X-Wing enc || AES-256-GCM ciphertext of the 32-byte data key.
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)


# --------------------------------------------------------------------------
# Against a seized intake: alarms (admin/alarms/service.py) and the pinned coalition
# roster (admin/keys/roster.py).


class Alarm(Base):
    """Something a seized or tampered intake would do, seen by the console
    (a key outside the pinned roster, a page or script that differs from
    this release, ...). Shown in a banner on every console page until a
    coordinator acknowledges it. ``detail`` is written by the console
    itself: key fingerprints, URLs, file names, never report content.
    Times are UTC to the second, as in the audit log."""

    __tablename__ = "alarms"
    __table_args__ = (Index("ix_alarms_acknowledged_at_id", "acknowledged_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: A stable machine name (``roster.unpinned_key``, ``intake.check`` ...).
    kind: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(String(500))
    raised_at: Mapped[str] = mapped_column(String(20))
    #: The last time the same alarm was raised again while still open.
    last_raised_at: Mapped[str] = mapped_column(String(20))
    #: How many times it was raised while open (1 the first time).
    count: Mapped[int] = mapped_column(Integer, default=1)
    acknowledged_at: Mapped[str | None] = mapped_column(String(20), default=None)
    acknowledged_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class RosterKey(Base):
    """A key of the pinned coalition roster (admin/keys/roster.py): what the
    console trusts, whatever the intake's ``keys/`` says. Replaced as a
    whole by ``flask --app admin roster import``."""

    __tablename__ = "roster_keys"
    __table_args__ = (CheckConstraint("status IN ('active', 'retired', 'revoked')", name="status"),)

    #: SHA-256 of the public key, 64 hex digits.
    key_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    recipient_id: Mapped[str] = mapped_column(String(64))
    name_en: Mapped[str] = mapped_column(String(200))
    name_zh: Mapped[str] = mapped_column(String(200))
    #: The 1216-byte X-Wing public key.
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    created: Mapped[date] = mapped_column(Date)
    expires: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(8))
    pinned_day: Mapped[date] = mapped_column(Date)
