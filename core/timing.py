"""Constant-time comparison and response-time floors.

Two tools against an adversary who times responses:

- :func:`equal` compares secrets (tokens, hashes, codes) in time that does
  not depend on where they first differ.
- A *floor*: a response that could reveal whether something exists (an
  account at login, a receipt at follow-up) is held until a fixed time has
  passed since the request began, so the fast "no such thing" path and the
  slow "found it, checked it" path look the same from outside. Use
  :func:`time_floor` around a block, or :func:`pad_endpoints` to give whole
  views a floor without touching them.

A check of a secret that may not exist uses both::

    with time_floor(FLOOR_SECONDS):
        row = find_receipt(session, secret, digits)   # keyed-hash lookup
        ok = row is not None and equal(row.receipt_hash, receipt_hash(secret, digits))

The floor must sit above the slowest honest path (Argon2id at login); if a
path overruns it, the response is simply late, and :func:`time_floor` records
that in ``overruns`` so a test can catch a floor set too low.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime

from flask import Flask, Response, g, request

__all__ = ["FloorStats", "equal", "pad_endpoints", "sleep_until", "time_floor"]


def equal(a: str | bytes, b: str | bytes) -> bool:
    """Whether ``a`` and ``b`` are equal, in constant time for equal lengths
    (:func:`hmac.compare_digest`). Strings are compared as UTF-8."""
    a_bytes = a.encode("utf-8") if isinstance(a, str) else a
    b_bytes = b.encode("utf-8") if isinstance(b, str) else b
    return hmac.compare_digest(a_bytes, b_bytes)


@dataclass
class FloorStats:
    """How often a floor was overrun (the work took longer than the floor)."""

    padded: int = 0
    overruns: int = 0


#: Process-wide counters, for tests and for an operator tuning a floor.
STATS = FloorStats()


def sleep_until(deadline: float) -> None:
    """Sleep until ``time.monotonic()`` reaches ``deadline`` (no-op if past)."""
    while (left := deadline - time.monotonic()) > 0:
        time.sleep(left)


@contextmanager
def time_floor(seconds: float) -> Iterator[None]:
    """Make the enclosed block take at least ``seconds`` (also when it
    raises). ``seconds <= 0`` disables the floor."""
    start = time.monotonic()
    try:
        yield
    finally:
        if seconds > 0:
            _pad(start, seconds)


def _pad(start: float, seconds: float) -> None:
    deadline = start + seconds
    if time.monotonic() > deadline:
        STATS.overruns += 1
    else:
        STATS.padded += 1
        sleep_until(deadline)


_START = "_timing_floor_start"


def pad_endpoints(app: Flask, floors: Mapping[str, str | float]) -> None:
    """Give POST requests to the named endpoints a response-time floor.

    Args:
        floors: endpoint → floor in seconds, or the name of a config key that
            holds it (read per request, so tests can change it).

    The clock starts before any other ``before_request`` hook of the app
    (this one is inserted first), and the pause happens after the response
    is built; a response that overran the floor is sent as it is.
    """

    def _floor() -> float:
        value = floors.get(request.endpoint or "")
        if value is None or request.method != "POST":
            return 0.0
        if isinstance(value, str):
            return float(app.config.get(value) or 0)
        return float(value)

    def _start() -> None:
        if _floor() > 0:
            setattr(g, _START, time.monotonic())

    def _finish(response: Response) -> Response:
        start = g.pop(_START, None)
        if start is not None:
            _pad(start, _floor())
        return response

    app.before_request_funcs.setdefault(None, []).insert(0, _start)
    app.after_request(_finish)


def today_utc() -> date:
    """The current UTC day: the only time the intake records."""
    return datetime.now(UTC).date()
