"""Console benchmarks, each printed against its target.

1. Sync-and-open rate: N envelopes (default 10,000) served by the fake
   intake of the tests over loopback HTTP and pulled by ``admin.sync.run.sync``
   (fetch pages, open, verify, seal under the data key, store with the
   cursor, one transaction per page), against a raw loop of the library's
   ``open_envelope`` over the same envelopes in memory, both in this run.
   Target: sync rate at least 0.5 x the raw rate. A real intake is
   another process, so for the target the fake intake serves from a forked
   child with its pages built ahead: its work neither shares the console's
   interpreter lock nor counts as the console's. Also printed: the rate of
   fetching the pages alone (the server's ceiling), and the sync rate with
   the fake in a thread of this process building each page (the earlier
   set-up, where the fake's JSON and base64 count against the console).
2. Inbox page time at M cases (default 100,000): the full GET of the inbox
   (login session, filters, count, one page decrypted, template), median of
   several runs, unfiltered and with filters. Target: at most 150 ms.
3. Search time at M cases: the inbox GET with ``q`` (every report the
   filters leave decrypted in memory), median of 3. No target: reported.

``--threads`` only: the raw opening in one thread against two (why the
sync opens in one).

Usage: ``python bench/console.py [--envelopes N] [--rounds R] [--cases M]``. Prints
numbers only, never content.
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
import sys
import tempfile
import threading
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pyotp
from sqlalchemy import insert

ROOT = Path(__file__).resolve().parent.parent
# The console's test helpers (a fake intake, cheap Argon2id) are in tests/.
sys.path.insert(0, str(ROOT))

from admin import create_app  # noqa: E402
from admin.auth import accounts  # noqa: E402
from admin.extensions import DB_EXTENSION, KEYRING_EXTENSION  # noqa: E402
from admin.keys import custody  # noqa: E402
from admin.models import Case, CaseCoding, CaseCodingTactic, CaseTag  # noqa: E402
from admin.sync.client import IntakeClient  # noqa: E402
from admin.sync.run import MAX_PAGE_SIZE, sync  # noqa: E402
from core.envelope import RecipientPrivateKey, open_envelope  # noqa: E402
from tests.admin.admin_testlib import CHEAP_ARGON2ID, PASSPHRASE, FakeIntake  # noqa: E402


def _app(data_dir: Path) -> Any:
    app = create_app(
        {
            "DATA_DIR": str(data_dir),
            "SECRET_KEY": secrets.token_hex(16),
            "ARGON2ID": CHEAP_ARGON2ID,
            "TESTING": True,
            "LOGIN_TIME_FLOOR": 0,
            "WTF_CSRF_ENABLED": False,
        }
    )
    return app


def _unlock(app: Any, key: RecipientPrivateKey) -> None:
    data_dir = Path(app.config["DATA_DIR"])
    custody.store_private_key(
        key, PASSPHRASE, recipient_id="bench", data_dir=data_dir, argon2id=CHEAP_ARGON2ID
    )
    with app.app_context(), app.extensions[DB_EXTENSION].session() as session:
        custody.unlock(app.extensions[KEYRING_EXTENSION], session, data_dir, PASSPHRASE)


def _raw_rate(fake: FakeIntake, key: RecipientPrivateKey) -> float:
    """The baseline: the library's ``open_envelope`` over the same envelopes,
    in memory (no HTTP, no storage), envelopes per second."""
    t0 = time.perf_counter()
    for served in fake.envelopes:
        open_envelope(served.sealed, [key])
    return len(fake.envelopes) / (time.perf_counter() - t0)


def _fetch_rate(fake: FakeIntake) -> float:
    """Only the pages over HTTP, nothing opened or stored: the ceiling the
    server and the transport set, envelopes per second."""
    seen = 0
    t0 = time.perf_counter()
    with IntakeClient(fake.url, fake.token) as client:
        after, more = 0, True
        while more:
            items, more = client.envelopes(after=after, limit=MAX_PAGE_SIZE)
            seen += len(items)
            after = items[-1]["seq"] if items else after
    assert seen == len(fake.envelopes)
    return seen / (time.perf_counter() - t0)


def _sync_rate(fake: FakeIntake, key: RecipientPrivateKey) -> float:
    """The console's real sync into a fresh console (own database and data
    folder) from an empty cursor, envelopes per second."""
    n = len(fake.envelopes)
    with tempfile.TemporaryDirectory() as tmp:
        app = _app(Path(tmp))
        _unlock(app, key)
        try:
            t0 = time.perf_counter()
            with IntakeClient(fake.url, fake.token) as client:
                result = sync(
                    app.extensions[DB_EXTENSION],
                    app.extensions[KEYRING_EXTENSION],
                    Path(tmp),
                    client,
                    MAX_PAGE_SIZE,
                )
            rate = n / (time.perf_counter() - t0)
        finally:
            app.extensions[DB_EXTENSION].engine.dispose()
    assert result.added == n, result
    return rate


def bench_sync(n: int, rounds: int) -> None:
    key = RecipientPrivateKey.generate()
    fake = FakeIntake(key)
    t0 = time.perf_counter()
    for i in range(n):
        fake.add({"narrative": f"bench report {i} " + "x" * 600, "language": "en"})
    print(f"sealed {n} envelopes in {time.perf_counter() - t0:.1f} s (setup)")

    # A real intake is another process (another machine, even): the fake
    # serves from a forked child, with every page built ahead, so the clock
    # holds (nearly) only the console's own work. Fork before any thread.
    fake.prebuild(MAX_PAGE_SIZE)
    fake.start_in_child()
    # The set-up this benchmark had before, for comparison: the same
    # envelopes from a fake in a thread of this process building each page
    # (JSON, base64) under the console's interpreter lock.
    live_fake = FakeIntake(key)
    live_fake.envelopes = fake.envelopes
    live_fake.start()
    ratios: list[float] = []
    try:
        # The same envelopes, machine and run for every number below. Each
        # round pairs a baseline with a sync right after it (the machine is
        # shared: its load moves both alike); the ratio is the median round.
        for r in range(1, rounds + 1):
            raw = _raw_rate(fake, key)
            rate = _sync_rate(fake, key)
            ratios.append(rate / raw)
            print(
                f"round {r}: raw open loop {raw:6.0f} envelopes/s, "
                f"sync and open {rate:6.0f} envelopes/s, ratio {rate / raw:.2f} x"
            )
        raw = _raw_rate(fake, key)
        fetch = _fetch_rate(fake)
        live = _sync_rate(live_fake, key)
    finally:
        live_fake.stop()
        fake.stop()
    print(f"pages only:      {fetch:8.0f} envelopes/s (intake in a child, pages built ahead; nothing opened)")
    print(f"sync, old setup: {live:8.0f} envelopes/s  ratio {live / raw:.2f} x (intake in a thread)")
    ratio = statistics.median(ratios)
    verdict = "OK" if ratio >= 0.5 else "MISS"
    print(f"sync and open:   ratio {ratio:.2f} x, median of {rounds} rounds (target >= 0.5) {verdict}")


def bench_threads(n: int) -> None:
    """Why the sync opens in one thread (admin/sync/run.py): the library's
    ``open_envelope`` over the same envelopes in one thread, then split
    between two. cryptography's HPKE holds Python's interpreter lock, so
    two threads do not open faster than one (on any number of cores)."""
    key = RecipientPrivateKey.generate()
    fake = FakeIntake(key)
    for i in range(n):
        fake.add({"narrative": f"bench report {i} " + "x" * 600, "language": "en"})
    sealed = [served.sealed for served in fake.envelopes]

    def open_all(part: list[Any]) -> None:
        for envelope in part:
            open_envelope(envelope, [key])

    t0 = time.perf_counter()
    open_all(sealed)
    one = n / (time.perf_counter() - t0)
    workers = [threading.Thread(target=open_all, args=(sealed[i::2],)) for i in range(2)]
    t0 = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    two = n / (time.perf_counter() - t0)
    print(f"open in 1 thread {one:6.0f}/s, in 2 threads {two:6.0f}/s, ratio {two / one:.2f} x")


def bench_inbox(m: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        app = _app(Path(tmp))
        key = RecipientPrivateKey.generate()
        _unlock(app, key)
        data_key = app.extensions[KEYRING_EXTENSION].data_key()
        db = app.extensions[DB_EXTENSION]
        t0 = time.perf_counter()
        statuses = ["new", "in_review", "verified", "closed", "spam"]
        with db.session() as session:
            rows: list[dict[str, Any]] = []
            for i in range(1, m + 1):
                eid = secrets.token_hex(16)
                report = json.dumps({"narrative": f"bench case {i} " + "y" * 300}).encode()
                rows.append(
                    {
                        "id": i,
                        "envelope_id": eid,
                        "seq": i,
                        "day": date(2026, 1, 1) + timedelta(days=i % 300),
                        "sealed_by": "browser",
                        "status": statuses[i % len(statuses)],
                        "urgent": i % 97 == 0,
                        "header": b"",
                        "content_key_ct": b"",
                        "report_ct": custody.encrypt_field(data_key, eid, "report", report),
                    }
                )
                if len(rows) == 5000:
                    session.execute(insert(Case), rows)
                    rows = []
            if rows:
                session.execute(insert(Case), rows)
            session.execute(
                insert(CaseCoding),
                [{"case_id": i, "coded_day": date(2026, 6, 1), "version": 1} for i in range(1, m + 1, 3)],
            )
            session.execute(
                insert(CaseCodingTactic),
                [{"case_id": i, "code": f"T{(i % 15) + 1:02d}"} for i in range(1, m + 1, 3)],
            )
            session.execute(
                insert(CaseTag), [{"case_id": i, "tag": "follow-up"} for i in range(1, m + 1, 50)]
            )
        print(f"stored {m} cases in {time.perf_counter() - t0:.1f} s (setup)")

        secret = accounts.new_totp_secret()
        with app.app_context(), db.session() as session:
            user = accounts.create_user(
                session, "bench@example.org", "bench password 123", "coordinator", CHEAP_ARGON2ID
            )
            user.totp_secret_ct = accounts.encrypt_totp_secret(app.config["SECRET_KEY"], user.id, secret)
        client = app.test_client()
        client.post("/login", data={"email": "bench@example.org", "password": "bench password 123"})
        assert client.post("/login/totp", data={"code": pyotp.TOTP(secret).now()}).status_code == 302

        for query in (
            "/",
            "/?page=1000",
            "/?status=verified",
            "/?tactic=T05",
            "/?urgent=yes",
            "/?tag=follow-up&page=3",
        ):
            times = []
            for _ in range(7):
                t0 = time.perf_counter()
                response = client.get(query)
                times.append((time.perf_counter() - t0) * 1000)
                assert response.status_code == 200
            median = statistics.median(times)
            verdict = "OK" if median <= 150 else "MISS"
            print(f"inbox {query:28s} {median:7.1f} ms median of 7 (target <= 150) {verdict}")
        # Search: every report the filters leave is decrypted in
        # memory and compared (no index); the time grows with the cases.
        # The terms are posted (never in a URL), with the filters.
        searches: tuple[dict[str, str], ...] = (
            {"q": "needle"},
            {"q": "bench case 7"},
            {"q": "needle", "status": "verified"},
        )
        for form in searches:
            times = []
            for _ in range(3):
                t0 = time.perf_counter()
                response = client.post("/", data=form)
                times.append((time.perf_counter() - t0) * 1000)
                assert response.status_code == 200
            median = statistics.median(times)
            label = "&".join(f"{k}={v}" for k, v in form.items())
            print(f"search POST {label:22s} {median:7.0f} ms median of 3 ({m} cases, no target)")
        db.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envelopes", type=int, default=10_000)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3, help="baseline and sync pairs (median ratio)")
    parser.add_argument("--skip-sync", action="store_true")
    parser.add_argument("--skip-inbox", action="store_true")
    parser.add_argument("--threads", action="store_true", help="only: opening in 1 thread against 2")
    args = parser.parse_args()
    if args.threads:
        bench_threads(args.envelopes)
        return
    if not args.skip_sync:
        bench_sync(args.envelopes, args.rounds)
    if not args.skip_inbox:
        bench_inbox(args.cases)


if __name__ == "__main__":
    main()
