"""Guess and flood limiting without tracking: in-memory token buckets, for
receipt lookups (:func:`guesses`) and report submissions
(:func:`allow_submission`).

A bucket holds up to ``burst`` tokens and gains one every ``interval``
seconds; each attempt takes one, and an empty bucket refuses. There is one
global bucket, and one per client, keyed by HMAC-SHA256 of the client's
address under a random key made when the process starts. The key is never
written anywhere, so the keyed address cannot be reversed or linked across
restarts; neither the address nor its hash is stored in the database or a
file, nor logged. Buckets that are full again are forgotten, so the table
holds only clients that tried recently.

Limits are per process: with several gunicorn workers each has its own
buckets (an attacker gets ``workers`` times the rate, still far below what
guessing an 89-bit receipt needs). Behind a Tor onion service every client
has the same address, so the per-client bucket is shared by all Tor users
and only the global bucket and the proof of work tell them apart
(docs/report-fields.md, "Guess limiting").
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass

from flask import current_app


@dataclass
class _Bucket:
    tokens: float
    updated: float


class TokenBuckets:
    """A global bucket and per-client buckets.

    Args:
        burst: tokens a client's bucket holds (attempts in a row).
        interval: seconds for a client's bucket to gain one token.
        global_burst, global_interval: the same for the global bucket.
        max_clients: buckets kept at most; past it the oldest are dropped
            (a flood of fresh addresses then meets the global bucket).
    """

    def __init__(
        self,
        burst: int,
        interval: float,
        global_burst: int,
        global_interval: float,
        max_clients: int = 50_000,
    ) -> None:
        self.burst = burst
        self.interval = interval
        self.global_burst = global_burst
        self.global_interval = global_interval
        self.max_clients = max_clients
        self._key = secrets.token_bytes(32)
        self._clients: dict[bytes, _Bucket] = {}
        self._global = _Bucket(float(global_burst), time.monotonic())
        self._lock = threading.Lock()

    def _client_key(self, address: str) -> bytes:
        return hmac.new(self._key, address.encode("utf-8", "replace"), hashlib.sha256).digest()[:16]

    @staticmethod
    def _refill(bucket: _Bucket, burst: int, interval: float, now: float) -> None:
        elapsed = max(0.0, now - bucket.updated)
        bucket.tokens = min(float(burst), bucket.tokens + elapsed / interval)
        bucket.updated = now

    def allow(
        self,
        address: str | None,
        now: float | None = None,
        *,
        per_client: bool = True,
        use_global: bool = True,
    ) -> bool:
        """Take a token for one attempt from ``address`` (and from the
        global bucket); False if either is empty (nothing is taken then).
        With ``per_client=False`` only the global bucket counts (an address
        that stands for many clients, see :func:`allow_submission`); with
        ``use_global=False`` only the client's (a first, cheap look before
        a request has shown its proof of work)."""
        now = time.monotonic() if now is None else now
        key = self._client_key(address or "") if per_client else None
        with self._lock:
            client: _Bucket | None = None
            if key is not None:
                client = self._clients.get(key)
                if client is None:
                    client = _Bucket(float(self.burst), now)
                else:
                    self._refill(client, self.burst, self.interval, now)
                self._clients[key] = client
            if use_global:
                self._refill(self._global, self.global_burst, self.global_interval, now)
                if self._global.tokens < 1:
                    return False
            if client is not None:
                if client.tokens < 1:
                    return False
                client.tokens -= 1
                self._prune(now)
            if use_global:
                self._global.tokens -= 1
            return True

    def peek(self, address: str | None, now: float | None = None, *, per_client: bool = True) -> bool:
        """Whether :meth:`allow` would let one attempt through now, taking
        nothing (the global bucket, and the client's unless ``per_client``
        is False): for a request that must write before it takes."""
        now = time.monotonic() if now is None else now
        with self._lock:
            self._refill(self._global, self.global_burst, self.global_interval, now)
            if self._global.tokens < 1:
                return False
            bucket = self._clients.get(self._client_key(address or "")) if per_client else None
            if bucket is not None:
                self._refill(bucket, self.burst, self.interval, now)
                return bucket.tokens >= 1
            return True

    def _prune(self, now: float) -> None:
        if len(self._clients) <= self.max_clients:
            return
        full_after = self.burst * self.interval
        for key in [k for k, b in self._clients.items() if now - b.updated >= full_after]:
            del self._clients[key]
        while len(self._clients) > self.max_clients:
            del self._clients[next(iter(self._clients))]

    def clients(self) -> int:
        """How many client buckets are held (for tests)."""
        with self._lock:
            return len(self._clients)


#: Receipt lookups: 10 in a row from one address, then one every 30
#: seconds; 300 in a row from everyone together, then 5 a second. Settings
#: ``RECEIPT_GUESS_BURST``, ``RECEIPT_GUESS_INTERVAL``,
#: ``RECEIPT_GLOBAL_BURST``, ``RECEIPT_GLOBAL_INTERVAL`` override them.
DEFAULT_GUESSES = {"burst": 10, "interval": 30.0, "global_burst": 300, "global_interval": 0.2}

#: Report submissions (the plain form post and the browser upload): 10 in a
#: row from one address, then one a minute; 200 in a row from everyone
#: together, then 2 a second (7,200 an hour, far above what the coalition
#: expects and within what one intake stores, docs/deployment.md).
#: Settings ``SUBMISSION_BURST``, ``SUBMISSION_INTERVAL``,
#: ``SUBMISSION_GLOBAL_BURST``, ``SUBMISSION_GLOBAL_INTERVAL`` override them;
#: ``SUBMISSION_THROTTLE = False`` turns it off (bench/load.py measures
#: raw capacity that way).
DEFAULT_SUBMISSIONS = {"burst": 10, "interval": 60.0, "global_burst": 200, "global_interval": 0.5}


#: The settings of each kind of bucket, in the order burst, interval, global
#: burst, global interval. Proven receipt checks have buckets of their own
#: but the receipt guesses' settings.
GUESS_SETTINGS = (
    "RECEIPT_GUESS_BURST",
    "RECEIPT_GUESS_INTERVAL",
    "RECEIPT_GLOBAL_BURST",
    "RECEIPT_GLOBAL_INTERVAL",
)
SUBMISSION_SETTINGS = (
    "SUBMISSION_BURST",
    "SUBMISSION_INTERVAL",
    "SUBMISSION_GLOBAL_BURST",
    "SUBMISSION_GLOBAL_INTERVAL",
)
FOLLOWUP_SETTINGS = (
    "FOLLOWUP_BURST",
    "FOLLOWUP_INTERVAL",
    "FOLLOWUP_GLOBAL_BURST",
    "FOLLOWUP_GLOBAL_INTERVAL",
)


def _app_buckets(name: str, settings: tuple[str, str, str, str], defaults: dict[str, float]) -> TokenBuckets:
    """The app's buckets called ``name``, made on first use from the four
    settings (burst, interval, global burst, global interval)."""
    buckets: TokenBuckets | None = current_app.extensions.get(name)
    if buckets is None:
        config = current_app.config
        burst, interval, global_burst, global_interval = settings
        buckets = TokenBuckets(
            burst=int(config.get(burst) or defaults["burst"]),
            interval=float(config.get(interval) or defaults["interval"]),
            global_burst=int(config.get(global_burst) or defaults["global_burst"]),
            global_interval=float(config.get(global_interval) or defaults["global_interval"]),
        )
        current_app.extensions[name] = buckets
    return buckets


def guesses() -> TokenBuckets:
    """The app's receipt-lookup buckets (made on first use). Every place
    that tells whether a receipt is right takes a token from them: the
    receipt check, and a browser upload's retry that names its receipt
    (``intake/report/upload.py``)."""
    return _app_buckets("intake.receipt_guesses", GUESS_SETTINGS, DEFAULT_GUESSES)


def proven_guesses() -> TokenBuckets:
    """Receipt lookups that carried a solved ALTCHA challenge: a global
    bucket of their own, so that a flood of cheap guesses (no work done)
    cannot empty the allowance of reporters whose browser did the work."""
    return _app_buckets("intake.receipt_guesses_proven", GUESS_SETTINGS, DEFAULT_GUESSES)


def submissions() -> TokenBuckets:
    """The app's report-submission buckets (made on first use)."""
    return _app_buckets("intake.submissions", SUBMISSION_SETTINGS, DEFAULT_SUBMISSIONS)


