"""Flood benchmark of the intake: do real reporters still get through?

Three attackers each send ``--rate`` requests a second (default 30) for
``--duration`` seconds (default 60):

``empty``
    posts to ``/en/`` that cost nothing: no body at all, or the attacker's
    own valid CSRF token and an empty form;
``followup``
    junk follow-ups: half with a forged access token, half under receipts
    the attacker holds (three reports it sent before the run), each with a
    2 MiB file and a fresh submission token, so every one would be stored
    if nothing stopped it (the per-report quota and the disk floor do);
``guess``
    receipt guesses: one check page's tokens replayed with random receipts,
    and guesses with no token at all.

Meanwhile real reporters, one after another on each path, send:

``browser``
    a report as js/form.js sends it: form loaded, the intake's own ALTCHA
    challenge (default cost) solved with ``altcha``'s solver as the browser
    does, an envelope sealed to the intake's key, ``POST /en/sealed``;
``no-js``
    a report as a browser without JavaScript posts it (``POST /en/``);
``check``
    a receipt check without JavaScript, with a receipt a real report got.

It prints each real path's success rate (target >= 95 %), what each
attacker got, the intake's CPU (CPU seconds per wall second of gunicorn and
its workers, from /proc) and the data folder's growth, sampled every 5 s,
against the free-disk floor: by default ``MIN_FREE_DISK`` is set to the
free space at the start minus ``--disk-budget`` MiB, so the data folder
must stop growing within that budget. The data folder goes to /dev/shm
(``--data-parent``) where it can: on a shared machine other programs fill
the main disk by megabytes a second, which would move the floor.

By default the bench starts the intake itself under gunicorn on 127.0.0.1
(gunicorn.conf.py, ``--workers`` workers, SQLite or ``--database
postgres``), with default throttles: every client then comes from one
address, as behind Tor, so only what a request proves sorts it. With
``--url`` it drives an intake that is already running instead, e.g.
through the shipped nginx (deploy/): ``--data-dir`` then names the data
folder to measure and ``--pid`` the gunicorn master for CPU (both
optional), and the intake's own settings apply.

    python bench/flood.py [--duration 60] [--rate 30] [--workers 2]
                          [--database sqlite|postgres] [--postgres-url URL]
                          [--disk-budget 64] [--url URL --data-dir DIR --pid PID]

Exit status 1 if a real path stays under 95 %, a server error occurred,
or the data folder outgrew the budget by more than one upload.
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from multiprocessing.queues import Queue
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import altcha  # noqa: E402
import requests  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from core.db import normalize_url  # noqa: E402
from core.envelope import PublicKeyFile, RecipientPrivateKey, seal  # noqa: E402
from core.envelope.keys import RecipientPublicKey, b64decode  # noqa: E402
from core.receipts import new_receipt, new_submission_token  # noqa: E402
from core.timing import today_utc  # noqa: E402

RECEIPT = re.compile(r"<output>([\d ]+)</output>")
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
MIB = 1024 * 1024
JUNK_FILE = 2 * MIB
TIMEOUT = 120


def hidden(page: str, name: str) -> str:
    found = re.search(rf'name="{name}" type="hidden" value="([^"]*)"', page)
    return found.group(1) if found else ""


def csrf(page: str) -> str:
    found = CSRF.search(page)
    return found.group(1) if found else ""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_key(directory: Path) -> None:
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


# --- what a real reporter does


def page_keys(page: str) -> list[RecipientPublicKey]:
    """The public keys the form carries for the page's script."""
    keys = re.findall(r'data-public-key="([^"]+)"', page)
    return [RecipientPublicKey(b64decode(k, "public key")) for k in keys]


