"""Console accounts: creation, Argon2id password hashes, authentication.

Password hashes are PHC strings from ``cryptography``'s Argon2id (RFC 9106),
one derivation at a time per process (:mod:`core.envelope.argon2`); the
parameters live in the string, so raising them later keeps old hashes valid.

A second factor is mandatory (``admin/auth/views.py``): WebAuthn security keys
or passkeys (:mod:`admin.webauthn`), TOTP as the fallback (here). Failed
logins count towards a pause with exponential backoff (:func:`record_failure`).
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Mapping

import pyotp
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from core.envelope import argon2
from core.envelope.keys import DEFAULT_ARGON2ID

from ..models import ROLES, LoginSession, User, WebAuthnCredential

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
    return argon2.derive_phc(
        password.encode("utf-8"),
        secrets.token_bytes(16),
        iterations=params["iterations"],
        lanes=params["lanes"],
        memory_kib=params["memory_kib"],
    )


def verify_password(password: str, phc: str) -> bool:
    """Whether ``password`` matches the PHC string (False on a malformed one)."""
    return argon2.verify_phc(password.encode("utf-8"), phc)


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


# --------------------------------------------------------------------------
# Lockout with backoff, kept apart for known browsers
#
# Failed logins pause an account with a doubling backoff. Counted on the
# account alone, a stranger who knows a reviewer's e-mail could keep that
# account paused for ever by typing wrong passwords, and the console sees
# no client address to tell the two apart (nginx hides it). So every
# account has two counters: one for *known browsers*, those that completed
# a full login to this account before (they hold a signed device token,
# admin/auth/devices.py), and one for every other browser. A stranger's
# guesses pause only the second: the reviewer's usual browser keeps working,
# with a backoff of its own for guesses made from it. Both counters stop
# password guessing the same way: a paused counter refuses even the right
# password. See docs/console.md, "Lockout".


def locked_for(user: User, now: float | None = None, *, known_device: bool = False) -> int:
    """Seconds until ``user`` may try to log in again from a known browser
    (``known_device``) or any other (0: now)."""
    now = time.time() if now is None else now
    until = user.device_locked_until if known_device else user.locked_until
    return max(0, int((until or 0) - now))


def _pause(failures: int, max_failures: int, base: int, cap: int) -> int | None:
    """Seconds of pause after ``failures`` failures in a row (None: none)."""
    over = failures - max_failures
    return min(cap, base * 2 ** min(over, 20)) if over >= 0 else None


def record_failure(
    user: User,
    *,
    max_failures: int,
    base: int,
    cap: int,
    now: float | None = None,
    known_device: bool = False,
    session: Session | None = None,
) -> None:
    """Count a failed password or second factor on the counter of known
    browsers (``known_device``) or of all others. From the
    ``max_failures``-th failure on, that counter pauses for ``base``
    seconds, doubling with each further failure up to ``cap``.

    With ``session`` the count is one UPDATE that adds 1 in the database
    (parallel failures all count; read-then-write would lose some) and the
    pause is set from the counted value in the same transaction. The caller
    commits."""
    now = time.time() if now is None else now
    count_col = User.device_failed_logins if known_device else User.failed_logins
    until_col = User.device_locked_until if known_device else User.locked_until
    if session is None:
        failures = (getattr(user, count_col.key) or 0) + 1
    else:
        failures = session.execute(
            update(User)
            .where(User.id == user.id)
            .values({count_col: func.coalesce(count_col, 0) + 1})
            .returning(count_col)
            .execution_options(synchronize_session=False)
        ).scalar_one()
    if session is None:
        setattr(user, count_col.key, failures)
    else:
        set_committed_value(user, count_col.key, failures)
    pause = _pause(failures, max_failures, base, cap)
    if pause is None:
        return
    until = int(now) + pause
    if session is not None:
        session.execute(
            update(User)
            .where(User.id == user.id)
            .values({until_col: until})
            .execution_options(synchronize_session=False)
        )
        set_committed_value(user, until_col.key, until)
    else:
        setattr(user, until_col.key, until)


def record_success(user: User, *, known_device: bool | None = None) -> None:
    """Reset the failure count after a complete login: the counter of the
    kind of browser it came from, or both (``None``: recovery). A login
    from the reviewer's own browser does not clear a stranger's pause on
    other browsers, which would let the stranger start its count again. The
    caller commits."""
    if known_device is not False:
        user.device_failed_logins = 0
        user.device_locked_until = None
    if known_device is not True:
        user.failed_logins = 0
        user.locked_until = None


# --------------------------------------------------------------------------
# TOTP (RFC 6238: SHA-1, 6 digits, 30 s), the fallback second factor

TOTP_STEP = 30
_TOTP_LABEL = b"tnr-intake/console/v1/totp-secret"


def _totp_key(secret_key: str) -> bytes:
    # The TOTP secret must be readable at login, while the organization key
    # may be locked, so it cannot sit under the data key. It is encrypted under
    # a key derived from the app's SECRET_KEY (a file apart from the
    # database), so a leaked database alone does not give the codes away.
    return HKDF(hashes.SHA256(), 32, salt=None, info=_TOTP_LABEL).derive(secret_key.encode("utf-8"))


def new_totp_secret() -> str:
    """A random 160-bit base32 TOTP secret."""
    return pyotp.random_base32(32)


def totp_uri(secret: str, email: str, issuer: str) -> str:
    """The ``otpauth://`` URI an authenticator app reads."""
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=issuer)


