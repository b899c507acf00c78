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
address, as behind Tor, so only what a request proves sorts it.

With ``--through-nginx`` the shipped deployment is in front: Debian's nginx
on deploy/nginx, rendered for loopback with a throwaway certificate by the
deployment tests' helpers (tests/deploy/shipped.py), and the intake with
deploy/env/intake.env's settings. The flood then runs once per ``--paths``
entry, each on a fresh intake:

``clearnet``
    https to nginx's clearnet site, where nginx limits posts per address:
    each attacker sends from ``--spread`` loopback addresses of its own
    (127.10-12.x.y, in turn), each real reporter's attempt from another
    address (a reporter is one person, not the attacker's neighbour);
``onion``
    http to nginx's onion site, as the Tor daemon reaches it (Host: an
    onion name): every client from 127.0.0.1 and no address limit, so the
    app's own throttles do all the sorting.

It also prints nginx's CPU. With ``--url`` it drives an intake that is
already running instead: ``--data-dir`` then names the data folder to
measure and ``--pid`` the gunicorn master for CPU (both optional), and the
intake's own settings apply.

    python bench/flood.py [--duration 60] [--rate 30] [--workers 2]
                          [--database sqlite|postgres] [--postgres-url URL]
                          [--disk-budget 64] [--through-nginx [--paths clearnet,onion]
                          [--spread 1]] [--url URL --data-dir DIR --pid PID]
                          [--burst N]

Exit status 1 if a real path stays under 95 %, a server error occurred,
or the data folder outgrew the budget by more than one upload.

Figures through the shipped nginx (2026-12-07, SQLite, 2 workers, on a
shared 2-core machine whose load average was 15-20 during the runs, so
the attackers reached well under the 30/s asked of them: the rates below
are what each got through, as a ratio of the 30/s target)::

    python bench/flood.py --through-nginx
    python bench/flood.py --through-nginx --paths clearnet --spread 64

    path (attacker addresses)  browser  no-js  check  attack /s (of 30)  data folder (floor: 64 MiB)
    clearnet (1 each)          3/3      12/12  12/12  16.6 (0.55)        44.5 MiB
    onion (all 127.0.0.1)      3/3      5/5    5/5     4.5 (0.15)        62.2 MiB, flat after 15 s
    clearnet (64 each)         2/2      4/4    4/4     2.9 (0.10)        62.2 MiB, flat after 15 s

Every real submission and check succeeded (100 %, target >= 95 %).
On the clearnet with one address per attacker, nginx's per-address limit
(30 posts a minute, burst 30, tnr-intake.conf) answered 429 to about 97 % of
each attacker's posts, and real reporters, each from its own address,
never met it (the limit counts posts only: page loads are exempt). With
the attack spread over many addresses, or on the onion site where nginx
limits nothing, the app's own defences held: empty posts, receipt
guesses and follow-ups with a forged access token refused (400), junk
follow-ups under the attacker's own receipts stored until the free-disk
floor, then refused (507), the data folder flat from there on (the
per-report quota was not reached first: 2 MiB files fill 64 MiB in 31
follow-ups over three reports). The real-reporter samples are small
(a few attempts per path in 60 s on that machine): run it again on an
idle machine before reading more into them than "none refused".

``--burst N`` replaces the flood by one scripted client sending as fast as
it can, one request after another: N reports without JavaScript (one
page's CSRF token replayed), then N well-formed browser uploads without
the work done (no ALTCHA proof, a forged one, or a solved one replayed).
It prints each burst's rate as a ratio of 1,000 a minute (the target: a
script meets refusals at least that fast, and the service stays up), and
how soon a real report on each path goes through afterwards. The tests
(tests/intake/test_reporter_flood.py) check who is refused and what is
stored, with no clock. Figures (2026-12-07, SQLite, 2 workers, every
client from 127.0.0.1, load average 3.7 on the shared 2-core machine)::

    python bench/flood.py --burst 1000

    no-js   1000 in  43.5 s    23.0/s  (1.38 of 1,000 a minute)  200: 569, 429: 431
    upload  1000 in  26.6 s    37.6/s  (2.26 of 1,000 a minute)  400: 1000
    a real no-js report after the burst: ok after 0.1 s
    a real browser report after the burst: ok after 0.5 s

