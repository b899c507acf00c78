"""Load benchmark of the intake (issue 7, item 4).

Starts, on 127.0.0.1, the intake under gunicorn (the repository's
gunicorn.conf.py, 2 workers) and a bare Flask + SQLAlchemy endpoint
(bench/baseline.py) inserting a blob of the same size as a sealed envelope,
also under gunicorn with 2 workers, on the same database kind. Then drives N
report submissions at concurrency C against each (multipart, as a browser
without JavaScript sends them: each client first loads the form for its
cookie and CSRF token, then posts reports with a fresh submission token
each) and prints throughput, p50/p99 latency, server errors, lost
submissions (acknowledged with a receipt but not in the database: must be
0) and the intake's throughput as a ratio of the bare endpoint's (target
>= 0.85).

    python bench/load.py [-n 10000] [-c 64] [--database sqlite|postgres]
                         [--postgres-url postgresql+psycopg://...]

With ``--database postgres`` the URL comes from ``--postgres-url``, else
``TNR_TEST_POSTGRES_URL``; a fresh schema is made for the run and dropped
after. Exit status 1 if anything was lost or a server error occurred.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, func, select, text  # noqa: E402

from intake.db import normalize_url  # noqa: E402
from intake.envelope import PublicKeyFile, RecipientPrivateKey, seal  # noqa: E402
from intake.models import Envelope  # noqa: E402
from intake.receipts import new_submission_token  # noqa: E402

NARRATIVE_SIZE = 1500  # characters: a paragraph or two
RECEIPT = re.compile(rb"<output>([\d ]+)</output>")
CSRF = re.compile(rb'name="csrf_token" type="hidden" value="([^"]+)"')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_key(directory: Path) -> RecipientPrivateKey:
    key = RecipientPrivateKey.generate()
    today = date.today()
    record = PublicKeyFile(
        recipient_id="bench-org",
        name_en="Bench org",
        name_zh="測試機構",
        public_key=key.public_key,
        created=today,
        expires=today + timedelta(days=30),
        retired=False,
    )
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "bench-org.json").write_text(record.to_json(), encoding="utf-8")
    return key


def envelope_size(key: RecipientPrivateKey) -> int:
    """Bytes the intake stores per report of NARRATIVE_SIZE (header + body)."""
    sealed = seal(
        {"form_version": 1, "language": "en", "narrative": "x" * NARRATIVE_SIZE},
        [key.public_key],
        day=date.today(),
        sealed_by="server",
    )
    return len(sealed.header) + len(sealed.body)


def with_schema(url: str, schema: str) -> str:
    parts = urlsplit(normalize_url(url))
    query = "&".join(q for q in (parts.query, urlencode({"options": f"-csearch_path={schema}"})) if q)
    return urlunsplit(parts._replace(query=query))


@dataclass
class Server:
    name: str
    url: str
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()


def start_gunicorn(name: str, target: list[str], env: dict[str, str], log: Path, workers: int) -> Server:
    port = free_port()
    env = {**env, "GUNICORN_BIND": f"127.0.0.1:{port}", "GUNICORN_WORKERS": str(workers)}
    with log.open("ab") as fh:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", *target],
            cwd=ROOT,
            env=env,
            stdout=fh,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                conn.close()
                break
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise SystemExit(f"{name} did not start; see {log}")
        time.sleep(0.1)
    return Server(name, f"127.0.0.1:{port}", process)


def multipart(fields: dict[str, str]) -> tuple[bytes, str]:
    boundary = "----bench" + secrets.token_hex(8)
    parts = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        )
    # The empty file part a browser sends when no file is chosen.
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="attachments"; filename=""\r\n'
        f"Content-Type: application/octet-stream\r\n\r\n\r\n".encode()
    )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


@dataclass
class Result:
    latencies: list[float] = field(default_factory=list)
    acknowledged: int = 0
    server_errors: int = 0
    other_errors: int = 0
    wall: float = 0.0
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


def drive(server: Server, n: int, concurrency: int, baseline: bool) -> Result:
    """Send ``n`` submissions from ``concurrency`` client threads."""
    result = Result()
    counter = iter(range(n))
    counter_lock = threading.Lock()
    narrative = ("They followed me after the vigil. " * 100)[:NARRATIVE_SIZE]

    def client() -> None:
        cookie, csrf = "", ""
        if not baseline:
            status, page, headers = _request(server.url, "GET", "/en/", None, {})
            assert status == 200, status
            cookie = "; ".join(v.split(";", 1)[0] for k, v in headers if k.lower() == "set-cookie")
            found = CSRF.search(page)
            assert found is not None
            csrf = found.group(1).decode()
        while True:
            with counter_lock:
                if next(counter, None) is None:
                    return
            fields = {"narrative": narrative}
            if not baseline:
                fields.update(csrf_token=csrf, submission=new_submission_token(), recipients="bench-org")
            body, content_type = multipart(fields)
            headers = {"Content-Type": content_type, "Cookie": cookie}
            start = time.monotonic()
            try:
                status, page, _headers = _request(
                    server.url, "POST", "/submit" if baseline else "/en/", body, headers
                )
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
                elif baseline or RECEIPT.search(page):
                    result.acknowledged += 1
                else:
                    result.other_errors += 1

    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result.wall = time.monotonic() - start
    return result


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=2000, help="submissions per target (default 2000)")
    parser.add_argument("-c", "--concurrency", type=int, default=64)
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--postgres-url", default=os.environ.get("TNR_TEST_POSTGRES_URL"))
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="tnr-load-"))
    key = write_key(work / "keys")
    size = envelope_size(key)
    schema = None
    admin_engine = None
    if args.database == "postgres":
        if not args.postgres_url:
            raise SystemExit("--database postgres needs --postgres-url or TNR_TEST_POSTGRES_URL")
        schema = f"bench_{secrets.token_hex(4)}"
        admin_engine = create_engine(normalize_url(args.postgres_url), isolation_level="AUTOCOMMIT")
        with admin_engine.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        intake_url = baseline_url = with_schema(args.postgres_url, schema)
    else:
        intake_url = f"sqlite:///{work / 'intake.db'}"
        baseline_url = f"sqlite:///{work / 'baseline.db'}"

    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("INTAKE_", "GUNICORN_"))}
    intake_env = {
        **base_env,
        "INTAKE_DATA_DIR": str(work / "data"),
        "INTAKE_KEYS_DIR": str(work / "keys"),
        "INTAKE_DATABASE_URL": intake_url,
        # Capacity, not flood defence: every client here is 127.0.0.1, and
        # the submission throttle (intake/report/throttle.py) would refuse
        # all but ten of them.
        "INTAKE_SUBMISSION_THROTTLE": "false",
    }
    baseline_env = {**base_env, "BASELINE_DATABASE_URL": baseline_url, "BASELINE_BLOB_SIZE": str(size)}
    print(
        f"database {args.database}, {args.n} submissions at concurrency {args.concurrency}, "
        f"gunicorn {args.workers} workers, {size} bytes stored per report, {os.cpu_count()} cores"
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
        drive(bare, min(200, args.n), min(8, args.concurrency), baseline=True)  # warm up
        bare_result = drive(bare, args.n, args.concurrency, baseline=True)
        bare.stop()
        app = start_gunicorn("intake", ["wsgi:intake"], intake_env, work / "intake.log", args.workers)
        servers.append(app)
        warm = drive(app, min(200, args.n), min(8, args.concurrency), baseline=False)
        app_result = drive(app, args.n, args.concurrency, baseline=False)
        app.stop()

        engine = create_engine(normalize_url(intake_url))
        with engine.connect() as conn:
            stored = int(conn.execute(select(func.count()).select_from(Envelope.__table__)).scalar_one())
        engine.dispose()
        acknowledged = warm.acknowledged + app_result.acknowledged
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
        if admin_engine is not None:
            with admin_engine.connect() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            admin_engine.dispose()
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
