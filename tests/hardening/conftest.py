"""Fixtures of the hardening tests: apps on this run's database,
servers in subprocesses on loopback, the console's test helpers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask

from tests.admin.admin_testlib import console_apps


@pytest.fixture
def console_factory(tmp_path: Path) -> Iterator[Callable[..., Flask]]:
    """Console apps in ``tmp_path/console`` with cheap Argon2id and no login
    floor unless given; engines disposed at the end."""
    with console_apps(tmp_path / "console") as make:
        yield make
