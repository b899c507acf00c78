"""The console's own records: the sync cursor and the audit log."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class SyncState(Base):
    """Where a sync source's cursor stands (the last intake seq handled)."""

    __tablename__ = "sync_state"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    cursor: Mapped[int] = mapped_column(Integer, default=0)


class AuditEntry(Base):
    """One entry of the hash-chained audit log (see :mod:`admin.audit.log`).
    Never carries report content: actor, action, object id and a short
    detail written by the console itself."""

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    #: UTC, ISO 8601 to the second ("2026-11-29T09:16:06Z").
    at: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(254))
    action: Mapped[str] = mapped_column(String(64))
    object_id: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(String(500), default="")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
