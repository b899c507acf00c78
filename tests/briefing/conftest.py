"""Fixtures of the briefing tests: the shared coded cases, a console app per
test (tests/admin's helpers), and one briefing built once per module."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask

from tests.admin.admin_testlib import AuthActions, console_apps

# A copy of shared/cases/coded_cases.csv kept in the repository, so that a
# clean clone with nothing beside it runs every briefing test.
CODED_CASES = Path(__file__).resolve().parent / "data" / "coded_cases.csv"


@pytest.fixture(scope="session")
def coded_cases_path() -> Path:
    return CODED_CASES


@pytest.fixture
def make_console(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Flask]]:
    for name in list(os.environ):
        if name.startswith("ADMIN_") and name != "ADMIN_DATABASE_URL":
            monkeypatch.delenv(name)
    with console_apps(tmp_path / "data") as make:
        yield make


@pytest.fixture
def console_app(make_console: Callable[..., Flask]) -> Flask:
    return make_console()


@pytest.fixture
def auth(console_app: Flask) -> AuthActions:
    return AuthActions(console_app, console_app.test_client())
