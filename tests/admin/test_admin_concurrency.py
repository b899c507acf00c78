"""The console under concurrent use, over real HTTP against threaded
servers (and two processes on one data folder and database): Argon2id in
parallel logins and an unlock, one TOTP code sent by parallel logins, and
audited actions from many threads at once."""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select
from werkzeug.serving import make_server

from admin.auth import accounts
from admin.extensions import DB_EXTENSION
from admin.keys import custody
from admin.models import AuditEntry
from core.envelope import RecipientPrivateKey
from tests.admin.admin_testlib import PASSPHRASE, PASSWORD, AuthActions, totp_code

#: Cheap, but with more than one lane: two such derivations at once hung
#: (or failed with MemoryError) in the installed cryptography/OpenSSL.
MULTI_LANE_ARGON2ID = {"memory_kib": 4096, "iterations": 1, "lanes": 4}
#: Seconds any one request may take here; a deadlocked derivation never ends.
REQUEST_TIMEOUT = 60


class LiveServer:
    """A threaded werkzeug server for ``app`` on 127.0.0.1."""

    def __init__(self, app: Flask) -> None:
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def serve() -> Iterator[Callable[[Flask], LiveServer]]:
    servers: list[LiveServer] = []

    def start(app: Flask) -> LiveServer:
        servers.append(LiveServer(app))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def _serve_in_child(config: dict[str, Any], port_out: Any) -> None:
    """Child process: its own console app on the same data folder and
    database, served until the parent terminates it."""
    from admin import create_app

    app = create_app(config)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    port_out.send(server.port)
    server.serve_forever()


@pytest.fixture
def second_process() -> Iterator[Callable[[Flask], str]]:
    """Start a second console process on ``app``'s data folder and database
    (its URL is returned); terminated at the end."""
    children: list[multiprocessing.process.BaseProcess] = []

    def start(app: Flask) -> str:
        config = {
            key: app.config[key]
            for key in ("DATA_DIR", "DATABASE_URL", "SECRET_KEY", "ARGON2ID", "WTF_CSRF_ENABLED")
        }
        config.update(TESTING=True, LOGIN_TIME_FLOOR=0, AUTO_MIGRATE=False)
        ours, theirs = multiprocessing.get_context("spawn").Pipe()
        child = multiprocessing.get_context("spawn").Process(
            target=_serve_in_child, args=(config, theirs), daemon=True
        )
        child.start()
        children.append(child)
        assert ours.poll(60), "the second console process did not start"
        return f"http://127.0.0.1:{ours.recv()}"

    yield start
    for child in children:
        child.terminate()
        child.join(10)


def _login(base: str, email: str, secret: str, step: int | None = None) -> requests.Session:
    """A browser session logged in through the password and TOTP forms."""
    browser = requests.Session()
    first = browser.post(
        f"{base}/login", data={"email": email, "password": PASSWORD}, allow_redirects=False, timeout=30
    )
    assert first.status_code == 302 and first.headers["Location"].endswith("/login/second-factor")
    step = int(time.time()) // accounts.TOTP_STEP if step is None else step
    second = browser.post(
        f"{base}/login/totp", data={"code": totp_code(secret, step)}, allow_redirects=False, timeout=30
    )
    assert second.status_code == 302 and second.headers["Location"].endswith("/"), second.headers["Location"]
    return browser


# --------------------------------------------------------------------------
# Argon2id


