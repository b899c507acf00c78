"""Fixtures of the intake tests: an app per test in its own data folder, with
generated keys; and, for the suite's PostgreSQL run
(``TNR_TEST_DATABASE=postgres``, see scripts/test.sh), a fresh schema per test
for each app, handed over as ``INTAKE_DATABASE_URL`` / ``ADMIN_DATABASE_URL``
so every app a test builds uses it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

import intake
from core.envelope import RecipientPrivateKey

from . import pgtest
from .helpers import write_key_file

#: Set (to anything but "" or "0") to run the ``db_independent`` tests on
#: the PostgreSQL run too.
EVERY_TEST_ON_POSTGRES = os.environ.get("TNR_TEST_EVERY_TEST_ON_POSTGRES", "") not in ("", "0")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The SQLite run skips ``postgres_only`` tests; the PostgreSQL run
    leaves out (deselects) ``db_independent`` ones, which the SQLite run of
    the same suite covers (scripts/test.sh runs both), unless
    TNR_TEST_EVERY_TEST_ON_POSTGRES is set."""
    if pgtest.ON_POSTGRES:
        if EVERY_TEST_ON_POSTGRES:
            return
        kept = [item for item in items if "db_independent" not in item.keywords]
        if len(kept) < len(items):
            config.hook.pytest_deselected(items=[item for item in items if "db_independent" in item.keywords])
            items[:] = kept
        return
    skip = pytest.mark.skip(reason="PostgreSQL only (TNR_TEST_DATABASE=postgres)")
    for item in items:
        if "postgres_only" in item.keywords:
            item.add_marker(skip)


def pytest_report_header(config: pytest.Config) -> str:
    return f"tnr database: {'postgresql' if pgtest.ON_POSTGRES else 'sqlite'}"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    pgtest.dispose()


@dataclass(frozen=True)
class Databases:
    """The database URLs of this test's apps: None means each app's default
    SQLite file in its data folder (the SQLite run)."""

    intake: str | None
    admin: str | None

    def env(self) -> dict[str, str]:
        """Environment for a subprocess (gunicorn, ``flask``) of this test."""
        env = {}
        if self.intake:
            env["INTAKE_DATABASE_URL"] = self.intake
        if self.admin:
            env["ADMIN_DATABASE_URL"] = self.admin
        return env


@pytest.fixture(scope="session")
def playwright() -> Iterator[Any]:
    """One Playwright driver for the whole run, started by the first test
    that needs a browser: a second ``sync_playwright()`` in the same process
    fails ("Sync API inside the asyncio loop"), so every browser fixture
    launches from this one."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as driver:
        yield driver


@pytest.fixture(autouse=True)
def databases(monkeypatch: pytest.MonkeyPatch) -> Iterator[Databases]:
    """On the PostgreSQL run, two fresh schemas (intake, console) dropped
    after the test; on the SQLite run, nothing."""
    if not pgtest.ON_POSTGRES:
        yield Databases(None, None)
        return
    intake_schema, intake_url = pgtest.new_schema("i")
    admin_schema, admin_url = pgtest.new_schema("a")
    monkeypatch.setenv("INTAKE_DATABASE_URL", intake_url)
    monkeypatch.setenv("ADMIN_DATABASE_URL", admin_url)
    try:
        yield Databases(intake_url, admin_url)
    finally:
        pgtest.drop_schema(intake_schema)
        pgtest.drop_schema(admin_schema)


@pytest.fixture
def keys_dir(tmp_path: Path) -> Path:
    return tmp_path / "keys"


@pytest.fixture
def org_key(keys_dir: Path) -> RecipientPrivateKey:
    """The private key of the one organization the intake seals to."""
    return write_key_file(keys_dir, "test-org")


@pytest.fixture
def intake_app(tmp_path: Path, keys_dir: Path, org_key: RecipientPrivateKey) -> Iterator[Flask]:
    app = intake.create_app(
        {
            "TESTING": True,
            "DATA_DIR": str(tmp_path / "data"),
            "KEYS_DIR": str(keys_dir),
            "WTF_CSRF_ENABLED": False,
            # The real ALTCHA check, with a cheap challenge (at most 20
            # tries of 10 PBKDF2 iterations) so that tests solve it in
            # milliseconds.
            "ALTCHA_COST": 10,
            "ALTCHA_COUNTER_MIN": 1,
            "ALTCHA_COUNTER_MAX": 20,
        }
    )
    yield app
    app.extensions["intake.db"].engine.dispose()


@pytest.fixture
def intake_client(intake_app: Flask) -> FlaskClient:
    return intake_app.test_client()


@pytest.fixture
def intake_runner(intake_app: Flask) -> FlaskCliRunner:
    return intake_app.test_cli_runner()
