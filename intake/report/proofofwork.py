"""ALTCHA proof of work on the JavaScript path (issue 4 item 6).

With JavaScript on, a submission (``POST /<lang>/sealed``, a sealed
follow-up) and a receipt check carry an ``altcha`` field: the base64 ALTCHA
v2 payload of a challenge this intake issued (``GET /<lang>/challenge``) and
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
* each challenge is accepted once per process: spent nonces are kept in
  memory until they expire, never on disk, so the intake stores nothing
  that could date a report. A payload replayed to another worker or host is
  accepted there once more at most; the throttles of :mod:`.throttle` still
  apply.

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
import threading
import time
from typing import Any

import altcha
from flask import current_app, jsonify
from werkzeug.wrappers import Response

from .views import bp

ALGORITHM = "PBKDF2/SHA-256"
DEFAULT_COST = 1000
DEFAULT_COUNTER_MIN = 500
DEFAULT_COUNTER_MAX = 1500
DEFAULT_MAX_AGE = 2 * 3600
#: Longest ``altcha`` field accepted (a v2 payload is about 600 bytes).
MAX_PAYLOAD = 4096
#: Spent nonces kept per process, at most (oldest expire first).
MAX_SPENT = 200_000


def _key(label: bytes) -> bytes:
    secret = current_app.config["SECRET_KEY"]
    raw = secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)
    return hmac.new(raw, b"tnr-intake/altcha/" + label, hashlib.sha256).digest()


class SpentChallenges:
    """Nonces of challenges already used, with their expiry (Unix seconds),
    in this process's memory only. Thread-safe."""

    def __init__(self, limit: int = MAX_SPENT) -> None:
        self._spent: dict[str, float] = {}
        self._lock = threading.Lock()
        self._limit = limit

    def seen(self, nonce: str) -> bool:
        """Whether ``nonce`` was spent already."""
        with self._lock:
            return nonce in self._spent

    def spend(self, nonce: str, expires_at: float, now: float) -> bool:
        """Mark ``nonce`` spent; False when it was spent before."""
        with self._lock:
            if nonce in self._spent:
                return False
            if len(self._spent) >= self._limit:
                self._spent = {n: e for n, e in self._spent.items() if e > now}
                while len(self._spent) >= self._limit:  # still full: drop the oldest
                    self._spent.pop(next(iter(self._spent)))
            self._spent[nonce] = expires_at
            return True


def _spent() -> SpentChallenges:
    spent: SpentChallenges | None = current_app.extensions.get("intake.altcha_spent")
    if spent is None:
        spent = current_app.extensions.setdefault("intake.altcha_spent", SpentChallenges())
    return spent


def required() -> bool:
    """Whether uploads from the JavaScript path must carry a solved
    challenge (``ALTCHA``, default True)."""
    return bool(current_app.config.get("ALTCHA", True))


def new_challenge() -> dict[str, Any]:
    """A fresh signed challenge as the ALTCHA v2 JSON object
    (``{"parameters": {...}, "signature": ...}``)."""
    config = current_app.config
    low = int(config.get("ALTCHA_COUNTER_MIN", DEFAULT_COUNTER_MIN))
    high = max(low, int(config.get("ALTCHA_COUNTER_MAX", DEFAULT_COUNTER_MAX)))
    challenge = altcha.create_challenge(
        ALGORITHM,
        int(config.get("ALTCHA_COST", DEFAULT_COST)),
        counter=low + secrets.randbelow(high - low + 1),
        expires_at=int(time.time()) + int(config.get("ALTCHA_MAX_AGE", DEFAULT_MAX_AGE)),
        hmac_secret=_key(b"challenge"),
        hmac_key_secret=_key(b"derived-key"),
    )
    return dict(challenge.to_dict())


def verify(payload: str | None) -> bool:
    """Whether ``payload`` (the ``altcha`` form field) solves a challenge
    this intake issued, unexpired and not used before in this process.
    Never raises on bad input."""
    if not payload or len(payload) > MAX_PAYLOAD:
        return False
    try:
        parsed = altcha.Payload.from_base64(payload)
        parameters = parsed.challenge.parameters
        nonce, expires_at = str(parameters.nonce), parameters.expires_at
        if not isinstance(expires_at, int) or isinstance(expires_at, bool):
            return False  # we always set one: a challenge without it is not ours
        if parameters.algorithm != ALGORITHM or _spent().seen(nonce):
            return False
        if not parameters.key_signature:
            return False  # ours are all deterministic: verified by their key signature
        # The parsed payload, not the text: verify_solution would decode the
        # same base64 and JSON a second time (altcha parses both alike).
        result = altcha.verify_solution(parsed, _key(b"challenge"), hmac_key_secret=_key(b"derived-key"))
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError, OverflowError):
        return False
    return bool(result.verified) and _spent().spend(nonce, float(expires_at), time.time())


@bp.get("/<lang_code>/challenge")
def challenge() -> Response:
    """A fresh ALTCHA challenge (JSON) for the page's script; never cached
    (the intake's headers), never logged."""
    return jsonify(new_challenge())
