"""Fixtures of the intake tests: an app per test in its own data folder, with
generated keys."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

import intake
from intake.envelope import RecipientPrivateKey

from .helpers import write_key_file


@pytest.fixture
def keys_dir(tmp_path: Path) -> Path:
    return tmp_path / "keys"


@pytest.fixture
def org_key(keys_dir: Path) -> RecipientPrivateKey:
    """The private key of the one organization the intake seals to."""
    return write_key_file(keys_dir, "test-org")


@pytest.fixture
def app(tmp_path: Path, keys_dir: Path, org_key: RecipientPrivateKey) -> Iterator[Flask]:
    app = intake.create_app(
        {
            "TESTING": True,
            "DATA_DIR": str(tmp_path / "data"),
            "KEYS_DIR": str(keys_dir),
            "WTF_CSRF_ENABLED": False,
        }
    )
    yield app
    app.extensions["intake.db"].engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()
