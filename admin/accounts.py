"""Console accounts: creation, Argon2id password hashes, authentication.

Password hashes are PHC strings from ``cryptography``'s Argon2id (RFC 9106);
the parameters live in the string, so raising them later keeps old hashes
valid. A second factor is not checked yet: see ``admin/auth/views.py``.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping

from cryptography.exceptions import InvalidKey
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from intake.envelope.keys import DEFAULT_ARGON2ID

from .models import ROLES, User

MIN_PASSWORD_LENGTH = 12


class AccountError(ValueError):
    """An account cannot be created: bad e-mail, role or password, or the
    e-mail is taken."""


def normalize_email(email: str) -> str:
    """Trimmed and lower-cased, the form stored and looked up."""
    return email.strip().lower()


def hash_password(password: str, argon2id: Mapping[str, int] | None = None) -> str:
    """Argon2id PHC string of ``password`` with a random 16-byte salt.

    ``argon2id``: ``{"memory_kib", "iterations", "lanes"}``; default RFC 9106
    second recommended option (64 MiB, t=3, p=4).
    """
    params = dict(argon2id or DEFAULT_ARGON2ID)
    return Argon2id(
        salt=secrets.token_bytes(16),
        length=32,
        iterations=params["iterations"],
        lanes=params["lanes"],
        memory_cost=params["memory_kib"],
    ).derive_phc_encoded(password.encode("utf-8"))


def verify_password(password: str, phc: str) -> bool:
    """Whether ``password`` matches the PHC string (False on a malformed one)."""
    try:
        Argon2id.verify_phc_encoded(password.encode("utf-8"), phc)
    except InvalidKey:
        return False
    return True


def create_user(
    session: Session,
    email: str,
    password: str,
    role: str,
    argon2id: Mapping[str, int] | None = None,
) -> User:
    """Add an account (the caller commits).

    Raises:
        AccountError: e-mail without ``@``, unknown role, password shorter
            than :data:`MIN_PASSWORD_LENGTH`, or e-mail already in use.
    """
    email = normalize_email(email)
    if "@" not in email or len(email) > 254 or any(c.isspace() for c in email):
        raise AccountError("not an e-mail address")
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    user = User(email=email, password_hash=hash_password(password, argon2id), role=role, active=True)
    session.add(user)
    try:
        session.flush()
    except IntegrityError as exc:
        raise AccountError("an account with this e-mail exists already") from exc
    return user


_dummy_hashes: dict[tuple[tuple[str, int], ...], str] = {}


def authenticate(
    session: Session, email: str, password: str, argon2id: Mapping[str, int] | None = None
) -> User | None:
    """The active account with this e-mail and password, or None.

    An unknown e-mail costs one Argon2id run too, so timing does not tell
    which addresses have accounts.
    """
    user = session.scalar(select(User).where(User.email == normalize_email(email)))
    if user is None:
        params = dict(argon2id or DEFAULT_ARGON2ID)
        cache_key = tuple(sorted(params.items()))
        dummy = _dummy_hashes.get(cache_key)
        if dummy is None:
            dummy = _dummy_hashes[cache_key] = hash_password(secrets.token_urlsafe(16), params)
        verify_password(password, dummy)
        return None
    if not verify_password(password, user.password_hash) or not user.active:
        return None
    return user