def encrypt_totp_secret(secret_key: str, user_id: int, secret: str) -> bytes:
    """A TOTP secret encrypted at rest for ``user_id``: AES-256-GCM under a
    key derived from ``SECRET_KEY``, the account id bound in; nonce ||
    ciphertext."""
    nonce = secrets.token_bytes(12)
    aad = _TOTP_LABEL + b"\x00" + str(user_id).encode("ascii")
    return nonce + AESGCM(_totp_key(secret_key)).encrypt(nonce, secret.encode("ascii"), aad)


def decrypt_totp_secret(secret_key: str, user_id: int, ciphertext: bytes) -> str | None:
    """Decrypt what :func:`encrypt_totp_secret` made for ``user_id``; None if
    it does not authenticate (edited, or for another account)."""
    aad = _TOTP_LABEL + b"\x00" + str(user_id).encode("ascii")
    try:
        return AESGCM(_totp_key(secret_key)).decrypt(ciphertext[:12], ciphertext[12:], aad).decode("ascii")
    except (InvalidTag, UnicodeDecodeError, ValueError):
        return None


def _open_totp(secret_key: str, user: User) -> str | None:
    if user.totp_secret_ct is None:
        return None
    sealed = user.totp_secret_ct
    aad = _TOTP_LABEL + b"\x00" + str(user.id).encode("ascii")
    try:
        return AESGCM(_totp_key(secret_key)).decrypt(sealed[:12], sealed[12:], aad).decode("ascii")
    except (InvalidTag, UnicodeDecodeError):
        return None


def _matching_step(secret: str, code: str, after: int, now: float) -> int | None:
    """The time step (now ±1) whose code is ``code`` and that is later than
    ``after``, or None."""
    code = "".join(code.split())
    if not (code.isascii() and code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    current = int(now) // TOTP_STEP
    found: int | None = None
    for step in (current - 1, current, current + 1):
        # Compare every candidate (constant time, no early exit).
        if hmac.compare_digest(totp.at(step * TOTP_STEP), code) and step > after and found is None:
            found = step
    return found


def enrol_totp(user: User, secret: str, code: str, secret_key: str, now: float | None = None) -> bool:
    """Store ``secret`` as the account's TOTP secret if ``code`` proves the
    authenticator app has it. The caller commits. Returns whether it did."""
    step = _matching_step(secret, code, 0, time.time() if now is None else now)
    if step is None:
        return False
    user.totp_secret_ct = encrypt_totp_secret(secret_key, user.id, secret)
    user.totp_last_step = step
    return True


def verify_totp(
    user: User, code: str, secret_key: str, now: float | None = None, *, session: Session | None = None
) -> bool:
    """Check a TOTP code: the current 30-second step or one either side, and
    only a step later than the last one accepted, so each code (and any code
    before it) works once. The caller commits (the step is remembered).

    With ``session`` (every login), the step is consumed by one conditional
    UPDATE (``… SET totp_last_step = step WHERE totp_last_step < step``):
    of several logins sending one code at once, the database lets exactly
    one change the row, and the others find it changed (PostgreSQL
    re-checks the condition after the first commits; SQLite runs one
    writer at a time). Reading the step, then writing it, would let them all
    in. Without ``session`` only ``user`` changes (unit tests)."""
    secret = _open_totp(secret_key, user)
    if secret is None:
        return False
    step = _matching_step(secret, code, user.totp_last_step or 0, time.time() if now is None else now)
    if step is None:
        return False
    if session is None:
        user.totp_last_step = step
        return True
    consumed = session.execute(
        update(User)
        .where(User.id == user.id, User.totp_last_step < step)
        .values(totp_last_step=step)
        .returning(User.id)
        .execution_options(synchronize_session=False)
    ).first()
    if consumed is None:
        return False
    set_committed_value(user, "totp_last_step", step)
    return True


def has_second_factor(session: Session, user: User) -> bool:
    """Whether ``user`` has TOTP or at least one security key."""
    if user.totp_secret_ct is not None:
        return True
    found = session.scalar(select(WebAuthnCredential.id).where(WebAuthnCredential.user_id == user.id))
    return found is not None


def reset_second_factor(session: Session, user: User) -> None:
    """Recovery (an admin's CLI command): forget the account's TOTP secret
    and security keys, end its sessions and clear its lockout. At the next
    password login the account enrols a second factor again."""
    user.totp_secret_ct = None
    user.totp_last_step = 0
    session.execute(delete(WebAuthnCredential).where(WebAuthnCredential.user_id == user.id))
    session.execute(delete(LoginSession).where(LoginSession.user_id == user.id))
    record_success(user, known_device=None)


def find_user(session: Session, email: str) -> User | None:
    """The account with this e-mail (any state), or None."""
    return session.scalar(select(User).where(User.email == normalize_email(email)))
