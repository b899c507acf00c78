"""Guess limiting without tracking: in-memory token buckets.

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

    def allow(self, address: str | None, now: float | None = None) -> bool:
        """Take a token for one attempt from ``address`` (and from the
        global bucket); False if either is empty (nothing is taken then)."""
        now = time.monotonic() if now is None else now
        key = self._client_key(address or "")
        with self._lock:
            self._refill(self._global, self.global_burst, self.global_interval, now)
            bucket = self._clients.get(key)
            if bucket is None:
                bucket = _Bucket(float(self.burst), now)
            else:
                self._refill(bucket, self.burst, self.interval, now)
            if bucket.tokens < 1 or self._global.tokens < 1:
                self._clients[key] = bucket
                return False
            bucket.tokens -= 1
            self._global.tokens -= 1
            self._clients[key] = bucket
            self._prune(now)
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