Each worker holds its own buckets (200 in a row, then two a second), so
two workers stored 569 of the 1,000 scripted reports before refusing.
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
import re
import secrets
import shutil
import ssl
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from multiprocessing.queues import Queue
from pathlib import Path
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import altcha  # noqa: E402
import pytest  # noqa: E402
import requests  # noqa: E402
from requests.adapters import HTTPAdapter  # noqa: E402

from bench.serving import Server, bench_env, postgres_schema, start_gunicorn, write_key  # noqa: E402
from core.envelope import RecipientPrivateKey, seal  # noqa: E402
from core.envelope.keys import RecipientPublicKey, b64decode  # noqa: E402
from core.receipts import new_receipt, new_submission_token  # noqa: E402
from core.timing import today_utc  # noqa: E402
from tests.deploy.shipped import (  # noqa: E402
    Nginx,
    Ports,
    env_file,
    render_nginx,
    require_program,
    self_signed_certificate,
    start_nginx,
)

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


#: What Tor Browser sends as Host on the onion site (INTAKE_ONION_ADDRESS).
ONION = "floodbenchxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx.onion"


class _From(HTTPAdapter):
    """Connect from a given loopback address: one client among many, as
    nginx's per-address limits see them."""

    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args: object, **kwargs: object) -> None:
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Target:
    """Where the bench reaches the intake, and as whom.

    ``url``: gunicorn itself, nginx's clearnet site (https) or its onion
    site (http on loopback, as the Tor daemon reaches it); ``cafile``: the
    certificate to trust on https; ``host``: the Host header to send (the
    onion name on the onion site); ``pools``: whether clients come from
    addresses of their own (the clearnet, where nginx limits each address)
    or all from 127.0.0.1 (gunicorn direct, and the onion site: every onion
    visitor arrives from the Tor daemon)."""

    url: str
    cafile: str | None = None
    host: str | None = None
    pools: bool = False

    def session(self, address: str | None) -> requests.Session:
        """A requests session to the target from ``address`` (None: the
        system's choice, 127.0.0.1)."""
        s = requests.Session()
        s.trust_env = False  # no proxy, no system CA bundle: loopback only
        if self.cafile is not None:
            s.verify = self.cafile
        if address is not None:
            s.mount("http://", _From(address))
            s.mount("https://", _From(address))
        if self.host is not None:
            s.headers["Host"] = self.host
        return s

    def connection(self, address: str | None) -> http.client.HTTPConnection:
        """A fresh http.client connection to the target from ``address``."""
        parts = urlsplit(self.url)
        source = (address, 0) if address is not None else None
        if parts.scheme == "https":
            context = ssl.create_default_context(cafile=self.cafile)
            return http.client.HTTPSConnection(
                parts.hostname or "127.0.0.1",
                parts.port,
                timeout=TIMEOUT,
                source_address=source,
                context=context,
            )
        return http.client.HTTPConnection(
            parts.hostname or "127.0.0.1", parts.port, timeout=TIMEOUT, source_address=source
        )


class Addresses:
    """Loopback source addresses handed out in turn (thread-safe):
    ``127.<block>.<x>.<y>`` for ``count`` of them, or always None when the
    target gives every client one address."""

    def __init__(self, target: Target, block: int, count: int = 250) -> None:
        self.addresses = (
            [f"127.{block}.{1 + i // 250}.{1 + i % 250}" for i in range(count)] if target.pools else []
        )
        self.lock = threading.Lock()
        self.turn = 0

    def next(self) -> str | None:
        if not self.addresses:
            return None
        with self.lock:
            self.turn += 1
            return self.addresses[self.turn % len(self.addresses)]