def followups() -> TokenBuckets:
    """The app's follow-up buckets (made on first use): the same limits as
    report submissions unless ``FOLLOWUP_BURST``, ``FOLLOWUP_INTERVAL``,
    ``FOLLOWUP_GLOBAL_BURST``, ``FOLLOWUP_GLOBAL_INTERVAL`` say otherwise,
    but buckets of their own, so that whoever holds a receipt cannot spend
    with follow-ups what new reports need."""
    return _app_buckets("intake.followups", FOLLOWUP_SETTINGS, DEFAULT_SUBMISSIONS)


# SHARED_CLIENT_ADDRESSES (default 127.0.0.1 and ::1) stand for many
# clients: a reverse proxy or a Tor daemon on the same host (the documented
# deployment, docs/deployment.md, passes no client address to the app). A
# per-client bucket on them would make every reporter share one client's
# allowance, so a handful of scripted posts would stop everyone; they meet
# only the global bucket, and the proxy limits each address at the edge
# (nginx ``limit_req``).


def allow_submission(address: str | None, *, per_client: bool = True, use_global: bool = True) -> bool:
    """Take a token for one report submission from ``address`` (its keyed
    hash, in memory only) and from everyone's bucket; False when either is
    empty. Always True when ``SUBMISSION_THROTTLE`` is False.

    The browser upload takes its tokens in two steps: the client's before
    the body is read (``use_global=False``), everyone's only once the
    request has shown a solved ALTCHA challenge (``per_client=False``), so
    that a flood without the work cannot empty the bucket real reporters
    share."""
    return _take(submissions(), address, per_client=per_client, use_global=use_global)