def browser_report(url: str) -> str:
    """One report on the browser path, the work done as the browser does."""
    with requests.Session() as s:
        page = s.get(f"{url}/en/", timeout=TIMEOUT).text
        challenge = altcha.Challenge.from_dict(s.get(f"{url}/en/challenge", timeout=TIMEOUT).json())
        solution = altcha.solve_challenge(challenge)
        if solution is None:
            return "unsolved"
        envelope = seal(
            {"form_version": 1, "language": "en", "narrative": "They followed me after the vigil."},
            page_keys(page),
            day=today_utc(),
            sealed_by="browser",
            reply_key=RecipientPrivateKey.generate().public_key.raw,
        )
        fields = {
            "csrf_token": csrf(page),
            "submission": hidden(page, "submission"),
            "receipt": new_receipt(),
            "altcha": altcha.Payload(challenge, solution).to_base64(),
        }
        files = {
            "header": ("header", envelope.header, "application/octet-stream"),
            "body": ("body", envelope.body, "application/octet-stream"),
        }
        answer = s.post(f"{url}/en/sealed", data=fields, files=files, timeout=TIMEOUT)
        if answer.status_code == 200 and "receipt" in answer.json():
            return "ok"
        return f"{answer.status_code} {answer.json().get('error', '')}"


def no_js_report(url: str, receipts: list[str] | None = None) -> str:
    """One report without JavaScript; its receipt goes to ``receipts``."""
    with requests.Session() as s:
        page = s.get(f"{url}/en/", timeout=TIMEOUT).text
        data = {
            "csrf_token": csrf(page),
            "submission": hidden(page, "submission"),
            "narrative": "A man photographed us at the community centre.",
        }
        # A browser without JavaScript sends the empty file part too.
        files = {"attachments": ("", b"", "application/octet-stream")}
        answer = s.post(f"{url}/en/", data=data, files=files, timeout=TIMEOUT)
        found = RECEIPT.search(answer.text) if answer.status_code == 200 else None
        if found and receipts is not None:
            receipts.append(found.group(1))
        return "ok" if found is not None else str(answer.status_code)


def status_page(s: requests.Session, url: str, receipt: str) -> str | None:
    """A receipt check without JavaScript; the status page, or None."""
    page = s.get(f"{url}/en/receipt", timeout=TIMEOUT).text
    data = {"csrf_token": csrf(page), "check": hidden(page, "check"), "receipt": receipt}
    answer = s.post(f"{url}/en/receipt", data=data, timeout=TIMEOUT)
    return answer.text if answer.status_code == 200 and 'name="access"' in answer.text else None


def check_receipt(url: str, receipt: str) -> str:
    """A real reporter's receipt check without JavaScript: "ok" or why not."""
    with requests.Session() as s:
        page = s.get(f"{url}/en/receipt", timeout=TIMEOUT).text
        data = {"csrf_token": csrf(page), "check": hidden(page, "check"), "receipt": receipt}
        answer = s.post(f"{url}/en/receipt", data=data, timeout=TIMEOUT)
        return (
            "ok" if answer.status_code == 200 and 'name="access"' in answer.text else str(answer.status_code)
        )


# --- the attackers


@dataclass
class Tally:
    counts: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, key: str) -> None:
        with self.lock:
            self.counts[key] += 1


def paced(
    rate: float, stop: threading.Event, send: Callable[[int], str], tally: Tally, threads: int = 6
) -> list[threading.Thread]:
    """``threads`` threads that together call ``send`` ``rate`` times a
    second (each on its own schedule) until ``stop``; results tallied."""
    interval = threads / rate

    def run(offset: int) -> None:
        due = time.monotonic() + offset * interval / threads
        i = offset
        while not stop.is_set():
            delay = due - time.monotonic()
            if delay > 0:
                stop.wait(delay)
                if stop.is_set():
                    return
            try:
                tally.add(send(i))
            except (requests.RequestException, OSError, http.client.HTTPException) as exc:
                tally.add(type(exc).__name__)
            due += interval
            i += threads

    return [threading.Thread(target=run, args=(t,), daemon=True) for t in range(threads)]


