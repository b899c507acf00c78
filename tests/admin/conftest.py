"""Fixtures of the console tests: an app per test in its own data dir, cheap
Argon2id, a client, a CLI runner, a login helper, an organization key and a
fake intake (helpers in admin_testlib.py)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from werkzeug.serving import make_server

from core.envelope import RecipientPrivateKey
from tests.admin.admin_testlib import AuthActions, FakeIntake, console_apps, store_key
from tests.admin.served_intake import ServedIntake
from tests.chromium import CHROMIUM_ARGS, require_chromium


@pytest.fixture
def make_console(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Flask]]:
    """Factory of console apps in ``tmp_path/data``; engines disposed at the end."""
    for name in list(os.environ):
        # ADMIN_DATABASE_URL stays: on the PostgreSQL run it is this test's
        # schema (tests/conftest.py).
        if name.startswith("ADMIN_") and name != "ADMIN_DATABASE_URL":
            monkeypatch.delenv(name)
    # The fake intake serves the reviewer API only, no public pages: tests
    # of the watch (test_seized_intake.py) turn the check on sync back on.
    with console_apps(tmp_path / "data", INTAKE_CHECK_ON_SYNC=False) as make:
        yield make


@pytest.fixture
def console_app(make_console: Callable[..., Flask]) -> Flask:
    return make_console()


@pytest.fixture
def console_client(console_app: Flask) -> FlaskClient:
    return console_app.test_client()


@pytest.fixture
def console_runner(console_app: Flask) -> FlaskCliRunner:
    return console_app.test_cli_runner()


@pytest.fixture
def data_dir(console_app: Flask) -> Path:
    return Path(console_app.config["DATA_DIR"])


@pytest.fixture
def auth(console_app: Flask, console_client: FlaskClient) -> AuthActions:
    return AuthActions(console_app, console_client)


@pytest.fixture
def org_key(data_dir: Path) -> RecipientPrivateKey:
    """The organization's key, sealed under PASSPHRASE in DATA_DIR/private-keys."""
    key = RecipientPrivateKey.generate()
    store_key(key, data_dir)
    return key


@pytest.fixture
def fake_intake(console_app: Flask, org_key: RecipientPrivateKey) -> Iterator[FakeIntake]:
    """A running fake intake; the app is configured to sync from it."""
    fake = FakeIntake(org_key)
    fake.start()
    console_app.config["INTAKE_URL"] = fake.url
    console_app.config["INTAKE_TOKEN"] = fake.token
    yield fake
    fake.stop()


# --- fixtures of the console work: logins, keys, the fake intake ---


@pytest.fixture
def intake_factory() -> Iterator[Callable[[Flask], FakeIntake]]:
    """Factory of running fake intakes for an app made with ``make_console``:
    stores an organization key in that app's DATA_DIR and configures the app
    to sync from the fake. Stopped at the end."""
    fakes: list[FakeIntake] = []

    def make(app: Flask) -> FakeIntake:
        key = RecipientPrivateKey.generate()
        store_key(key, Path(app.config["DATA_DIR"]))
        fake = FakeIntake(key)
        fake.start()
        fakes.append(fake)
        app.config["INTAKE_URL"] = fake.url
        app.config["INTAKE_TOKEN"] = fake.token
        return fake

    yield make
    for fake in fakes:
        fake.stop()


# --- live consoles over real HTTP, and the browser that visits them ---


@pytest.fixture
def serve_console() -> Iterator[Callable[[Flask], str]]:
    """Factory: serve a console app on an ephemeral loopback port, threaded
    as in production (concurrent requests are concurrent); returns its base
    URL. Every server is stopped at the end of the test."""
    servers: list[tuple[Any, threading.Thread]] = []

    def serve(app: Flask) -> str:
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        servers.append((server, thread))
        return f"http://127.0.0.1:{server.port}"

    yield serve
    for server, thread in servers:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def live_console(
    make_console: Callable[..., Flask], serve_console: Callable[[Flask], str]
) -> Callable[..., tuple[Flask, str]]:
    """Factory: a console made with ``make_console(WTF_CSRF_ENABLED=True,
    **overrides)`` (CSRF on, as a browser meets it) and served; returns
    ``(app, base URL)``."""

    def start(**overrides: Any) -> tuple[Flask, str]:
        app = make_console(WTF_CSRF_ENABLED=True, **overrides)
        return app, serve_console(app)

    return start


@pytest.fixture
def console_url(console_app: Flask, serve_console: Callable[[Flask], str]) -> str:
    """The ``console_app`` fixture's console served; its base URL."""
    return serve_console(console_app)


@pytest.fixture
def launch_chromium(playwright: Any) -> Iterator[Callable[..., Any]]:
    """Factory: Debian's Chromium, headless, with tests/chromium.py's
    arguments and any ``extra`` ones; every browser closed at the end."""
    launched: list[Any] = []

    def launch(*extra: str) -> Any:
        chromium = playwright.chromium.launch(
            executable_path=require_chromium(), headless=True, args=[*CHROMIUM_ARGS, *extra]
        )
        launched.append(chromium)
        return chromium

    yield launch
    for chromium in launched:
        chromium.close()


@pytest.fixture
def browser(launch_chromium: Callable[..., Any]) -> Any:
    """Debian's Chromium (replaces pytest-playwright's ``browser`` for the
    console tests)."""
    return launch_chromium()


@pytest.fixture
def served(tmp_path: Path, console_app: Flask, org_key: RecipientPrivateKey) -> Iterator[ServedIntake]:
    """The real intake, served, holding ``org_key``'s public key; the ``console_app``
    fixture's console syncs from it and replies as "Test Org"."""
    server = ServedIntake(tmp_path / "intake", org_key)
    console_app.config["INTAKE_URL"] = server.url
    console_app.config["INTAKE_TOKEN"] = server.token
    console_app.config["REPLY_FROM"] = "Test Org"
    yield server
    server.close()
