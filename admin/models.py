"""The console's database models (SQLAlchemy 2, typed).

Nothing a reporter wrote is stored in clear: report fields, attachment names
and types, and envelope content keys are AES-256-GCM ciphertext under the
data key (see :mod:`admin.custody`). The envelope header is kept as received:
it is cleartext at the intake too (ids, day, padded sizes, recipient key ids).
"""

from __future__ import annotations

import enum
from datetime import date

from sqlalchemy import CheckConstraint, Date, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from intake.db import new_metadata


class Base(DeclarativeBase):
    """Declarative base of the console, with the project's naming convention."""

    metadata = new_metadata()


class Role(enum.StrEnum):
    """What an account may do. Reviewers read and triage; coordinators also
    unlock and lock the organization key; admins also manage accounts."""

    REVIEWER = "reviewer"
    COORDINATOR = "coordinator"
    ADMIN = "admin"


ROLES = tuple(r.value for r in Role)
#: Roles allowed to unlock the organization key with its passphrase.
UNLOCK_ROLES = frozenset({Role.COORDINATOR.value, Role.ADMIN.value})


class User(Base):
    """A console account. Implements the Flask-Login user interface."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint("role IN ('reviewer', 'coordinator', 'admin')", name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    #: Argon2id PHC string ($argon2id$v=19$m=…,t=…,p=…$salt$hash).
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(default=True)

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.id)

    @property
    def can_unlock(self) -> bool:
        """Whether this account may unlock the organization key."""
        return self.role in UNLOCK_ROLES


class DataKeyWrap(Base):
    """The console's data key, HPKE-sealed to one organization public key."""

    __tablename__ = "data_key_wraps"

    id: Mapped[int] = mapped_column(primary_key=True)
    key_id: Mapped[str] = mapped_column(String(64), unique=True)
    #: HPKE X-Wing enc || AES-256-GCM ciphertext of the 32-byte data key.
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)


class Case(Base):
    """An opened envelope. Content columns (``*_ct``) are nonce || AES-256-GCM
    ciphertext under the data key, bound to the envelope id and field."""

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(primary_key=True)
    envelope_id: Mapped[str] = mapped_column(String(32), unique=True)
    #: The intake's insertion sequence number.
    seq: Mapped[int] = mapped_column(Integer, index=True)
    day: Mapped[date] = mapped_column(Date)
    sealed_by: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(32), default="new")
    #: The envelope's cleartext header bytes, needed to open attachments.
    header: Mapped[bytes] = mapped_column(LargeBinary)
    content_key_ct: Mapped[bytes] = mapped_column(LargeBinary)
    report_ct: Mapped[bytes] = mapped_column(LargeBinary)

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


class SyncState(Base):
    """Where a sync source's cursor stands (the last intake seq handled)."""

    __tablename__ = "sync_state"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    cursor: Mapped[int] = mapped_column(Integer, default=0)