def post(url: str, path: str, body: bytes, content_type: str, cookie: str = "") -> str:
    """One POST on a fresh connection (http.client: a light client, so
    that the bench's own CPU does not set the attack's rate); the status."""
    parts = urlsplit(url)
    conn_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = conn_class(parts.hostname or "127.0.0.1", parts.port, timeout=TIMEOUT)
    try:
        headers = {"Content-Type": content_type, "Cookie": cookie}
        conn.request("POST", parts.path.rstrip("/") + path, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        return str(response.status)
    finally:
        conn.close()


def cookie_of(session: requests.Session) -> str:
    return "; ".join(f"{k}={v}" for k, v in session.cookies.items())


FORM = "application/x-www-form-urlencoded"


def multipart(fields: list[tuple[str, str]], file: bytes | None, boundary: str) -> bytes:
    out = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields
    ]
    if file is not None:
        out.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="attachments"; filename="junk.bin"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n".encode()
            + file
            + b"\r\n"
        )
    out.append(f"--{boundary}--\r\n".encode())
    return b"".join(out)


def empty_posts(url: str) -> Callable[[int], str]:
    s = requests.Session()
    token = csrf(s.get(f"{url}/en/", timeout=TIMEOUT).text)
    cookie = cookie_of(s)
    with_token = urlencode({"csrf_token": token}).encode()

    def send(i: int) -> str:
        if i % 2:
            return post(url, "/en/", b"", FORM)  # nothing at all
        return post(url, "/en/", with_token, FORM, cookie)  # a valid token, an empty form

    return send


