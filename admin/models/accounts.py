"""Accounts: reviewers, coordinators and admins, their login sessions and WebAuthn credentials."""

from __future__ import annotations

import enum
from datetime import date

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class Role(enum.StrEnum):
    """What an account may do. Reviewers read and triage; coordinators also
    unlock and lock the organization key; admins also manage accounts."""

    REVIEWER = "reviewer"
    COORDINATOR = "coordinator"
    ADMIN = "admin"


ROLES = tuple(r.value for r in Role)


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
    # --- second factor and lockout (admin/auth/accounts.py) ---
    #: Consecutive failed logins (password or second factor); 0 after a login.
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: Unix time until which logins are refused (backoff), or None.
    locked_until: Mapped[int | None] = mapped_column(BigInteger, default=None)
    #: The same two for browsers that completed a login to this account
    #: before (a device token, admin/auth/devices.py): a stranger's guesses
    #: never pause them (admin/auth/accounts.py, "Lockout").
    device_failed_logins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    device_locked_until: Mapped[int | None] = mapped_column(BigInteger, default=None)
    #: TOTP secret, AES-256-GCM under a key derived from SECRET_KEY, or None.
    totp_secret_ct: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    #: The last TOTP time step accepted: a code is used once, never an older one.
    totp_last_step: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    #: The console language this reviewer chose (a locale of admin/i18n.py:
    #: "en", "fr", "zh_Hant"), or None: the browser's Accept-Language decides.
    locale: Mapped[str | None] = mapped_column(String(16), default=None)

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
        from ..permissions import Permission, allows  # the one table of who may do what

        return allows(self.role, Permission.UNLOCK_KEY)


class LoginSession(Base):
    """A logged-in browser session, server side. The cookie carries a random
    token; only its SHA-256 is stored. Logout deletes the row, so a copied
    cookie is worth nothing afterwards; idle timeout and absolute lifetime
    are checked against these times (Unix seconds)."""

    __tablename__ = "login_sessions"

    #: SHA-256 hex of the session token.
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[int] = mapped_column(BigInteger)
    last_seen: Mapped[int] = mapped_column(BigInteger)


class WebAuthnCredential(Base):
    """A registered security key or passkey of an account."""

    __tablename__ = "webauthn_credentials"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    credential_id: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    #: COSE public key as the authenticator gave it.
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    sign_count: Mapped[int] = mapped_column(BigInteger, default=0)
    #: A name the reviewer chose ("blue key").
    name: Mapped[str] = mapped_column(String(64))
    created_day: Mapped[date] = mapped_column(Date)
