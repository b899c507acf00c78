"""Every setting the code reads is a documented default: each
``config.get("X")`` / ``config["X"]`` in an app's package names a key of
that app's ``DEFAULTS`` and a row of docs/settings.md, so a setting read
with an inline default that no operator can find fails here. Keys of the
shared core must be in the defaults of at least one app. Flask's own keys
(``TESTING``, ``DEBUG`` …) are Flask's to document.

Keys made at run time (the throttle's ``<NAME>_BURST`` family, read
through a variable) are not seen by this walk: list them by hand."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from flask import Flask

from admin.config import DEFAULTS as ADMIN_DEFAULTS
from intake import DEFAULTS as INTAKE_DEFAULTS

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "settings.md"
#: Names a settings mapping goes by in the code.
CONFIG_NAMES = {"config", "cfg"}


def _is_config(node: ast.expr) -> bool:
    if isinstance(node, ast.Name):
        return node.id in CONFIG_NAMES
    return isinstance(node, ast.Attribute) and node.attr == "config"


def _key(node: ast.expr) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.isupper():
        return node.value
    return None


def settings_read(package: str) -> dict[str, str]:
    """Setting name -> the first ``file:line`` that reads it, in ``package``.
    Writes (``config["X"] = …``) are not reads."""
    found: dict[str, str] = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            key = None
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "get"
                and _is_config(node.func.value)
                and node.args
            ):
                key = _key(node.args[0])
            elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
                key = _key(node.slice) if _is_config(node.value) else None
            if key is not None:
                found.setdefault(key, f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


FLASK_OWN = set(Flask.default_config)


def _undeclared(read: dict[str, str], defaults: set[str]) -> list[str]:
    return sorted(f"{key} ({where})" for key, where in read.items() if key not in defaults | FLASK_OWN)


def test_the_walk_finds_settings() -> None:
    # A walk that found nothing would pass everything.
    assert "SYNC_PAGE_SIZE" in settings_read("admin")
    assert "CHUNK_SIZE" in settings_read("intake")


@pytest.mark.parametrize(
    ("package", "defaults"),
    [
        ("intake", set(INTAKE_DEFAULTS)),
        ("admin", set(ADMIN_DEFAULTS)),
        ("core", set(INTAKE_DEFAULTS) | set(ADMIN_DEFAULTS)),
    ],
)
def test_every_setting_read_has_a_default(package: str, defaults: set[str]) -> None:
    assert _undeclared(settings_read(package), defaults) == []


@pytest.mark.parametrize(("prefix", "defaults"), [("INTAKE", INTAKE_DEFAULTS), ("ADMIN", ADMIN_DEFAULTS)])
def test_every_default_is_documented(prefix: str, defaults: dict[str, object]) -> None:
    doc = DOC.read_text(encoding="utf-8")
    missing = sorted(key for key in defaults if f"`{prefix}_{key}`" not in doc)
    assert missing == []