def junk_followups(url: str, receipts: list[str]) -> Callable[[int], str]:
    """Half with a forged access token, half under the attacker's own
    receipts (their status pages: CSRF and access tokens), each with a
    2 MiB file and a fresh submission token."""
    held = []
    for receipt in receipts:
        s = requests.Session()
        page = status_page(s, url, receipt)
        if page is not None:
            held.append((cookie_of(s), csrf(page), hidden(page, "access")))
    junk = secrets.token_bytes(JUNK_FILE)
    forged = urlencode({"csrf_token": "x", "access": secrets.token_urlsafe(40), "narrative": "junk"}).encode()
    boundary = "----flood" + secrets.token_hex(8)

    def send(i: int) -> str:
        if i % 2 or not held:
            return post(url, "/en/followup", forged, FORM)
        cookie, token, access = held[(i // 2) % len(held)]
        fields = [
            ("csrf_token", token),
            ("access", access),
            ("submission", new_submission_token()),
            ("narrative", "junk"),
        ]
        body = multipart(fields, junk, boundary)
        return post(url, "/en/followup", body, f"multipart/form-data; boundary={boundary}", cookie)

    return send


def receipt_guesses(url: str) -> Callable[[int], str]:
    s = requests.Session()
    page = s.get(f"{url}/en/receipt", timeout=TIMEOUT).text
    token, check, cookie = csrf(page), hidden(page, "check"), cookie_of(s)

    def send(i: int) -> str:
        data = {"csrf_token": token, "receipt": new_receipt()}
        if i % 2 == 0:
            data["check"] = check  # the same page's token, replayed
        return post(url, "/en/receipt", urlencode(data).encode(), FORM, cookie)

    return send


SENDERS: dict[str, Callable[..., Callable[[int], str]]] = {
    "empty": lambda url, _receipts: empty_posts(url),
    "followup": junk_followups,
    "guess": lambda url, _receipts: receipt_guesses(url),
}


def attack(
    name: str,
    url: str,
    receipts: list[str],
    rate: float,
    start_at: float,
    duration: float,
    out: Queue[tuple[str, dict[str, int]]],
) -> None:
    """One attacker, in a process of its own (a real attacker has its own
    machine; one Python process for all three would set the rate by its
    own CPU): ``rate`` requests a second from ``start_at`` for
    ``duration`` seconds; puts ``(name, Counter of statuses)`` on ``out``."""
    send = SENDERS[name](url, receipts)
    tally = Tally()
    stop = threading.Event()
    threads = paced(rate, stop, send, tally, threads=max(1, int(rate)))
    time.sleep(max(0.0, start_at - time.time()))
    for t in threads:
        t.start()
    stop.wait(duration)
    stop.set()
    for t in threads:
        t.join(timeout=TIMEOUT)
    out.put((name, dict(tally.counts)))


# --- measuring the intake


def cpu_seconds(pid: int | None) -> float:
    """utime + stime of ``pid`` and its children (gunicorn's workers)."""
    if pid is None:
        return float("nan")
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    children_file = Path(f"/proc/{pid}/task/{pid}/children")
    pids = [pid] + ([int(p) for p in children_file.read_text().split()] if children_file.exists() else [])
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def folder_bytes(path: Path | None) -> int:
    if path is None or not path.exists():
        return 0
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def with_schema(url: str, schema: str) -> str:
    parts = urlsplit(normalize_url(url))
    query = "&".join(q for q in (parts.query, urlencode({"options": f"-csearch_path={schema}"})) if q)
    return urlunsplit(parts._replace(query=query))


def start_intake(env: dict[str, str], log: Path, workers: int) -> tuple[str, subprocess.Popen[bytes]]:
    port = free_port()
    env = {**env, "GUNICORN_BIND": f"127.0.0.1:{port}", "GUNICORN_WORKERS": str(workers)}
    with log.open("ab") as fh:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:intake"],
            cwd=ROOT,
            env=env,
            stdout=fh,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if requests.get(f"{url}/healthz", timeout=2).status_code == 200:
                return url, process
        except requests.RequestException:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise SystemExit(f"the intake did not start; see {log}")
        time.sleep(0.1)


def real_loop(name: str, attempt: Callable[[], str], stop: threading.Event, tally: Tally) -> threading.Thread:
    """A real reporter on one path: ``attempt`` again and again (half a
    second apart) until ``stop``; outcomes ("ok" or why not) tallied."""

    def run() -> None:
        while not stop.is_set():
            try:
                tally.add(f"{name}\t{attempt()}")
            except (requests.RequestException, ValueError) as exc:
                tally.add(f"{name}\t{type(exc).__name__}")
            stop.wait(0.5)

    return threading.Thread(target=run, daemon=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of attack (default 60)")
    parser.add_argument(
        "--rate", type=float, default=30.0, help="requests a second per attacker (default 30)"
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--postgres-url", default=os.environ.get("TNR_TEST_POSTGRES_URL"))
    parser.add_argument(
        "--disk-budget", type=int, default=64, help="MiB the data folder may grow (default 64)"
    )
    # mkdtemp makes a fresh 0700 folder there, so a shared tmpfs is safe.
    shm = "/dev/shm"  # noqa: S108
    parser.add_argument(
        "--data-parent",
        default=shm if os.access(shm, os.W_OK) else None,
        help="where the started intake's data folder goes (default /dev/shm: a file system that "
        "other programs on a shared machine do not fill while the floor is measured)",
    )
    parser.add_argument("--url", help="drive a running intake (e.g. through nginx) instead of starting one")
    parser.add_argument("--data-dir", type=Path, help="with --url: the intake's data folder, to measure")
    parser.add_argument("--pid", type=int, help="with --url: the gunicorn master's pid, for CPU")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="tnr-flood-", dir=args.data_parent))
    process: subprocess.Popen[bytes] | None = None
    admin_engine = None
    schema = None
    data_dir: Path | None = args.data_dir
    pid: int | None = args.pid
    budget = args.disk_budget * MIB
    try:
        if args.url:
            url = args.url.rstrip("/")
            print(f"driving {url} (its own settings)")
        else:
            data_dir = work / "data"
            data_dir.mkdir()
            write_key(work / "keys")
            env = {k: v for k, v in os.environ.items() if not k.startswith(("INTAKE_", "GUNICORN_"))}
            env.update(
                INTAKE_DATA_DIR=str(data_dir),
                INTAKE_KEYS_DIR=str(work / "keys"),
                # The floor: what is free now, less the budget.
                INTAKE_MIN_FREE_DISK=str(shutil.disk_usage(data_dir).free - budget),
            )
            if args.database == "postgres":
                if not args.postgres_url:
                    raise SystemExit("--database postgres needs --postgres-url or TNR_TEST_POSTGRES_URL")
                schema = f"flood_{secrets.token_hex(4)}"
                admin_engine = create_engine(normalize_url(args.postgres_url), isolation_level="AUTOCOMMIT")
                with admin_engine.connect() as conn:
                    conn.execute(text(f'CREATE SCHEMA "{schema}"'))
                env["INTAKE_DATABASE_URL"] = with_schema(args.postgres_url, schema)
                env["INTAKE_BLOB_STORE"] = "files"  # so the floor is on this disk
            url, process = start_intake(env, work / "intake.log", args.workers)
            pid = process.pid
            print(
                f"intake under gunicorn ({args.workers} workers, {args.database}) at {url}; data in "
                f"{work}; disk floor: free space now less {args.disk_budget} MiB"
            )
        print(
            f"attackers: empty posts, junk follow-ups, receipt guesses at {args.rate:g}/s each, "
            f"{args.duration:g} s"
        )

        # Before the attack: real receipts for the checks, the attacker's own.
        real_receipts: list[str] = []
        attacker_receipts: list[str] = []
        for _ in range(3):
            no_js_report(url, real_receipts)
            no_js_report(url, attacker_receipts)
        if not real_receipts:
            raise SystemExit("no real report went in before the attack")

        tally = Tally()
        stop = threading.Event()
        threads = []
        context = multiprocessing.get_context("fork")
        results: Queue[tuple[str, dict[str, int]]] = context.Queue()
        start_at = time.time() + 3  # each attacker gets ready first
        attackers = [
            context.Process(
                target=attack,
                args=(name, url, attacker_receipts, args.rate, start_at, args.duration, results),
                daemon=True,
            )
            for name in SENDERS
        ]
        for process_ in attackers:
            process_.start()
        time.sleep(max(0.0, start_at - time.time()))
        receipts_cycle = iter(range(1_000_000))
        threads += [
            real_loop("browser", lambda: browser_report(url), stop, tally),
            real_loop("no-js", lambda: no_js_report(url), stop, tally),
            real_loop(
                "check",
                lambda: check_receipt(url, real_receipts[next(receipts_cycle) % len(real_receipts)]),
                stop,
                tally,
            ),
        ]
        size_before = folder_bytes(data_dir)
        cpu_before, wall_before = cpu_seconds(pid), time.monotonic()
        for t in threads:
            t.start()
        samples = []
        end = wall_before + args.duration
        while time.monotonic() < end:
            time.sleep(min(5.0, max(0.0, end - time.monotonic())))
            samples.append(folder_bytes(data_dir) - size_before)
        stop.set()
        for t in threads:
            t.join(timeout=TIMEOUT)
        attacks = dict(results.get(timeout=TIMEOUT) for _ in attackers)
        for process_ in attackers:
            process_.join(timeout=TIMEOUT)
        wall = time.monotonic() - wall_before
        cpu = cpu_seconds(pid) - cpu_before
        growth = folder_bytes(data_dir) - size_before

        failed = False
        print("\nreal reporters during the attack:")
        for name in ("browser", "no-js", "check"):
            outcomes = {k.split("\t", 1)[1]: v for k, v in tally.counts.items() if k.startswith(name + "\t")}
            ok, total = outcomes.pop("ok", 0), sum(outcomes.values()) + outcomes.get("ok", 0)
            total += ok
            rate = 100 * ok / total if total else 0.0
            failed |= rate < 95
            why = ", ".join(f"{k}: {v}" for k, v in sorted(outcomes.items()))
            print(f"  {name:8} {ok:4}/{total:<4} succeeded  {rate:5.1f} %  (target >= 95 %)  {why}")
        print("attackers (HTTP status: count):")
        for name in SENDERS:
            counts = attacks.get(name, {})
            statuses = ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))
            failed |= any(k.startswith("5") and k != "507" for k in counts)
            sent = sum(counts.values())
            print(f"  {name:8} {sent:5} sent ({sent / wall:4.1f}/s)  {statuses}")
        print(f"intake CPU: {cpu:.1f} s in {wall:.1f} s ({cpu / wall:.2f} cores)")
        if data_dir is not None:
            series = " ".join(f"{s / MIB:.1f}" for s in samples)
            print(f"data folder growth (MiB, every 5 s): {series}")
            print(f"data folder grew {growth / MIB:.1f} MiB (budget to the floor: {budget / MIB:.0f} MiB)")
            if not args.url and growth > budget + JUNK_FILE + MIB:
                failed = True
        return 1 if failed else 0
    finally:
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        if admin_engine is not None and schema is not None:
            with admin_engine.connect() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin_engine.dispose()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
