"""ALTCHA proof of work on the JavaScript path: scripted floods pay in CPU.

With JavaScript on, a submission (``POST /<lang>/sealed``, a sealed
follow-up) and a receipt check carry an ``altcha`` field: the base64 ALTCHA
v2 payload of a challenge this intake issued (``GET /<lang>/challenge``,
:mod:`.views`) and
its solution, found in the browser with ``altcha``'s own solver
(``js/proofofwork.js``) while the report is being sealed. The intake
verifies it with the ``altcha`` Python package:

* the challenge is PBKDF2/SHA-256 in ALTCHA's deterministic mode: the
  intake picks a counter at random between ``ALTCHA_COUNTER_MIN`` and
  ``ALTCHA_COUNTER_MAX``, derives that counter's key once
  (``ALTCHA_COST`` iterations) and publishes the first half of it; the
  browser must try every counter from 0 up to it (about a thousand
  derivations: a median 0.2 s in headless Chromium on a 2-core machine,
  ``python bench/browser_work.py``; more on an old phone, and started
  when the reporter first touches the form). The challenge is signed with HMAC-SHA-256 under a key derived
  from ``SECRET_KEY`` and valid for ``ALTCHA_MAX_AGE`` seconds;
* the solution is checked by its key signature: one HMAC, no derivation,
  so the upload itself pays almost nothing and a flood pays everything;
* each challenge is accepted once, by every worker and host: a spent
  challenge is a row of ``spent_challenge`` (:class:`intake.store.models.SpentChallenge`),
  SHA-256 of its nonce and a day to keep it until, never its expiry to
  the second (that would date the report it came with). A submission
  records its challenge in the transaction that stores the envelope
  (:func:`check`, then ``store_envelope(spent=...)``), so a report costs
  no second commit; a receipt check records it on its own
  (:func:`verify`). Rows past their day are purged once a day.

Without JavaScript there is no proof of work: the in-memory token buckets
of :mod:`.throttle` and the honeypot stand alone. Proof of work is what
lets the intake tell people apart when everyone arrives from one address
(Tor, a proxy): a solved challenge skips the per-address bucket, never the
global one.

Reference: ALTCHA v2 protocol, https://altcha.org/docs/v2/ (challenge,
solution and payload formats).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import altcha
from flask import current_app
from sqlalchemy import Table, bindparam, delete, insert, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from core.db import request_session
from core.timing import today_utc

from ..store.models import SpentChallenge

ALGORITHM = "PBKDF2/SHA-256"
#: Longest ``altcha`` field accepted (a v2 payload is about 600 bytes).
MAX_PAYLOAD = 4096


def _key(label: bytes) -> bytes:
    secret = current_app.config["SECRET_KEY"]
    raw = secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)
    return hmac.new(raw, b"tnr-intake/altcha/" + label, hashlib.sha256).digest()


@dataclass(frozen=True)
class Proof:
    """A verified, not yet spent challenge: what :func:`check` returns and
    ``store_envelope(spent=...)`` records.

    Attributes:
        challenge_hash: SHA-256 of the challenge's nonce, hex.
        keep_until: the day after which the record may be purged
            (:func:`keep_until`).
    """

    challenge_hash: str
    keep_until: date


def keep_until(today: date) -> date:
    """The day a challenge spent ``today`` must be remembered through: it
    expires at most ``ALTCHA_MAX_AGE`` seconds after it is spent, so the
    spend's day plus one plus the lifetime in whole days outlasts it. A
    function of the spend's day only, which the envelope stores anyway."""
    max_age = int(current_app.config["ALTCHA_MAX_AGE"])
    return today + timedelta(days=1 + -(-max_age // 86400))


def _challenge_hash(nonce: str) -> str:
    return hashlib.sha256(b"tnr-intake/altcha-spent/" + nonce.encode("utf-8")).hexdigest()


_SPENT: Table = SpentChallenge.__table__  # type: ignore[assignment]
_IS_SPENT = select(_SPENT.c.challenge_hash).where(_SPENT.c.challenge_hash == bindparam("h"))
#: Built once, like the store's statements.
INSERT_SPENT = insert(_SPENT)


def _purge_daily(session: Session, today: date) -> None:
    """Delete records past their day, once a day per process (a few rows
    a day at most; the index on ``keep_until`` finds them)."""
    if current_app.extensions.get("intake.altcha_purged") == today:
        return
    try:
        session.execute(delete(_SPENT).where(_SPENT.c.keep_until < today))
        session.commit()
    except SQLAlchemyError:
        session.rollback()  # another worker purging at the same moment: next time
        return
    current_app.extensions["intake.altcha_purged"] = today


def required() -> bool:
    """Whether uploads from the JavaScript path must carry a solved
    challenge (``ALTCHA``, default True)."""
    return bool(current_app.config["ALTCHA"])


def new_challenge() -> dict[str, Any]:
    """A fresh signed challenge as the ALTCHA v2 JSON object
    (``{"parameters": {...}, "signature": ...}``)."""
    config = current_app.config
    low = int(config["ALTCHA_COUNTER_MIN"])
    high = max(low, int(config["ALTCHA_COUNTER_MAX"]))
    challenge = altcha.create_challenge(
        ALGORITHM,
        int(config["ALTCHA_COST"]),
        counter=low + secrets.randbelow(high - low + 1),
        expires_at=int(time.time()) + int(config["ALTCHA_MAX_AGE"]),
        hmac_secret=_key(b"challenge"),
        hmac_key_secret=_key(b"derived-key"),
    )
    return dict(challenge.to_dict())


def check(payload: str | None, *, look_up: bool = True) -> Proof | None:
    """The challenge ``payload`` (the ``altcha`` form field) solves, if it
    is one this intake issued, unexpired and not recorded as spent; None
    otherwise. With ``look_up=False`` the spent record is left for the
    caller to look up in a query of its own (the browser upload asks it
    with its other questions, ``intake.report.upload.look_up_prior``: one
    round trip).
    Records nothing: the caller records the :class:`Proof` with what it
    stores (``store_envelope(spent=...)``) or through :func:`spend`.
    Never raises on bad input.

    Raises:
        SQLAlchemyError: the spent-challenge look-up failed.
    """
    if not payload or len(payload) > MAX_PAYLOAD:
        return None
    try:
        parsed = altcha.Payload.from_base64(payload)
        parameters = parsed.challenge.parameters
        nonce, expires_at = str(parameters.nonce), parameters.expires_at
        if not isinstance(expires_at, int) or isinstance(expires_at, bool):
            return None  # we always set one: a challenge without it is not ours
        if parameters.algorithm != ALGORITHM or not parameters.key_signature:
            return None  # ours are all deterministic: verified by their key signature
        # The parsed payload, not the text: verify_solution would decode the
        # same base64 and JSON a second time (altcha parses both alike).
        result = altcha.verify_solution(parsed, _key(b"challenge"), hmac_key_secret=_key(b"derived-key"))
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError, OverflowError):
        return None
    if not result.verified:
        return None
    # Only now the database: a forged or expired payload costs one HMAC.
    today = today_utc()
    session = request_session("intake.db")
    _purge_daily(session, today)
    challenge_hash = _challenge_hash(nonce)
    if not look_up:
        return Proof(challenge_hash, keep_until(today))
    if session.connection().execute(_IS_SPENT, {"h": challenge_hash}).first() is not None:
        session.rollback()
        return None
    # No rollback: the caller's look-ups and insert go on in this
    # transaction (on PostgreSQL a rollback and a new checkout would cost
    # two more round trips per report; pysqlite opens no transaction for a
    # SELECT). The insert's primary key settles a race.
    return Proof(challenge_hash, keep_until(today))


def is_spent(challenge_hash: str) -> bool:
    """Whether ``challenge_hash`` is recorded as spent (a look, no write).

    Raises:
        SQLAlchemyError: the database failed.
    """
    session = request_session("intake.db")
    return session.connection().execute(_IS_SPENT, {"h": challenge_hash}).first() is not None


def spend(proof: Proof) -> bool:
    """Record ``proof`` as spent, in a transaction of its own; False when
    another request recorded it first.

    Raises:
        SQLAlchemyError: the database failed otherwise.
    """
    session = request_session("intake.db")
    try:
        session.execute(
            INSERT_SPENT, {"challenge_hash": proof.challenge_hash, "keep_until": proof.keep_until}
        )
        session.commit()
    except IntegrityError:
        session.rollback()
        return False
    return True


def verify(payload: str | None) -> bool:
    """Whether ``payload`` solves a challenge this intake issued, unexpired
    and never used before by any worker or host; records it as spent.
    For requests that store nothing (the receipt check). Never raises on
    bad input; False when the database fails."""
    try:
        proof = check(payload)
        return proof is not None and spend(proof)
    except SQLAlchemyError as exc:
        request_session("intake.db").rollback()
        current_app.logger.error("database error %s on a proof of work", exc.__class__.__name__)
        return False
