"""The documented deployment, run: Debian's nginx on the shipped files
(rendered for loopback with a throwaway certificate) in front of the intake
and the console, each under gunicorn with its shipped unit's command and
settings. Through it: headers and limits on both intake paths (HTTPS, and
the onion server Tor reaches); page loads while 20 clients on each path
trickle uploads; a report with a 10 MB file with JavaScript and without, on
each path; a reviewer who registers a security key in Chromium (its virtual
authenticator), logs in with it, syncs over HTTPS and triages; one 10 MB
upload sent at 64 kB/s over the onion path that ends with a receipt.

Nothing nginx writes holds a client's address or a report's bytes."""

from __future__ import annotations

import dataclasses
import hashlib
import html.parser
import os
import re
import secrets
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from requests.adapters import HTTPAdapter
from sqlalchemy import select

import admin
from admin.cases import service as cases
from admin.extensions import DB_EXTENSION, KEYRING_EXTENSION
from admin.keys import custody
from admin.models import Case

from .. import pgtest
from ..admin.admin_testlib import VirtualSecurityKey
from ..chromium import CHROMIUM_ARGS, require_chromium
from ..hardening import servers
from ..helpers import multipart
from .shipped import (
    HOST,
    ONION,
    ROOT,
    Certificate,
    Nginx,
    Ports,
    env_file,
    render_nginx,
    require_program,
    self_signed_certificate,
    start_nginx,
    unit_exec_start,
)

pytestmark = [pytest.mark.e2e, pytest.mark.db_independent]

PASSPHRASE = "deployment passphrase " + secrets.token_hex(4)
PASSWORD = "deployment password, long enough " + secrets.token_hex(4)
EMAIL = "coordinator@example.org"
CHEAP_ARGON2ID = '{"memory_kib": 1024, "iterations": 1, "lanes": 1}'
RECEIPT = re.compile(r"<output>([\d ]+)</output>")
#: Loopback addresses that are not the servers': what must not reach a log.
CLIENT = "127.0.0.2"
TEN_MB = 10 * 1024 * 1024


@dataclass
class Stack:
    """nginx, both gunicorns, and what the tests need to reach them."""

    ports: Ports
    certificate: Certificate
    nginx: Nginx
    intake: servers.Server
    console: servers.Server
    admin_env: dict[str, str]
    admin_data: Path
    intake_data: Path
    #: SHA-256 of every attachment a test sent and got a receipt for.
    sent: list[str] = dataclasses.field(default_factory=list)

    @property
    def clearnet(self) -> str:
        return f"https://{HOST}:{self.ports.intake_https}"

    @property
    def onion(self) -> str:
        return f"http://127.0.0.1:{self.ports.intake_onion}"

    @property
    def onion_browser(self) -> str:
        """The onion site as Tor Browser names it (:func:`_chromium` maps
        the name to loopback): nginx's onion server answers no other."""
        return f"http://{ONION}:{self.ports.intake_onion}"

    @property
    def console_url(self) -> str:
        return f"https://{HOST}:{self.ports.console_https}"


def _flask(app: str, args: list[str], env: dict[str, str], stdin: str = "") -> str:
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", app, *args],
        input=stdin,
        env=servers.clean_env(env),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"flask {args[0]} failed: {result.stderr[-2000:]}"
    return result.stdout