# --- what a real reporter does


def page_keys(page: str) -> list[RecipientPublicKey]:
    """The public keys the form carries for the page's script."""
    keys = re.findall(r'data-public-key="([^"]+)"', page)
    return [RecipientPublicKey(b64decode(k, "public key")) for k in keys]


def browser_report(target: Target, address: str | None = None) -> str:
    """One report on the browser path, the work done as the browser does,
    from ``address``."""
    url = target.url
    with target.session(address) as s:
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


def no_js_report(target: Target, address: str | None = None, receipts: list[str] | None = None) -> str:
    """One report without JavaScript from ``address``; its receipt goes to
    ``receipts``."""
    url = target.url
    with target.session(address) as s:
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


def check_receipt(target: Target, address: str | None, receipt: str) -> str:
    """A real reporter's receipt check without JavaScript from ``address``:
    "ok" or why not."""
    url = target.url
    with target.session(address) as s:
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


def post(
    target: Target, address: str | None, path: str, body: bytes, content_type: str, cookie: str = ""
) -> str:
    """One POST on a fresh connection from ``address`` (http.client: a
    light client, so that the bench's own CPU does not set the attack's
    rate); the status."""
    conn = target.connection(address)
    try:
        headers = {"Content-Type": content_type, "Cookie": cookie}
        if target.host is not None:
            headers["Host"] = target.host
        conn.request("POST", urlsplit(target.url).path.rstrip("/") + path, body=body, headers=headers)
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


def empty_posts(target: Target, addresses: Addresses) -> Callable[[int], str]:
    s = target.session(addresses.next())
    token = csrf(s.get(f"{target.url}/en/", timeout=TIMEOUT).text)
    cookie = cookie_of(s)
    with_token = urlencode({"csrf_token": token}).encode()

    def send(i: int) -> str:
        if i % 2:
            return post(target, addresses.next(), "/en/", b"", FORM)  # nothing at all
        # A valid token, an empty form.
        return post(target, addresses.next(), "/en/", with_token, FORM, cookie)

    return send


