"""Per-organization bearer tokens of the reviewer API."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.timing import today_utc

from ..store.models import ApiToken

TOKEN_PREFIX = "tnr_"  # noqa: S105 - a public prefix, not a secret


def token_hash(token: str) -> str:
    """SHA-256 hex of a token's UTF-8 bytes (what the database stores)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(session: Session, recipient_id: str) -> str:
    """Create a token for ``recipient_id``; returns it (shown once, never
    stored). 256 bits from the OS CSPRNG."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(recipient_id=recipient_id, token_hash=token_hash(token), created_day=today_utc()))
    session.commit()
    return token


def recipient_for_token(session: Session, token: str) -> str | None:
    """The recipient id a valid, unrevoked token belongs to, else None.

    The lookup is by hash: an attacker timing it learns about hashes of
    guesses, not about the stored token."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 128:
        return None
    row = session.scalar(
        select(ApiToken).where(ApiToken.token_hash == token_hash(token), ApiToken.revoked.is_(False))
    )
    return row.recipient_id if row is not None else None