def test_eight_simultaneous_logins_and_an_unlock_all_complete(
    make_console: Callable[..., Flask], serve: Callable[[Flask], LiveServer]
) -> None:
    """Argon2id with four lanes, nine derivations at the same moment in one
    console process: each request answers, and the console still works
    afterwards (before, they hung or failed, and every later login too)."""
    app = make_console(ARGON2ID=MULTI_LANE_ARGON2ID)
    custody.store_private_key(
        RecipientPrivateKey.generate(),
        PASSPHRASE,
        recipient_id="test-org",
        data_dir=Path(app.config["DATA_DIR"]),
        argon2id=MULTI_LANE_ARGON2ID,
    )
    auth = AuthActions(app, app.test_client())
    coordinator = auth.create("coordinator")
    emails = []
    with app.app_context(), app.extensions[DB_EXTENSION].session() as session:
        for i in range(8):
            user = accounts.create_user(
                session, f"reviewer-{i}@example.org", PASSWORD, "reviewer", MULTI_LANE_ARGON2ID
            )
            emails.append(user.email)
    live = serve(app)
    unlocker = _login(live.url, coordinator, auth.secrets[coordinator])
    start = threading.Barrier(9)

    def login(email: str) -> int:
        start.wait()
        return requests.post(
            f"{live.url}/login",
            data={"email": email, "password": PASSWORD},
            allow_redirects=False,
            timeout=REQUEST_TIMEOUT,
        ).status_code

    def unlock() -> int:
        start.wait()
        return unlocker.post(
            f"{live.url}/keys/unlock",
            data={"passphrase": PASSPHRASE},
            allow_redirects=False,
            timeout=REQUEST_TIMEOUT,
        ).status_code

    with ThreadPoolExecutor(9) as pool:
        logins = [pool.submit(login, email) for email in emails]
        unlocked = pool.submit(unlock)
        assert [f.result() for f in logins] == [302] * 8  # to the second factor, each
        assert unlocked.result() == 302
    assert app.extensions["admin_keyring"].unlocked
    # And the next login still works (with the next TOTP step: this one is used).
    _login(live.url, coordinator, auth.secrets[coordinator], step=int(time.time()) // accounts.TOTP_STEP + 1)


# --------------------------------------------------------------------------
# TOTP


def test_one_totp_code_in_four_parallel_logins_lets_exactly_one_in(
    console_app: Flask, auth: AuthActions, serve: Callable[[Flask], LiveServer]
) -> None:
    email = auth.create("reviewer")
    live = serve(console_app)
    browsers = []
    for _ in range(4):
        browser = requests.Session()
        first = browser.post(
            f"{live.url}/login",
            data={"email": email, "password": PASSWORD},
            allow_redirects=False,
            timeout=30,
        )
        assert first.headers["Location"].endswith("/login/second-factor")
        browsers.append(browser)
    code = totp_code(auth.secrets[email], int(time.time()) // accounts.TOTP_STEP)
    start = threading.Barrier(4)

    def second_factor(browser: requests.Session) -> str:
        start.wait()
        response = browser.post(
            f"{live.url}/login/totp", data={"code": code}, allow_redirects=False, timeout=REQUEST_TIMEOUT
        )
        assert response.status_code == 302
        return str(response.headers["Location"])

    with ThreadPoolExecutor(4) as pool:
        landed = list(pool.map(second_factor, browsers))
    assert sum(1 for where in landed if where.endswith("/")) == 1, landed
    assert sum(1 for where in landed if where.endswith("/login/second-factor")) == 3, landed
    # Exactly one browser reaches the inbox.
    inbox = [b.get(f"{live.url}/", allow_redirects=False, timeout=30).status_code for b in browsers]
    assert sorted(inbox) == [200, 302, 302, 302]


# --------------------------------------------------------------------------
# Audit log


def test_twelve_threads_of_audited_actions_in_two_processes(
    console_app: Flask,
    auth: AuthActions,
    console_runner: FlaskCliRunner,
    serve: Callable[[Flask], LiveServer],
    second_process: Callable[[Flask], str],
) -> None:
    """Twelve reviewers' browsers, split over two console processes sharing
    the data folder and the database, each viewing the audit log (an
    audited action) over and over at once: no error, every action in the
    chain once, and ``audit verify`` passes."""
    here = serve(console_app).url
    there = second_process(console_app)
    emails = [auth.create("coordinator") for _ in range(12)]
    browsers = [
        (_login(here, email, auth.secrets[email]), here if i % 2 else there) for i, email in enumerate(emails)
    ]
    before = _entries(console_app)
    rounds = 8
    start = threading.Barrier(12)

    def act(browser: requests.Session, base: str) -> list[int]:
        start.wait()
        return [
            browser.get(f"{base}/audit/", allow_redirects=False, timeout=REQUEST_TIMEOUT).status_code
            for _ in range(rounds)
        ]

    with ThreadPoolExecutor(12) as pool:
        codes = [code for result in pool.map(lambda b: act(*b), browsers) for code in result]
    assert codes == [200] * (12 * rounds), sorted(set(codes))
    assert _entries(console_app) == before + 12 * rounds
    verified = console_runner.invoke(args=["audit", "verify"])
    assert verified.exit_code == 0, verified.output


def _entries(app: Flask) -> int:
    with app.extensions[DB_EXTENSION].session() as session:
        return int(session.scalar(select(func.count(AuditEntry.seq))) or 0)