def _gunicorn_settings(env_name: str, unit: str, app: str) -> dict[str, str]:
    """The shipped env file's gunicorn settings, after checking that the
    shipped unit runs what :func:`servers.start` runs."""
    assert unit_exec_start(unit)[1:] == ["-c", "gunicorn.conf.py", f"wsgi:{app}"]
    return {k: v for k, v in env_file(env_name).items() if k.startswith("GUNICORN_") and k != "GUNICORN_BIND"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    nginx_bin = require_program("nginx")
    base = tmp_path_factory.mktemp("deploy")
    certificate = self_signed_certificate(base / "tls")
    ports = Ports()
    schemas: list[str] = []
    intake_db: dict[str, str] = {}
    admin_db: dict[str, str] = {}
    if pgtest.ON_POSTGRES:
        intake_schema, intake_url = pgtest.new_schema("i")
        admin_schema, admin_url = pgtest.new_schema("a")
        schemas += [intake_schema, admin_schema]
        intake_db["INTAKE_DATABASE_URL"] = intake_url
        admin_db["ADMIN_DATABASE_URL"] = admin_url

    keys, admin_data, intake_data = base / "keys", base / "console-data", base / "intake-data"
    intake_env = {
        **env_file("intake.env"),
        **intake_db,
        "INTAKE_DATA_DIR": str(intake_data),
        "INTAKE_KEYS_DIR": str(keys),
        "INTAKE_ONION_ADDRESS": ONION,
        "INTAKE_TRUSTED_HOSTS": HOST,
    }
    admin_env = {
        **env_file("admin.env"),
        **admin_db,
        "ADMIN_DATA_DIR": str(admin_data),
        "ADMIN_WEBAUTHN_RP_ID": HOST,
        "ADMIN_TRUSTED_HOSTS": HOST,
        "ADMIN_WEBAUTHN_ORIGIN": f"https://{HOST}:{ports.console_https}",
        "ADMIN_INTAKE_URL": f"https://{HOST}:{ports.intake_https}",
        "ADMIN_ARGON2ID": CHEAP_ARGON2ID,
        # The console trusts the test's certificate when it syncs.
        "REQUESTS_CA_BUNDLE": str(certificate.cert),
    }
    generate = [
        "keys",
        "generate",
        "--recipient-id",
        "test-org",
        "--name-en",
        "Test Org",
        "--name-zh",
        "測試機構",
    ]
    _flask("admin", [*generate, "--out", str(keys)], admin_env, PASSPHRASE + "\n")
    _flask("admin", ["users", "create", EMAIL, "--role", "coordinator"], admin_env, PASSWORD + "\n")
    token = _flask("intake", ["api-token", "create", "test-org"], intake_env).strip().splitlines()[-1]
    admin_env["ADMIN_INTAKE_TOKEN"] = token

    started: list[servers.Server] = []
    nginx: Nginx | None = None
    try:
        intake_settings = _gunicorn_settings("intake.env", "tnr-intake.service", "intake")
        intake = servers.start(
            "intake",
            {**intake_env, **intake_settings},
            base / "intake.log",
            workers=int(intake_settings["GUNICORN_WORKERS"]),
        )
        started.append(intake)
        admin_settings = _gunicorn_settings("admin.env", "tnr-console.service", "admin")
        console = servers.start(
            "admin",
            {**admin_env, **admin_settings},
            base / "console.log",
            workers=int(admin_settings["GUNICORN_WORKERS"]),
            ready_path="/login",
        )
        started.append(console)
        ports = dataclasses.replace(
            ports,
            intake_gunicorn=int(intake.url.rsplit(":", 1)[1]),
            console_gunicorn=int(console.url.rsplit(":", 1)[1]),
        )
        render_nginx(base / "nginx", certificate, ports)
        nginx = start_nginx(nginx_bin, base / "nginx", ports)
        yield Stack(ports, certificate, nginx, intake, console, admin_env, admin_data, intake_data)
    finally:
        if nginx is not None:
            nginx.stop()
        for server in started:
            server.stop()
        for schema in schemas:
            pgtest.drop_schema(schema)


class _From(HTTPAdapter):
    """Connect from a given loopback address (one client among several)."""

    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args: object, **kwargs: object) -> None:
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)  # type: ignore[arg-type]


def _client(stack: Stack, address: str = CLIENT) -> requests.Session:
    session = requests.Session()
    # Neither the machine's CA bundle nor its proxies: the test's own.
    session.trust_env = False
    session.mount("https://", _From(address))
    session.mount("http://", _From(address))
    session.verify = str(stack.certificate.cert)
    return session


def _assert_nothing_written_holds(stack: Stack, needles: list[bytes]) -> None:
    for path in stack.nginx.written_files():
        data = path.read_bytes()
        found = [i for i, needle in enumerate(needles) if needle in data]
        assert found == [], f"nginx wrote needle(s) {found} into {path.relative_to(stack.nginx.prefix)}"


