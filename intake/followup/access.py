"""Tokens of the receipt check and the status page: the one-time token a
check page carries when no proof of work comes with it, and the encrypted,
short-lived access token a status page carries instead of the receipt (the
receipt never travels in a URL or a cookie)."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from secrets import token_hex

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.exc import SQLAlchemyError

from core.db import request_session
from core.timing import today_utc

from ..abuse import proofofwork

#: How long a status page may be used to add information (seconds;
#: ``FOLLOWUP_ACCESS_MAX_AGE`` overrides). Past it, what was typed is kept
#: and carried through a new receipt check (:func:`.views.add`).
ACCESS_MAX_AGE = 3600


def _access_max_age() -> int:
    return int(current_app.config.get("FOLLOWUP_ACCESS_MAX_AGE") or ACCESS_MAX_AGE)


_ACCESS_SALT = "tnr-intake/followup-access"


def _access_cipher() -> Fernet:
    # A key of its own, derived from the app's secret key: the token is
    # encrypted (it may carry the conversation's auth key on the
    # no-JavaScript path), authenticated and dated (Fernet, from
    # ``cryptography``).
    secret = current_app.secret_key or b""
    raw = secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_ACCESS_SALT.encode()).derive(raw)
    return Fernet(base64.urlsafe_b64encode(key))


#: How long a receipt-check page's token stays valid (seconds); setting
#: ``RECEIPT_CHECK_MAX_AGE``.
DEFAULT_CHECK_MAX_AGE = 3600
_CHECK_SALT = "tnr-intake/receipt-check"


def new_check_token() -> str:
    """A signed, timed, one-time token for one receipt check without
    JavaScript: a random nonce, signed (itsdangerous, under ``SECRET_KEY``)
    with its time of issue. Every check page carries a fresh one. A check
    without a proof of work must carry an unexpired, unspent token before
    it may take from the guess allowance (:func:`unspent_check_token`), so
    one token cannot be replayed to empty that allowance."""
    return str(URLSafeTimedSerializer(current_app.secret_key or b"", salt=_CHECK_SALT).dumps(token_hex(16)))


def csrf_enabled() -> bool:
    """Whether CSRF checks are on (``WTF_CSRF_ENABLED``): the one-time check
    token is part of them (tests that turn CSRF off skip it too)."""
    return bool(current_app.config.get("WTF_CSRF_ENABLED", True))


def unspent_check_token(token: str | None) -> proofofwork.Proof | None:
    """The record that spends ``token`` (SHA-256 of its nonce and a day, for
    the table of spent proof-of-work challenges), when it is one
    :func:`new_check_token` made, younger than ``RECEIPT_CHECK_MAX_AGE`` and
    not used before by any worker or host; None otherwise, and when the
    database fails. Writes nothing: the check records it with
    :func:`spend_check_token` only when the guess buckets have room, so
    that checks they refuse cost no row (a fresh page, hence a fresh
    token, is free to load)."""
    if not token or len(token) > 256:
        return None
    max_age = int(current_app.config.get("RECEIPT_CHECK_MAX_AGE") or DEFAULT_CHECK_MAX_AGE)
    try:
        nonce = URLSafeTimedSerializer(current_app.secret_key or b"", salt=_CHECK_SALT).loads(
            token, max_age=max_age
        )
    except BadSignature:
        return None
    if not isinstance(nonce, str):
        return None
    digest = hashlib.sha256(b"tnr-intake/check-token/" + nonce.encode("utf-8")).hexdigest()
    try:
        if proofofwork.is_spent(digest):
            return None
    except SQLAlchemyError as exc:
        _database_failed(exc)
        return None
    return proofofwork.Proof(digest, today_utc() + timedelta(days=1 + -(-max_age // 86400)))


def spend_check_token(record: proofofwork.Proof) -> bool:
    """Record a check token as spent (:func:`unspent_check_token`); False
    when another request spent it first, or the database fails."""
    try:
        return proofofwork.spend(record)
    except SQLAlchemyError as exc:
        _database_failed(exc)
        return False


def _database_failed(exc: SQLAlchemyError) -> None:
    request_session("intake.db").rollback()
    current_app.logger.error("database error %s on a check token", exc.__class__.__name__)


@dataclass(frozen=True)
class Access:
    """What a status page's access token stands for: the receipt's stored
    keyed hash, the report's format (1 or 2), and, on the no-JavaScript
    path only, the conversation's auth key (the server needs it to prove a
    follow-up it seals; with JavaScript the browser proves it)."""

    stored_hash: str
    version: int
    auth_key: bytes | None = None


def access_token(access: Access) -> str:
    """An encrypted token that lets one status page add information for
    ``FOLLOWUP_ACCESS_MAX_AGE`` seconds (default :data:`ACCESS_MAX_AGE`).
    It holds the receipt's keyed hash (and perhaps the auth key), never
    the receipt."""
    doc = {
        "h": access.stored_hash,
        "v": access.version,
        "k": access.auth_key.hex() if access.auth_key is not None else None,
    }
    return _access_cipher().encrypt(json.dumps(doc).encode()).decode("ascii")


def access_of(token: str | None) -> Access | None:
    """The :class:`Access` of a token, or None (bad, expired)."""
    if not token:
        return None
    try:
        doc = json.loads(_access_cipher().decrypt(token.encode("ascii"), ttl=_access_max_age()))
        key = doc["k"]
        return Access(
            stored_hash=str(doc["h"]),
            version=int(doc["v"]),
            auth_key=bytes.fromhex(key) if isinstance(key, str) else None,
        )
    except (InvalidToken, UnicodeError, ValueError, KeyError, TypeError):
        return None
