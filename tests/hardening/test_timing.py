"""Timing: secrets compare in constant time, and answers
that could tell whether an account (later: a receipt) exists take the same
time, padded to a fixed floor."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import pytest
from flask import Flask

from core import timing
from core.timing import equal, time_floor
from tests.admin.admin_testlib import PASSWORD, AuthActions

FLOOR = 0.2


def test_equal() -> None:
    assert equal("abc", "abc") and equal(b"abc", b"abc") and equal("é", "é".encode())
    assert not equal("abc", "abd") and not equal("abc", "abcd") and not equal("", "a")


def test_time_floor_pads_fast_and_failing_blocks() -> None:
    start = time.monotonic()
    with time_floor(0.2):
        pass
    assert time.monotonic() - start >= 0.2
    start = time.monotonic()
    with pytest.raises(KeyError), time_floor(0.2):
        raise KeyError("not found")
    assert time.monotonic() - start >= 0.2
    before = timing.STATS.overruns
    with time_floor(0.01):
        time.sleep(0.03)
    assert timing.STATS.overruns == before + 1
    start = time.monotonic()
    with time_floor(0):
        pass
    assert time.monotonic() - start < 0.05


def test_login_takes_the_floor_whatever_happened(console_factory: Callable[..., Flask]) -> None:
    app = console_factory(LOGIN_TIME_FLOOR=FLOOR)
    client = app.test_client()
    auth = AuthActions(app, client)
    email = auth.create("reviewer")
    cases = {
        "unknown e-mail": {"email": "nobody@example.org", "password": PASSWORD},
        "wrong password": {"email": email, "password": "wrong password, long enough"},
        "right password": {"email": email, "password": PASSWORD},
        "empty form": {},
    }
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _round in range(3):
        for name, data in cases.items():
            client.post("/logout")
            start = time.monotonic()
            client.post("/login", data=data)
            times[name].append(time.monotonic() - start)
    medians = {name: statistics.median(t) for name, t in times.items()}
    assert min(min(t) for t in times.values()) >= FLOOR, times
    # Cheap Argon2id in tests: everything fits under the floor, so the
    # answers differ only by scheduling noise.
    assert max(medians.values()) - min(medians.values()) < 0.08, medians
    # A GET of the login page is not padded.
    start = time.monotonic()
    client.get("/login")
    assert time.monotonic() - start < FLOOR
