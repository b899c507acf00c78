"""Fixtures of the briefing tests: the shared coded cases, a console app per
test (tests/admin's helpers), and one briefing built once per module."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "admin"))

from admin_testlib import CHEAP_ARGON2ID, AuthActions  # noqa: E402

from admin import create_app  # noqa: E402
from admin.extensions import DB_EXTENSION  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
CODED_CASES = ROOT.parent / "shared" / "cases" / "coded_cases.csv"
#: A copy of the shared file (invented data), for runs without ../shared.
CODED_CASES_COPY = Path(__file__).resolve().parent / "data" / "coded_cases.csv"


@pytest.fixture(scope="session")
def coded_cases_path() -> Path:
    if not CODED_CASES.is_file() and CODED_CASES_COPY.is_file():
        return CODED_CASES_COPY
    if not CODED_CASES.is_file():
        pytest.skip(f"shared test input {CODED_CASES} is absent (the shared/ folder sits beside the repo)")
    return CODED_CASES


@pytest.fixture
def make_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Flask]]:
    for name in list(os.environ):
        if name.startswith("ADMIN_") and name != "ADMIN_DATABASE_URL":
            monkeypatch.delenv(name)
    apps: list[Flask] = []

    def make(**overrides: Any) -> Flask:
        config = {
            "TESTING": True,
            "DATA_DIR": str(tmp_path / "data"),
            "SECRET_KEY": "test-only-secret",
            "ARGON2ID": CHEAP_ARGON2ID,
            "WTF_CSRF_ENABLED": False,
            "LOGIN_TIME_FLOOR": 0,
            **overrides,
        }
        app = create_app(config)
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.extensions[DB_EXTENSION].engine.dispose()


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app()


@pytest.fixture
def auth(app: Flask) -> AuthActions:
    return AuthActions(app, app.test_client())
