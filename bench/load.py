"""Load benchmark of the intake: reports a second it stores, lost, 5xx.

Starts, on 127.0.0.1, the intake under gunicorn (the repository's
gunicorn.conf.py, 2 workers) and a bare Flask + SQLAlchemy endpoint
(bench/baseline.py, also under gunicorn with 2 workers, on the same database
kind) that parses the same request body and inserts a blob of the same size
as what the intake stores for that path. Then drives N report submissions at
concurrency C against each and prints throughput, p50/p99 latency, server
errors, lost submissions (acknowledged with a receipt but not in the
database: must be 0) and the intake's throughput as a ratio of the bare
endpoint's (target >= 0.85).

Two paths (``--path``):

``sealed`` (the default: most reporters have JavaScript)
    the browser path, ``POST /<lang>/sealed`` (intake/report/upload.py):
    each client loads the form once for its cookie and CSRF token, then
    uploads envelopes sealed with ``sealed_by="browser"``, each with a
    fresh envelope id, submission token and browser-made receipt, and a
    reply public key in the header. The envelopes are sealed here *before*
    the timed run (the reporter's browser pays for that, not the server).
    The reply key is a fresh X-Wing key per envelope rather than the
    Argon2id derivation from the receipt (intake/envelope/replykey.py):
    same size, the intake cannot tell the difference, and 10,000
    derivations would cost the client minutes of CPU. Lost submissions
    are counted by envelope id: every acknowledged id must be stored.
``form``
    the no-JavaScript path, ``POST /<lang>/`` (multipart, as a browser
    without JavaScript sends it): each client loads the form for its
    cookie and CSRF token, then posts reports with a fresh submission
    token each; the server seals, and derives the reporter's reply key
    from the receipt with Argon2id (~40 ms of CPU per report, required by
    the design), so this path cannot come near the bare insert: its ratio
    is printed for the record.

    python bench/load.py [-n 10000] [-c 64] [--path sealed|form]
                         [--rounds 5] [--database sqlite|postgres]
                         [--postgres-url postgresql+psycopg://...]

Both servers run side by side and the N submissions go in ``--rounds``
alternating rounds (bare, intake, bare, …), so that other load on the
machine changes both throughputs alike; each client loads the form once,
before the timed rounds.

With ``--database postgres`` the URL comes from ``--postgres-url``, else
``TNR_TEST_POSTGRES_URL``; a fresh schema is made for the run and dropped
after. Exit status 1 if anything was lost or a server error occurred.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import secrets
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import altcha  # noqa: E402
from sqlalchemy import create_engine, func, select  # noqa: E402

from bench.serving import Server, bench_env, postgres_schema, start_gunicorn, write_key  # noqa: E402
from core.db import normalize_url  # noqa: E402
from core.envelope import (  # noqa: E402
    RecipientPrivateKey,
    SealedEnvelope,
    parse_header,
    seal,
)
from core.receipts import new_submission_token  # noqa: E402
from core.timing import today_utc  # noqa: E402
from intake.store.models import Envelope  # noqa: E402

NARRATIVE_SIZE = 1500  # characters: a paragraph or two
NARRATIVE = ("They followed me after the vigil. " * 100)[:NARRATIVE_SIZE]
RECEIPT = re.compile(rb"<output>([\d ]+)</output>")
CSRF = re.compile(rb'name="csrf_token" type="hidden" value="([^"]+)"')
WARM_UP = 200


def browser_envelope(key: RecipientPrivateKey) -> SealedEnvelope:
    """An envelope as the browser seals it: fresh envelope id, a reply
    public key in the header (a fresh key pair; see the module docstring)."""
    return seal(
        {"form_version": 1, "language": "en", "narrative": NARRATIVE},
        [key.public_key],
        day=today_utc(),
        sealed_by="browser",
        reply_key=RecipientPrivateKey.generate().public_key.raw,
    )


def server_envelope_size(key: RecipientPrivateKey) -> int:
    """Bytes the intake stores per no-JS report of NARRATIVE_SIZE (header,
    with the reply key, + body), as the server seals it."""
    sealed = seal(
        {"form_version": 1, "language": "en", "narrative": NARRATIVE},
        [key.public_key],
        day=today_utc(),
        sealed_by="server",
        reply_key=RecipientPrivateKey.generate().public_key.raw,
    )
    return len(sealed.header) + len(sealed.body)


#: A multipart part: a text field (str) or a file part (bytes, sent with a
#: file name and ``application/octet-stream``, as a browser sends a Blob).
Part = tuple[str, str | bytes]


def multipart(parts: list[Part]) -> tuple[bytes, str]:
    boundary = "----bench" + secrets.token_hex(8)
    out = []
    for name, value in parts:
        if isinstance(value, str):
            out.append(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
            )
        else:
            out.append(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{name}"\r\n'
                f"Content-Type: application/octet-stream\r\n\r\n".encode()
                + value
                + b"\r\n"
            )
    out.append(f"--{boundary}--\r\n".encode())
    return b"".join(out), f"multipart/form-data; boundary={boundary}"


#: What the bare endpoint gets in place of a CSRF token (it checks none):
#: as long as Flask-WTF's, so both servers parse bodies of the same size.
BARE_CSRF = "-" * 91
#: What the bare endpoint gets in place of an ALTCHA payload: the same size.
BARE_PROOF = "-" * 620


def form_parts(csrf: str) -> list[Part]:
    """A no-JS form post: the fields, then the empty file part a browser
    sends when no file is chosen."""
    return [
        ("narrative", NARRATIVE),
        ("csrf_token", csrf),
        ("submission", new_submission_token()),
        ("recipients", "bench-org"),
        ("attachments", b""),
    ]


def sealed_parts(csrf: str, envelope: SealedEnvelope, proof: str) -> list[Part]:
    """A browser upload (intake/report/upload.py), field order as
    js/form.js sends them, with its ALTCHA payload."""
    return [
        ("csrf_token", csrf),
        ("submission", new_submission_token()),
        # The lookup value the page derives from its receipt (the receipt
        # itself never leaves the browser, docs/threat-model.md); random
        # here, since the intake only checks its shape and hashes it.
        ("lookup", secrets.token_hex(32)),
        ("header", envelope.header),
        ("body", envelope.body),
        ("altcha", proof),
    ]


def presolved(server: Server, count: int) -> Callable[[], str]:
    """``count`` ALTCHA payloads for ``server``, solved now (client side,
    before timing); a thread-safe pop. The intake runs with counter 0, so
    each solution is one derivation here; the server verifies it as it
    verifies every upload (the challenge's and the key's signatures).
    Issuing challenges (one derivation each) happens before timing, as a
    browser fetches its challenge when the reporter starts typing."""
    proofs = []
    for _ in range(count):
        _status, page, _headers = _request(server.address, "GET", "/en/challenge", None, {})
        challenge = altcha.Challenge.from_dict(json.loads(page))
        solution = altcha.solve_challenge(challenge)
        assert solution is not None
        proofs.append(altcha.Payload(challenge, solution).to_base64())
    lock = threading.Lock()

    def pop() -> str:
        with lock:
            return proofs.pop()

    return pop


@dataclass
class Result:
    latencies: list[float] = field(default_factory=list)
    acknowledged: int = 0
    server_errors: int = 0
    other_errors: int = 0
    wall: float = 0.0
    #: Envelope ids the intake acknowledged (sealed path).
    acknowledged_ids: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _request(
    host: str, method: str, path: str, body: bytes | None, headers: dict[str, str]
) -> tuple[int, bytes, list[tuple[str, str]]]:
    hostname, port = host.split(":")
    conn = http.client.HTTPConnection(hostname, int(port), timeout=120)
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.read(), response.getheaders()
    finally:
        conn.close()


def _acknowledged(path: str, page: bytes) -> bool:
    if path == "form":
        return RECEIPT.search(page) is not None
    try:
        answer = json.loads(page)
    except ValueError:
        return False
    return answer.get("stored") is True and answer.get("earlier") is False


def drive(
    server: Server,
    path: str,
    n: int,
    concurrency: int,
    baseline: bool,
    next_envelope: Callable[[], Presealed | None] | None = None,
    result: Result | None = None,
    next_proof: Callable[[], str] | None = None,
    sessions: list[tuple[str, str]] | None = None,
) -> Result:
    """Send ``n`` submissions from ``concurrency`` client threads, adding to
    ``result`` (a new one if None). On the sealed path ``next_envelope``
    hands out the pre-sealed envelopes; ``sessions`` are the clients'
    (cookie, CSRF token) pairs (:func:`form_sessions`; made here if None)."""
    result = result if result is not None else Result()
    counter = iter(range(n))
    counter_lock = threading.Lock()
    target = "/submit" if baseline else ("/en/sealed" if path == "sealed" else "/en/")
    if sessions is None:
        sessions = [("", BARE_CSRF)] * concurrency if baseline else form_sessions(server, concurrency)

    def client(index: int) -> None:
        cookie, csrf = sessions[index]
        while True:
            with counter_lock:
                if next(counter, None) is None:
                    return
            envelope = None
            if path == "sealed":
                assert next_envelope is not None
                presealed_one = next_envelope()
                assert presealed_one is not None, "ran out of pre-sealed envelopes"
                envelope, envelope_id = presealed_one
                proof = next_proof() if next_proof is not None else BARE_PROOF
                parts = sealed_parts(csrf, envelope, proof)
            else:
                parts = form_parts(csrf)
            body, content_type = multipart(parts)
            headers = {"Content-Type": content_type, "Cookie": cookie}
            start = time.monotonic()
            try:
                status, page, _headers = _request(server.address, "POST", target, body, headers)
            except OSError:
                with result.lock:
                    result.other_errors += 1
                continue
            elapsed = time.monotonic() - start
            with result.lock:
                result.latencies.append(elapsed)
                if status >= 500:
                    result.server_errors += 1
                elif status != 200:
                    result.other_errors += 1
                elif baseline or _acknowledged(path, page):
                    result.acknowledged += 1
                    if envelope is not None and not baseline:
                        result.acknowledged_ids.append(envelope_id)
                else:
                    result.other_errors += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(concurrency)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result.wall += time.monotonic() - start
    return result


def form_sessions(server: Server, count: int) -> list[tuple[str, str]]:
    """``count`` clients' (cookie, CSRF token): each loads the form once,
    as a reporter does before writing (not timed)."""
    sessions = []
    for _ in range(count):
        status, page, headers = _request(server.address, "GET", "/en/", None, {})
        assert status == 200, status
        cookie = "; ".join(v.split(";", 1)[0] for k, v in headers if k.lower() == "set-cookie")
        found = CSRF.search(page)
        assert found is not None
        sessions.append((cookie, found.group(1).decode()))
    return sessions


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def report(name: str, result: Result, n: int) -> float:
    throughput = result.acknowledged / result.wall if result.wall else 0.0
    print(
        f"{name:9} {throughput:8.1f}/s  p50 {1000 * statistics.median(result.latencies or [0]):7.1f} ms  "
        f"p99 {1000 * percentile(result.latencies, 99):7.1f} ms  ok {result.acknowledged}/{n}  "
        f"5xx {result.server_errors}  other errors {result.other_errors}  ({result.wall:.1f} s)"
    )
    return throughput


#: A pre-sealed envelope and its envelope id (read from its header before
#: timing, so that the client's bookkeeping of acknowledged ids costs the
#: timed run nothing: the bare endpoint's client keeps none).
Presealed = tuple[SealedEnvelope, str]


def presealed(key: RecipientPrivateKey, count: int) -> Callable[[], Presealed | None]:
    """Seal ``count`` browser envelopes now; return a thread-safe pop."""
    envelopes = []
    for _ in range(count):
        envelope = browser_envelope(key)
        envelopes.append((envelope, parse_header(envelope.header).envelope_id))
    lock = threading.Lock()

    def pop() -> Presealed | None:
        with lock:
            return envelopes.pop() if envelopes else None

    return pop


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=2000, help="submissions per target (default 2000)")
    parser.add_argument("-c", "--concurrency", type=int, default=64)
    parser.add_argument(
        "--path",
        choices=["sealed", "form"],
        default="sealed",
        help="sealed: the browser upload (default); form: the no-JavaScript form post",
    )
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--postgres-url", default=os.environ.get("TNR_TEST_POSTGRES_URL"))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--rounds", type=int, default=5, help="alternating rounds per server (default 5), see below"
    )
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="tnr-load-"))
    key = write_key(work / "keys")
    warm_n = min(WARM_UP, args.n)
    intake_envelopes: Callable[[], Presealed | None] | None
    bare_envelopes: Callable[[], Presealed | None] | None
    if args.path == "sealed":
        sample = browser_envelope(key)
        size = len(sample.header) + len(sample.body)
        started = time.monotonic()
        # The intake's envelopes: the timed run and its warm-up, each with
        # its own envelope id. The bare endpoint gets envelopes of the same
        # size (its own set: it stores whatever arrives).
        intake_envelopes = presealed(key, args.n + warm_n)
        bare_envelopes = presealed(key, args.n + warm_n)
        print(f"sealed {2 * (args.n + warm_n)} envelopes client side in {time.monotonic() - started:.1f} s")
    else:
        size = server_envelope_size(key)
        intake_envelopes = bare_envelopes = None
    cleanup = ExitStack()
    if args.database == "postgres":
        if not args.postgres_url:
            raise SystemExit("--database postgres needs --postgres-url or TNR_TEST_POSTGRES_URL")
        intake_url = baseline_url = cleanup.enter_context(postgres_schema(args.postgres_url, "bench"))
    else:
        intake_url = f"sqlite:///{work / 'intake.db'}"
        baseline_url = f"sqlite:///{work / 'baseline.db'}"

    intake_env = {
        "INTAKE_DATA_DIR": str(work / "data"),
        "INTAKE_KEYS_DIR": str(work / "keys"),
        "INTAKE_DATABASE_URL": intake_url,
        # Capacity, not flood defence: every client here is 127.0.0.1, and
        # the submission throttle (intake/abuse/throttle.py) would refuse
        # all but the first 200 of them.
        "INTAKE_SUBMISSION_THROTTLE": "false",
        # ALTCHA stays on and each upload's proof is verified as in
        # production (its key signature); a counter of 0 only spares the
        # bench's client the search (intake/abuse/proofofwork.py).
        "INTAKE_ALTCHA_COUNTER_MIN": "0",
        "INTAKE_ALTCHA_COUNTER_MAX": "0",
    }
    intake_env = bench_env(intake_env)
    baseline_env = {
        "BASELINE_DATABASE_URL": baseline_url,
        "BASELINE_BLOB_SIZE": str(size),
        "BASELINE_PATH": args.path,
    }
    baseline_env = bench_env(baseline_env)
    print(
        f"path {args.path}, database {args.database}, {args.n} submissions at concurrency "
        f"{args.concurrency}, gunicorn {args.workers} workers, {size} bytes stored per report, "
        f"{os.cpu_count()} cores"
    )
    servers: list[Server] = []
    failed = False
    try:
        bare = start_gunicorn(
            "baseline",
            ["--pythonpath", "bench", "baseline:app"],
            baseline_env,
            work / "baseline.log",
            args.workers,
        )
        servers.append(bare)
        app = start_gunicorn("intake", ["wsgi:intake"], intake_env, work / "intake.log", args.workers)
        servers.append(app)
        warm_c = min(8, args.concurrency)
        proofs = None
        if args.path == "sealed":
            started = time.monotonic()
            proofs = presolved(app, args.n + warm_n)
            print(
                f"solved {args.n + warm_n} ALTCHA challenges client side "
                f"in {time.monotonic() - started:.1f} s"
            )
        drive(bare, args.path, warm_n, warm_c, baseline=True, next_envelope=bare_envelopes)
        warm = drive(
            app, args.path, warm_n, warm_c, baseline=False, next_envelope=intake_envelopes, next_proof=proofs
        )
        sessions = form_sessions(app, args.concurrency)
        # Rounds alternate between the two servers (the idle one costs
        # nothing), so a load change on a shared machine hits both alike.
        bare_result, app_result = Result(), Result()
        for r in range(args.rounds):
            share = args.n // args.rounds + (1 if r < args.n % args.rounds else 0)
            drive(bare, args.path, share, args.concurrency, True, bare_envelopes, bare_result)
            drive(
                app,
                args.path,
                share,
                args.concurrency,
                False,
                intake_envelopes,
                app_result,
                sessions=sessions,
                next_proof=proofs,
            )
        bare.stop()
        app.stop()

        engine = create_engine(normalize_url(intake_url))
        with engine.connect() as conn:
            stored = int(conn.execute(select(func.count()).select_from(Envelope.__table__)).scalar_one())
            stored_ids = set(conn.execute(select(Envelope.envelope_id)).scalars())
        engine.dispose()
        acknowledged = warm.acknowledged + app_result.acknowledged
        if args.path == "sealed":
            # Every acknowledged envelope id must be in the database.
            lost = len(set(warm.acknowledged_ids + app_result.acknowledged_ids) - stored_ids)
        else:
            lost = max(0, acknowledged - stored)

        bare_tp = report("bare", bare_result, args.n)
        intake_tp = report("intake", app_result, args.n)
        ratio = intake_tp / bare_tp if bare_tp else float("nan")
        print(f"stored {stored}, acknowledged {acknowledged}, lost {lost}")
        print(f"ratio intake/bare {ratio:.2f} (target >= 0.85)")
        failed = lost > 0 or app_result.server_errors > 0 or bare_result.server_errors > 0
        if app_result.other_errors:
            print(f"note: {app_result.other_errors} intake requests failed without a server error")
    finally:
        for server in servers:
            server.stop()
        cleanup.close()  # the PostgreSQL schema, if any
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