def junk_followups(target: Target, receipts: list[str], addresses: Addresses) -> Callable[[int], str]:
    """Half with a forged access token, half under the attacker's own
    receipts (their status pages: CSRF and access tokens), each with a
    2 MiB file and a fresh submission token."""
    held = []
    for receipt in receipts:
        s = target.session(addresses.next())
        page = status_page(s, target.url, receipt)
        if page is not None:
            held.append((cookie_of(s), csrf(page), hidden(page, "access")))
    junk = secrets.token_bytes(JUNK_FILE)
    forged = urlencode({"csrf_token": "x", "access": secrets.token_urlsafe(40), "narrative": "junk"}).encode()
    boundary = "----flood" + secrets.token_hex(8)

    def send(i: int) -> str:
        if i % 2 or not held:
            return post(target, addresses.next(), "/en/followup", forged, FORM)
        cookie, token, access = held[(i // 2) % len(held)]
        fields = [
            ("csrf_token", token),
            ("access", access),
            ("submission", new_submission_token()),
            ("narrative", "junk"),
        ]
        body = multipart(fields, junk, boundary)
        content_type = f"multipart/form-data; boundary={boundary}"
        return post(target, addresses.next(), "/en/followup", body, content_type, cookie)

    return send


def receipt_guesses(target: Target, addresses: Addresses) -> Callable[[int], str]:
    s = target.session(addresses.next())
    page = s.get(f"{target.url}/en/receipt", timeout=TIMEOUT).text
    token, check, cookie = csrf(page), hidden(page, "check"), cookie_of(s)

    def send(i: int) -> str:
        data = {"csrf_token": token, "receipt": new_receipt()}
        if i % 2 == 0:
            data["check"] = check  # the same page's token, replayed
        return post(target, addresses.next(), "/en/receipt", urlencode(data).encode(), FORM, cookie)

    return send


SENDERS: dict[str, Callable[[Target, list[str], Addresses], Callable[[int], str]]] = {
    "empty": lambda target, _receipts, addresses: empty_posts(target, addresses),
    "followup": junk_followups,
    "guess": lambda target, _receipts, addresses: receipt_guesses(target, addresses),
}
#: Each attacker's block of loopback addresses (127.<block>.x.y) on the
#: clearnet; the real reporters' paths have theirs.
ATTACKER_BLOCK = {"empty": 10, "followup": 11, "guess": 12}
REAL_BLOCK = {"browser": 20, "no-js": 21, "check": 22}


def attack(
    name: str,
    target: Target,
    spread: int,
    receipts: list[str],
    rate: float,
    start_at: float,
    duration: float,
    out: Queue[tuple[str, dict[str, int]]],
) -> None:
    """One attacker, in a process of its own (a real attacker has its own
    machine; one Python process for all three would set the rate by its
    own CPU): ``rate`` requests a second from ``start_at`` for
    ``duration`` seconds, from ``spread`` addresses in turn where the target
    tells clients apart; puts ``(name, Counter of statuses)`` on ``out``."""
    send = SENDERS[name](target, receipts, Addresses(target, ATTACKER_BLOCK[name], spread))
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


@contextmanager
def started_intake(
    args: argparse.Namespace, work: Path, settings: dict[str, str], workers: int
) -> Iterator[tuple[Server, Path]]:
    """The intake under gunicorn on loopback with a data folder of its own
    in ``work``, a generated key, the free-disk floor :func:`main` sets and
    the database of ``args`` (a throwaway PostgreSQL schema, dropped after);
    ``settings`` (the shipped env file's, when nginx is in front) first.
    Yields the server and its data folder; stops it after."""
    data_dir = work / "data"
    data_dir.mkdir()
    write_key(work / "keys")
    env = {
        **settings,
        "INTAKE_DATA_DIR": str(data_dir),
        "INTAKE_KEYS_DIR": str(work / "keys"),
        # The floor: what is free now, less the budget.
        "INTAKE_MIN_FREE_DISK": str(shutil.disk_usage(data_dir).free - args.disk_budget * MIB),
    }
    with ExitStack() as cleanup:
        if args.database == "postgres":
            if not args.postgres_url:
                raise SystemExit("--database postgres needs --postgres-url or TNR_TEST_POSTGRES_URL")
            env["INTAKE_DATABASE_URL"] = cleanup.enter_context(postgres_schema(args.postgres_url, "flood"))
            env["INTAKE_BLOB_STORE"] = "files"  # so the floor is on this disk
        server = start_gunicorn("intake", ["wsgi:intake"], bench_env(env), work / "intake.log", workers)
        cleanup.callback(server.stop)
        yield server, data_dir


def shipped_intake_settings() -> dict[str, str]:
    """deploy/env/intake.env's settings that hold on loopback: everything
    but the folders and the bind address (the bench's own)."""
    mine = ("INTAKE_DATA_DIR", "INTAKE_KEYS_DIR", "GUNICORN_BIND")
    return {k: v for k, v in env_file("intake.env").items() if k not in mine}


@contextmanager
def behind_nginx(work: Path, intake: Server) -> Iterator[tuple[Nginx, Ports, str]]:
    """Debian's nginx on the shipped files (deploy/nginx), rendered for
    loopback with a throwaway certificate by the deployment tests' own
    helpers (tests/deploy/shipped.py), in front of ``intake``. Yields
    nginx, its ports and the certificate to trust; stops nginx after."""
    try:
        nginx_bin = require_program("nginx")
    except pytest.skip.Exception as exc:
        raise SystemExit(f"--through-nginx: {exc}") from exc
    certificate = self_signed_certificate(work / "tls")
    # The console's site is rendered too (the shipped nginx.conf includes
    # both); its gunicorn is not started: nothing here goes there.
    ports = Ports(intake_gunicorn=intake.port)
    render_nginx(work / "nginx", certificate, ports)
    nginx = start_nginx(nginx_bin, work / "nginx", ports)
    try:
        yield nginx, ports, str(certificate.cert)
    finally:
        nginx.stop()


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


def run_flood(
    target: Target,
    args: argparse.Namespace,
    data_dir: Path | None,
    pid: int | None,
    nginx_pid: int | None = None,
) -> bool:
    """The attack on ``target`` with real reporters alongside, and the
    figures printed; True if a real path stayed under 95 %, a server error
    occurred, or the data folder outgrew the budget by more than one upload
    (``--url`` runs excepted: their floor is the intake's own)."""
    budget = args.disk_budget * MIB
    # Before the attack: real receipts for the checks, the attacker's own.
    real_receipts: list[str] = []
    attacker_receipts: list[str] = []
    setup = Addresses(target, 30)
    for _ in range(3):
        no_js_report(target, setup.next(), real_receipts)
        no_js_report(target, setup.next(), attacker_receipts)
    if not real_receipts:
        raise SystemExit("no real report went in before the attack")

    tally = Tally()
    stop = threading.Event()
    context = multiprocessing.get_context("fork")
    results: Queue[tuple[str, dict[str, int]]] = context.Queue()
    start_at = time.time() + 3  # each attacker gets ready first
    attackers = [
        context.Process(
            target=attack,
            args=(name, target, args.spread, attacker_receipts, args.rate, start_at, args.duration, results),
            daemon=True,
        )
        for name in SENDERS
    ]
    for process_ in attackers:
        process_.start()
    time.sleep(max(0.0, start_at - time.time()))
    receipts_cycle = iter(range(1_000_000))
    # Each real attempt is another reporter: on the clearnet, another
    # address (nginx's per-address limits are for the attacker's).
    browser_from = Addresses(target, REAL_BLOCK["browser"])
    no_js_from = Addresses(target, REAL_BLOCK["no-js"])
    check_from = Addresses(target, REAL_BLOCK["check"])
    threads = [
        real_loop("browser", lambda: browser_report(target, browser_from.next()), stop, tally),
        real_loop("no-js", lambda: no_js_report(target, no_js_from.next()), stop, tally),
        real_loop(
            "check",
            lambda: check_receipt(
                target, check_from.next(), real_receipts[next(receipts_cycle) % len(real_receipts)]
            ),
            stop,
            tally,
        ),
    ]
    size_before = folder_bytes(data_dir)
    cpu_before, nginx_before, wall_before = cpu_seconds(pid), cpu_seconds(nginx_pid), time.monotonic()
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
    nginx_cpu = cpu_seconds(nginx_pid) - nginx_before
    growth = folder_bytes(data_dir) - size_before

    failed = False
    print("real reporters during the attack:")
    for name in ("browser", "no-js", "check"):
        outcomes = {k.split("\t", 1)[1]: v for k, v in tally.counts.items() if k.startswith(name + "\t")}
        ok = outcomes.pop("ok", 0)
        total = sum(outcomes.values()) + ok
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
    if nginx_pid is not None:
        print(f"nginx CPU: {nginx_cpu:.1f} s in {wall:.1f} s ({nginx_cpu / wall:.2f} cores)")
    if data_dir is not None:
        series = " ".join(f"{s / MIB:.1f}" for s in samples)
        print(f"data folder growth (MiB, every 5 s): {series}")
        print(f"data folder grew {growth / MIB:.1f} MiB (budget to the floor: {budget / MIB:.0f} MiB)")
        if not args.url and growth > budget + JUNK_FILE + MIB:
            failed = True
    return failed


# --- a scripted burst: how fast refusals go


#: The burst's target: 1,000 scripted submissions answered in a minute.
BURST_TARGET = 1000 / 60


def _form_data(fields: list[tuple[str, str]], files: list[tuple[str, bytes]], boundary: str) -> bytes:
    """A multipart/form-data body of text ``fields`` and binary ``files``
    (name, bytes), as a browser's FormData sends it."""
    out = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields
    ]
    for name, data in files:
        out.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n".encode()
            + data
            + b"\r\n"
        )
    out.append(f"--{boundary}--\r\n".encode())
    return b"".join(out)