def test_both_intake_paths_and_the_edge_limits(stack: Stack) -> None:
    client = _client(stack)
    # Plain HTTP on the clearnet name only redirects to HTTPS.
    plain = client.get(f"http://{HOST}:{stack.ports.intake_http}/en/", allow_redirects=False, timeout=10)
    assert plain.status_code == 301
    assert plain.headers["Location"] == f"{stack.clearnet}/en/"

    page = client.get(f"{stack.clearnet}/en/", timeout=10)
    assert page.status_code == 200
    assert page.headers["Strict-Transport-Security"] == "max-age=63072000"
    assert page.headers["Onion-Location"] == f"http://{ONION}/en/"
    assert "gunicorn" not in page.headers.get("Server", "")

    onion = client.get(f"{stack.onion}/en/", headers={"Host": ONION}, timeout=10)
    assert onion.status_code == 200
    assert "Strict-Transport-Security" not in onion.headers
    assert "Onion-Location" not in onion.headers

    # Posts from one address meet nginx's limit (to a path the app refuses
    # cheaply, so nothing is spent there); its page loads never do, and
    # another address is not affected.
    statuses = [
        client.post(f"{stack.clearnet}/limit-probe", allow_redirects=False, timeout=10).status_code
        for _ in range(45)
    ]
    assert 429 in statuses
    assert statuses.count(429) >= 10
    assert all(client.get(f"{stack.clearnet}/en/", timeout=10).status_code == 200 for _ in range(5))
    assert (
        _client(stack, "127.0.0.3")
        .post(f"{stack.clearnet}/limit-probe", allow_redirects=False, timeout=10)
        .status_code
        != 429
    )
    # The onion server has no address limit: every onion visitor is 127.0.0.1.
    onion_statuses = [
        client.post(
            f"{stack.onion}/limit-probe", headers={"Host": ONION}, allow_redirects=False, timeout=10
        ).status_code
        for _ in range(45)
    ]
    assert 429 not in onion_statuses

    # A body over the limit is refused by nginx before the app sees it.
    with _tls_socket(stack, CLIENT) as sock:
        sock.sendall(
            f"POST /en/ HTTP/1.0\r\nHost: {HOST}\r\nContent-Type: multipart/form-data; boundary=x\r\n"
            f"Content-Length: {65 * 1024 * 1024}\r\n\r\n".encode()
        )
        assert sock.recv(4096).startswith(b"HTTP/1.1 413")

    # nginx logged none of it with the address (invariant 3).
    _assert_nothing_written_holds(stack, [CLIENT.encode(), b"127.0.0.3"])


def _tls_socket(stack: Stack, address: str) -> socket.socket:
    """A TLS connection to the clearnet site from ``address``."""
    raw = socket.create_connection(
        ("127.0.0.1", stack.ports.intake_https), timeout=10, source_address=(address, 0)
    )
    context = ssl.create_default_context(cafile=str(stack.certificate.cert))
    return context.wrap_socket(raw, server_hostname=HOST)


#: A Host header that names none of our sites (host-header injection).
FORGED = "evil.example"