def _take(buckets: TokenBuckets, address: str | None, *, per_client: bool, use_global: bool) -> bool:
    """:meth:`TokenBuckets.allow` for a submission or a follow-up: no
    per-client bucket for an address that stands for many clients
    (``SHARED_CLIENT_ADDRESSES``), and always True when
    ``SUBMISSION_THROTTLE`` is False."""
    config = current_app.config
    if config["SUBMISSION_THROTTLE"] is False:
        return True
    shared = config["SHARED_CLIENT_ADDRESSES"]
    return buckets.allow(address, per_client=per_client and address not in shared, use_global=use_global)


def allow_guess(address: str | None, *, proven: bool = False) -> bool:
    """Take a token for one receipt lookup (a check, or an upload retry that
    names its receipt) from ``address`` (its keyed hash, in memory only) and
    from everyone's bucket. Behind a proxy or the Tor daemon every reporter
    arrives from one shared address (``SHARED_CLIENT_ADDRESSES``): there a
    per-client bucket would let ten wrong guesses stop every reporter's
    check, so only the global bucket applies and the proxy limits each
    address at the edge. A check that carries a solved ALTCHA challenge
    (``proven``, :mod:`.proofofwork`) has paid for itself: it meets only a
    global bucket of its own (:func:`proven_guesses`), which guesses that
    did no work cannot empty."""
    if proven:
        return proven_guesses().allow(address, per_client=False)
    shared = current_app.config["SHARED_CLIENT_ADDRESSES"]
    return guesses().allow(address, per_client=address not in shared)


def guess_allowed(address: str | None) -> bool:
    """Whether :func:`allow_guess` would let a check without proof of work
    through now, taking nothing: such a check records its one-time token
    (a database row) only when it may look up, and takes its guess only
    once that record is made (``intake/followup/views.py``)."""
    shared = current_app.config["SHARED_CLIENT_ADDRESSES"]
    return guesses().peek(address, per_client=address not in shared)


def allow_followup(address: str | None, *, per_client: bool = True, use_global: bool = True) -> bool:
    """:func:`allow_submission` for follow-ups (:func:`followups`), taken
    in the same steps; off with ``SUBMISSION_THROTTLE = False`` too."""
    return _take(followups(), address, per_client=per_client, use_global=use_global)
