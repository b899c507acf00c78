"""Flask extensions of the console, created once and bound in
:func:`admin.create_app`, and accessors for what the app holds."""

from __future__ import annotations

from pathlib import Path
from typing import cast

from flask import current_app
from flask_babel import Babel
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect
from sqlalchemy.orm import Session

from core.db import Database, request_session

from .keys.custody import UnlockedKeyring

DB_EXTENSION = "admin_db"
KEYRING_EXTENSION = "admin_keyring"

csrf = CSRFProtect()
login_manager = LoginManager()
babel = Babel()


def db() -> Database:
    """The current app's :class:`~core.db.Database`."""
    return cast(Database, current_app.extensions[DB_EXTENSION])


def db_session() -> Session:
    """The current request's session of the console database."""
    return request_session(DB_EXTENSION)


def keyring() -> UnlockedKeyring:
    """The current app's in-memory :class:`~admin.keys.custody.UnlockedKeyring`."""
    return cast(UnlockedKeyring, current_app.extensions[KEYRING_EXTENSION])


def data_dir() -> Path:
    """The current app's ``DATA_DIR`` (absolute)."""
    return Path(current_app.config["DATA_DIR"])
