"""Fixtures of the hardening tests: apps on this run's database,
servers in subprocesses on loopback, the console's test helpers."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

import admin
from admin.extensions import DB_EXTENSION

# The console's test helpers (AuthActions, constants) live beside its tests.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "admin"))

from admin_testlib import CHEAP_ARGON2ID  # noqa: E402


@pytest.fixture
def console_factory(tmp_path: Path) -> Iterator[Callable[..., Flask]]:
    """Console apps in ``tmp_path/console`` with cheap Argon2id and no login
    floor unless given; engines disposed at the end."""
    apps: list[Flask] = []

    def make(**overrides: Any) -> Flask:
        config = {
            "TESTING": True,
            "DATA_DIR": str(tmp_path / "console"),
            "SECRET_KEY": "test-only-secret",
            "ARGON2ID": CHEAP_ARGON2ID,
            "WTF_CSRF_ENABLED": False,
            "LOGIN_TIME_FLOOR": 0,
            **overrides,
        }
        app = admin.create_app(config)
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.extensions[DB_EXTENSION].engine.dispose()