def _raw_answer(stack: Stack, port: int, host: str, *, tls: bool, path: str = "/en") -> bytes:
    """All that the server on loopback ``port`` sends back to one GET of
    ``path`` with ``Host: host``; with ``tls``, over a connection made to the
    real name (SNI), as a client that forges only the Host header does."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(CLIENT, 0))
    if tls:
        context = ssl.create_default_context(cafile=str(stack.certificate.cert))
        sock = context.wrap_socket(sock, server_hostname=HOST)
    answer = b""
    with sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except ConnectionResetError:
            pass
    return answer


def test_a_forged_host_reaches_neither_app(stack: Stack) -> None:
    """Host-header injection: the apps build absolute addresses (a slash
    redirect's Location, any external URL) from the Host nginx passes on.
    Every listener closes a request for a name that is not its site's
    without an answer (nginx's 444), and refuses a TLS handshake for one."""
    listeners = [
        ("intake https", stack.ports.intake_https, True, "/en"),
        ("intake http", stack.ports.intake_http, False, "/en"),
        ("onion", stack.ports.intake_onion, False, "/en"),
        ("console https", stack.ports.console_https, True, "/keys"),
        ("console http", stack.ports.console_http, False, "/keys"),
    ]
    for name, port, tls, path in listeners:
        answer = _raw_answer(stack, port, FORGED, tls=tls, path=path)
        assert FORGED.encode() not in answer, f"{name} sent the forged host back: {answer[:300]!r}"
        assert answer == b"", f"{name} answered a forged Host: {answer[:100]!r}"
    # One site's name does not reach the other's server either.
    assert _raw_answer(stack, stack.ports.intake_onion, HOST, tls=False) == b""
    assert _raw_answer(stack, stack.ports.intake_https, ONION, tls=True) == b""
    # The real names still do: the slash redirect names our own site.
    own = _raw_answer(stack, stack.ports.intake_https, f"{HOST}:{stack.ports.intake_https}", tls=True)
    assert own.startswith(b"HTTP/1.1 308"), own[:100]
    assert f"\r\nLocation: {stack.clearnet}/en/\r\n".encode() in own
    onion = _raw_answer(stack, stack.ports.intake_onion, ONION, tls=False)
    assert f"\r\nLocation: http://{ONION}/en/\r\n".encode() in onion

    # TLS: a handshake for another name, or for none, is refused before
    # any certificate is sent.
    anything = ssl.create_default_context()
    anything.check_hostname = False
    anything.verify_mode = ssl.CERT_NONE
    for port in (stack.ports.intake_https, stack.ports.console_https):
        for server_name in (FORGED, None):
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            with pytest.raises(ssl.SSLError), sock:
                anything.wrap_socket(sock, server_hostname=server_name).close()


def _trickler(stack: Stack, path: str, address: str) -> socket.socket:
    """A client that starts a 1 MB upload and then sends a byte at a time."""
    if path == "clearnet":
        sock = _tls_socket(stack, address)
        host = f"{HOST}:{stack.ports.intake_https}"
    else:
        sock = socket.create_connection(("127.0.0.1", stack.ports.intake_onion), timeout=10)
        host = ONION
    sock.sendall(
        f"POST /en/ HTTP/1.1\r\nHost: {host}\r\nContent-Type: multipart/form-data; boundary=x\r\n"
        f"Content-Length: {1024 * 1024}\r\n\r\n--x\r\n".encode()
    )
    return sock


def _timed_page_load(session: requests.Session, url: str, **kwargs: Any) -> float:
    started = time.monotonic()
    response = session.get(url, timeout=10, **kwargs)
    elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert 'name="csrf_token"' in response.text
    return elapsed


def test_page_loads_answer_while_20_clients_on_each_path_trickle_uploads(stack: Stack) -> None:
    # 20 clearnet clients, each from its own address (nginx allows a few
    # uploads at once per address), and 20 onion clients (all 127.0.0.1).
    trickling = [_trickler(stack, "clearnet", f"127.0.1.{i}") for i in range(1, 21)]
    trickling += [_trickler(stack, "onion", "127.0.0.1") for _ in range(20)]
    reader = _client(stack, "127.0.0.4")
    slowest = 0.0
    try:
        deadline = time.monotonic() + 15
        loads = 0
        while time.monotonic() < deadline:
            for sock in trickling:
                sock.sendall(b"a")  # one byte each, every round
            slowest = max(
                slowest,
                _timed_page_load(reader, f"{stack.clearnet}/en/"),
                _timed_page_load(reader, f"{stack.onion}/fr/", headers={"Host": ONION}),
            )
            loads += 2
            time.sleep(0.5)
        # Still trickling: every slow client is held by nginx, none by gunicorn.
        for sock in trickling:
            sock.sendall(b"a")
    finally:
        for sock in trickling:
            sock.close()
    assert loads >= 10
    # A functional bound, generous for a shared machine: the page answers,
    # it does not wait for a worker that a slow client holds.
    assert slowest < 1.0, f"a page load took {slowest:.2f} s while clients trickled uploads"


class _FormDefaults(html.parser.HTMLParser):
    """What a browser would send of the report form untouched: its hidden
    inputs (CSRF token, submission token…) and its boxes ticked by default
    (the recipient organizations)."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, list[str]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        name = values.get("name")
        if tag != "input" or not name:
            return
        kind = values.get("type")
        if kind == "hidden" or (kind == "checkbox" and "checked" in values):
            self.fields.setdefault(name, []).append(values.get("value") or "")


def _attachment(canary: str) -> bytes:
    return canary.encode() + os.urandom(TEN_MB - 2 * len(canary)) + canary.encode()


def _chromium(playwright: Any, stack: Stack) -> Any:
    args = [
        *CHROMIUM_ARGS,
        # "localhost" and the onion address are this machine's loopback
        # address, never a lookup.
        f"--host-resolver-rules=MAP localhost 127.0.0.1, MAP {ONION} 127.0.0.1",
        # The test's certificate is valid for this browser: the pages are a
        # secure context without a certificate error (WebAuthn needs that).
        f"--ignore-certificate-errors-spki-list={stack.certificate.spki_sha256}",
        # Tor Browser treats an onion site as a secure context (sealing in
        # the browser needs one); Chromium must be told.
        f"--unsafely-treat-insecure-origin-as-secure={stack.onion_browser}",
    ]
    return playwright.chromium.launch(executable_path=require_chromium(), headless=True, args=args)


def _report_in_browser(
    browser: Any, base: str, *, javascript: bool, narrative: str, attachment: bytes
) -> str:
    context = browser.new_context(java_script_enabled=javascript)
    page = context.new_page()
    try:
        page.goto(f"{base}/en/")
        if javascript:
            page.wait_for_selector("form[data-sealing=browser]", state="attached")
        page.fill("textarea[name=narrative]", narrative)
        page.set_input_files(
            "input[name=attachments]",
            files=[{"name": "recording.bin", "mimeType": "application/octet-stream", "buffer": attachment}],
        )
        page.click("form button[type=submit]")
        output = page.wait_for_selector(".receipt-number output", timeout=180_000)
        return str(output.text_content())
    finally:
        context.close()


def _opened_attachment_digests(stack: Stack) -> list[str]:
    """SHA-256 of each case's first attachment, as the console opens them."""
    config: dict[str, Any] = {"DATA_DIR": str(stack.admin_data), "TESTING": True, "ARGON2ID": {}}
    if "ADMIN_DATABASE_URL" in stack.admin_env:
        config["DATABASE_URL"] = stack.admin_env["ADMIN_DATABASE_URL"]
    console = admin.create_app(config)
    digests = []
    try:
        with console.app_context():
            keyring = console.extensions[KEYRING_EXTENSION]
            db = console.extensions[DB_EXTENSION]
            with db.session() as session:
                custody.unlock(keyring, session, stack.admin_data, PASSPHRASE)
            with db.session() as session:
                for case in session.scalars(select(Case)):
                    _, chunks = cases.open_attachment(case, 0, keyring, stack.admin_data)
                    digests.append(hashlib.sha256(b"".join(chunks)).hexdigest())
            keyring.lock()
    finally:
        console.extensions[DB_EXTENSION].engine.dispose()
    return sorted(digests)


def test_a_report_with_a_10_mb_file_on_each_path_with_and_without_javascript(
    stack: Stack, playwright: Any
) -> None:
    browser = _chromium(playwright, stack)
    canary = f"CANARY-{secrets.token_hex(8)}"
    try:
        for path, base in (("clearnet", stack.clearnet), ("onion", stack.onion_browser)):
            for javascript in (True, False):
                how = "sealed in the browser" if javascript else "without JavaScript"
                attachment = _attachment(canary)
                receipt = _report_in_browser(
                    browser,
                    base,
                    javascript=javascript,
                    narrative=f"{canary} {path} {how}",
                    attachment=attachment,
                )
                assert re.fullmatch(r"\d{4}( \d{4}){6}", receipt)
                stack.sent.append(hashlib.sha256(attachment).hexdigest())
    finally:
        browser.close()
    # No report byte in anything nginx wrote: no body was spooled to disk.
    _assert_nothing_written_holds(stack, [canary.encode(), attachment[1000:1064]])


def _report_without_browser(stack: Stack) -> None:
    """A small report with a file, without JavaScript, over HTTPS."""
    client = _client(stack, "127.0.0.6")
    form = client.get(f"{stack.clearnet}/en/", timeout=10)
    defaults = _FormDefaults()
    defaults.feed(form.text)
    attachment = os.urandom(4096)
    body, content_type = multipart(
        {
            **defaults.fields,
            "narrative": "They photographed me.",
            "attachments": (attachment, "a.png", "image/png"),
        }
    )
    answer = client.post(
        f"{stack.clearnet}/en/", data=body, headers={"Content-Type": content_type}, timeout=60
    )
    assert answer.status_code == 200
    assert RECEIPT.search(answer.text)
    stack.sent.append(hashlib.sha256(attachment).hexdigest())


def test_a_reviewer_registers_a_security_key_logs_in_with_it_syncs_and_triages(
    stack: Stack, playwright: Any
) -> None:
    _report_without_browser(stack)
    browser = _chromium(playwright, stack)
    try:
        context = browser.new_context()
        page = context.new_page()
        base = stack.console_url
        key = VirtualSecurityKey(context, page, base)

        # First login: the password, then a security key is registered.
        key.enrol(EMAIL, PASSWORD)
        # Its cookie travels over HTTPS only.
        assert [c["secure"] for c in context.cookies() if c["name"] == "tnr_console_session"] == [True]

        # Out, and in again with the key.
        page.click("text=Log out")
        page.wait_for_url(f"{base}/login")
        key.log_in(EMAIL, PASSWORD)

        # Unlock, then sync from the intake over HTTPS through nginx.
        page.goto(f"{base}/keys/")
        page.fill("input[name=passphrase]", PASSPHRASE)
        page.click("input[type=submit]")
        page.wait_for_selector("text=The organization key is unlocked.")
        page.goto(f"{base}/")
        page.click("button:has-text('Sync')")
        page.wait_for_selector("text=Sync done:", timeout=180_000)
        assert re.search(r"Sync done: [1-9]\d* added, 0 quarantined", page.content())

        # A triage change on one of them.
        page.locator("a[href^='/cases/']").first.click()
        page.wait_for_selector("#triage-form")
        page.select_option("#triage-form select[name=status]", "in_review")
        page.click("#triage-form input[type=submit]")
        page.wait_for_selector("text=Saved.")
        assert page.locator("#case-status").get_attribute("data-code") == "in_review"
        context.close()
    finally:
        browser.close()

    # Every file sent through nginx so far arrived whole.
    assert set(stack.sent) <= set(_opened_attachment_digests(stack))


@pytest.mark.skipif(pgtest.ON_POSTGRES, reason="nginx's part, not the database's: once, on the SQLite run")
def test_a_10_mb_upload_at_64_kb_s_over_the_onion_path_gets_its_receipt(stack: Stack) -> None:
    """Tor's slow circuit, played on the socket nginx's onion server listens
    on: about 160 s of sending, far past gunicorn's timeout (120 s)."""
    session = requests.Session()
    session.trust_env = False
    form = session.get(f"{stack.onion}/en/", headers={"Host": ONION}, timeout=10)
    assert form.status_code == 200
    defaults = _FormDefaults()
    defaults.feed(form.text)
    assert "csrf_token" in defaults.fields
    canary = f"CANARY-{secrets.token_hex(8)}"
    attachment = _attachment(canary)
    body, content_type = multipart(
        {
            **defaults.fields,
            "narrative": f"{canary} sent slowly over Tor",
            "attachments": (attachment, "video.bin", "application/octet-stream"),
        }
    )
    cookies = "; ".join(f"{c.name}={c.value}" for c in form.cookies)
    rate = 64 * 1024  # bytes a second
    with socket.create_connection(("127.0.0.1", stack.ports.intake_onion), timeout=30) as sock:
        sock.sendall(
            f"POST /en/ HTTP/1.0\r\nHost: {ONION}\r\nCookie: {cookies}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
        )
        started = time.monotonic()
        step = 8 * 1024
        spooled: set[str] = set()
        for offset in range(0, len(body), step):
            sock.sendall(body[offset : offset + step])
            if offset % (64 * step) == 0:
                # Look while the body arrives, at the folder and at what
                # nginx holds open (it unlinks a spooled body at once).
                # Held in memory, there is nothing in either.
                spooled.update(stack.nginx.temporary_files())
                spooled.update(str(p) for p in (stack.nginx.prefix / "temp").rglob("*") if p.is_file())
            ahead = (offset + step) / rate - (time.monotonic() - started)
            if ahead > 0:
                time.sleep(ahead)
        sending = time.monotonic() - started
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert sending > 150, f"the upload took {sending:.0f} s, not a slow one"
    assert spooled == set(), "nginx wrote the body (a plaintext attachment) to its temporary folder"
    head, _, page = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head[:200]
    assert RECEIPT.search(page.decode("utf-8", "replace")), "no receipt on the page"
    stack.sent.append(hashlib.sha256(attachment).hexdigest())