def scripted_burst(target: Target, count: int) -> bool:
    """One client's scripted burst, as fast as it sends one request after
    another: ``count`` reports without JavaScript (one page's CSRF token
    replayed, a fresh submission token each), then ``count`` well-formed
    browser uploads without the work done (no ALTCHA proof, a forged one,
    or one solved proof replayed). Prints each burst's statuses, its rate
    and that rate as a ratio of :data:`BURST_TARGET` (1,000 a minute), then
    how long until a real report on each path goes through. True on a
    server error (5xx) or when a real report did not go through within a
    minute."""
    url = target.url
    with target.session(None) as s:
        page = s.get(f"{url}/en/", timeout=TIMEOUT).text
        cookie, token = cookie_of(s), csrf(page)
        challenge = altcha.Challenge.from_dict(s.get(f"{url}/en/challenge", timeout=TIMEOUT).json())
    solution = altcha.solve_challenge(challenge)
    if solution is None:
        raise SystemExit("the intake's challenge could not be solved")
    replayed = altcha.Payload(challenge, solution).to_base64()
    envelope = seal(
        {"form_version": 1, "language": "en", "narrative": "scripted"},
        page_keys(page),
        day=today_utc(),
        sealed_by="browser",
    )
    boundary = "----burst" + secrets.token_hex(8)
    content_type = f"multipart/form-data; boundary={boundary}"

    def no_js(i: int) -> str:
        fields = {"csrf_token": token, "submission": new_submission_token(), "narrative": f"scripted {i}"}
        return post(target, None, "/en/", urlencode(fields).encode(), FORM, cookie)

    def upload(i: int) -> str:
        proof = ("", replayed[:-8] + "AAAAAAA=", replayed)[i % 3]
        fields = [("csrf_token", token), ("receipt", new_receipt()), ("altcha", proof)]
        body = _form_data(fields, [("header", envelope.header), ("body", envelope.body)], boundary)
        return post(target, None, "/en/sealed", body, content_type, cookie)

    # The solved proof is spent once as the page's script would, so every
    # later use of it is a replay.
    first = upload(2)
    failed = first.startswith("5")
    print(f"scripted burst: {count} of each, one request after another (first use of the proof: {first})")
    for name, send in (("no-js", no_js), ("upload", upload)):
        statuses: Counter[str] = Counter()
        started = time.monotonic()
        for i in range(count):
            statuses[send(i)] += 1
        took = time.monotonic() - started
        rate = count / took
        failed |= any(k.startswith("5") for k in statuses)
        answers = ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items()))
        print(
            f"  {name:7} {count} in {took:5.1f} s  {rate:6.1f}/s  "
            f"({rate / BURST_TARGET:.2f} of 1,000 a minute)  {answers}"
        )
    # Right after: a real reporter on each path (the global bucket refills
    # meanwhile; how long that takes is the figure).
    real: list[tuple[str, Callable[[], str]]] = [
        ("no-js", lambda: no_js_report(target)),
        ("browser", lambda: browser_report(target)),
    ]
    for name, attempt in real:
        started, outcome = time.monotonic(), ""
        while time.monotonic() - started < 60:
            outcome = attempt()
            if outcome == "ok":
                break
            time.sleep(0.5)
        waited = time.monotonic() - started
        failed |= outcome != "ok"
        print(f"  a real {name} report after the burst: {outcome} after {waited:.1f} s")
    return failed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of attack (default 60)")
    parser.add_argument(
        "--rate", type=float, default=30.0, help="requests a second per attacker (default 30)"
    )
    parser.add_argument(
        "--workers", type=int, help="gunicorn workers (default 2; with --through-nginx, intake.env's)"
    )
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
    parser.add_argument(
        "--through-nginx",
        action="store_true",
        help="put the shipped nginx (deploy/nginx, rendered for loopback) in front of the intake and "
        "run the flood on each of --paths",
    )
    parser.add_argument(
        "--paths",
        default="clearnet,onion",
        help="with --through-nginx: clearnet (https, one address per client), onion (nginx's onion "
        "server, every client 127.0.0.1), or both (default)",
    )
    parser.add_argument(
        "--spread",
        type=int,
        default=1,
        help="on the clearnet: loopback addresses each attacker sends from, in turn (default 1)",
    )
    parser.add_argument("--url", help="drive a running intake (e.g. through nginx) instead of starting one")
    parser.add_argument("--data-dir", type=Path, help="with --url: the intake's data folder, to measure")
    parser.add_argument("--pid", type=int, help="with --url: the gunicorn master's pid, for CPU")
    parser.add_argument(
        "--burst",
        type=int,
        metavar="N",
        help="instead of the flood: N scripted reports, then N uploads without the work, one after "
        "another; prints their rate as a ratio of 1,000 a minute",
    )
    args = parser.parse_args()
    paths = [p.strip() for p in args.paths.split(",") if p.strip()]
    if not set(paths) <= {"clearnet", "onion"} or not paths:
        parser.error("--paths: clearnet, onion or both")
    attack_line = (
        f"attackers: empty posts, junk follow-ups, receipt guesses at {args.rate:g}/s each, "
        f"{args.duration:g} s"
        if not args.burst
        else f"a scripted burst of {args.burst} reports and {args.burst} uploads"
    )

    if args.url:
        print(f"driving {args.url} (its own settings)\n{attack_line}")
        if args.burst:
            return 1 if scripted_burst(Target(args.url.rstrip("/")), args.burst) else 0
        return 1 if run_flood(Target(args.url.rstrip("/")), args, args.data_dir, args.pid) else 0

    failed = False
    runs = paths if args.through_nginx else ["direct"]
    for run in runs:
        work = Path(tempfile.mkdtemp(prefix="tnr-flood-", dir=args.data_parent))
        try:
            if run == "direct":
                workers = args.workers or 2
                with started_intake(args, work, {}, workers) as (intake, data_dir):
                    print(
                        f"intake under gunicorn ({workers} workers, {args.database}) at {intake.url}, "
                        f"every client from 127.0.0.1; data in {work}; disk floor: free space now "
                        f"less {args.disk_budget} MiB\n{attack_line}"
                    )
                    if args.burst:
                        failed |= scripted_burst(Target(intake.url), args.burst)
                    else:
                        failed |= run_flood(Target(intake.url), args, data_dir, intake.process.pid)
                continue
            settings = shipped_intake_settings()
            settings["INTAKE_ONION_ADDRESS"] = ONION
            workers = args.workers or int(settings.get("GUNICORN_WORKERS", "2"))
            with (
                started_intake(args, work, settings, workers) as (intake, data_dir),
                behind_nginx(work, intake) as (nginx, ports, cafile),
            ):
                if run == "clearnet":
                    target = Target(f"https://127.0.0.1:{ports.intake_https}", cafile=cafile, pools=True)
                    who = (
                        f"each real reporter from an address of its own, each attacker from "
                        f"{args.spread} address(es)"
                    )
                else:
                    target = Target(f"http://127.0.0.1:{ports.intake_onion}", host=ONION)
                    who = "every client from 127.0.0.1, as from the Tor daemon"
                print(
                    f"\n== {run}: shipped nginx at {target.url} in front of the intake (intake.env's "
                    f"settings, {workers} workers, {args.database}); {who}; disk floor: free space now "
                    f"less {args.disk_budget} MiB\n{attack_line}"
                )
                if args.burst:
                    failed |= scripted_burst(target, args.burst)
                else:
                    failed |= run_flood(target, args, data_dir, intake.process.pid, nginx.process.pid)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
