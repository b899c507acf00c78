"""Settings shared by both apps' factories: the one loader (each app passes
its prefix, ``INTAKE`` or ``ADMIN``, and its ``DEFAULTS``, every key of
which is in docs/settings.md) and the secrets each app generates once into
its data folder."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask


def load_settings(
    app: Flask, prefix: str, defaults: Mapping[str, Any], config: Mapping[str, Any] | None
) -> None:
    """Fill ``app.config``: ``defaults``, then ``<instance>/<app.name>.cfg`` if
    present, then ``<PREFIX>_*`` environment variables (values parsed as JSON
    where they parse, per :meth:`flask.Config.from_prefixed_env`), then
    ``config``."""
    app.config.from_mapping(defaults)
    app.config.from_pyfile(f"{app.name}.cfg", silent=True)
    app.config.from_prefixed_env(prefix)
    if config:
        app.config.from_mapping(config)


def secret_file(path: Path, size: int = 32) -> bytes:
    """Read a secret from ``path``, creating it (mode 0600, ``size`` random
    bytes) on first use. Used for the session key and the receipt key, so an
    operator backs them up with the data folder and restarts keep sessions."""
    try:
        data = path.read_bytes()
        if len(data) >= size:
            return data
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    data = secrets.token_bytes(size)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    return data
