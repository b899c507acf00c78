"""The reviewer console: a separate Flask app, run on a machine the
organization trusts, that pulls sealed envelopes from the intake, opens them
with the organization's private key and keeps them encrypted at rest.

Entry point: :func:`create_app` (``flask --app admin run``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, render_template, request
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from intake.db import ROOT, Database

from . import config as settings
from .custody import Keyring
from .extensions import DB_EXTENSION, KEYRING_EXTENSION, babel, csrf, db_session, keyring, login_manager
from .models import Base, User

TEMPLATES = ROOT / "templates" / "admin"
MIGRATIONS = ROOT / "migrations" / "admin"

#: Endpoints reachable without logging in.
PUBLIC_ENDPOINTS = frozenset({"auth.login"})

#: Headers on every console response. No script, no third-party resource;
#: no caching, since pages carry decrypted reports.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the console app.

    Args:
        config: settings that override everything else (tests, scripts); see
            :mod:`admin.config` for the keys and the loading order.

    Runs the database migrations unless ``AUTO_MIGRATE`` is False.
    """
    app = Flask(__name__, instance_relative_config=True, template_folder=str(TEMPLATES), static_folder=None)
    settings.load(app, config)

    database = Database(app.config["DATABASE_URL"], MIGRATIONS, Base)
    database.init_app(app, DB_EXTENSION)
    if app.config["AUTO_MIGRATE"]:
        database.upgrade()
    app.extensions[KEYRING_EXTENSION] = Keyring(idle_timeout=float(app.config["KEY_IDLE_TIMEOUT"]))

    csrf.init_app(app)
    babel.init_app(app, locale_selector=_select_locale)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please log in.")
    login_manager.session_protection = "strong"
    login_manager.user_loader(_load_user)

    from .auth import bp as auth_bp
    from .case import bp as case_bp
    from .cli import register_commands
    from .inbox import bp as inbox_bp
    from .keys import bp as keys_bp

    for bp in (auth_bp, inbox_bp, case_bp, keys_bp):
        app.register_blueprint(bp)
    register_commands(app)

    app.before_request(_require_login)
    app.after_request(_security_headers)
    app.context_processor(_template_globals)
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(HTTPException, _http_error)
    return app


def _load_user(user_id: str) -> User | None:
    if not user_id.isdigit():
        return None
    user = db_session().get(User, int(user_id))
    return user if user is not None and user.active else None


def _select_locale() -> str:
    # English only for now; the selector is where negotiation will go.
    return "en"


def _require_login() -> Any:
    # Every page but the login form needs an account: default deny, so a new
    # view cannot be left open by forgetting a decorator.
    if request.endpoint in PUBLIC_ENDPOINTS or current_user.is_authenticated:
        return None
    return login_manager.unauthorized()


def _security_headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def _template_globals() -> dict[str, Any]:
    return {
        "html_lang": str(get_locale() or "en"),
        "html_dir": "ltr",
        "key_unlocked": keyring().unlocked,
    }


def _csrf_error(error: CSRFError) -> tuple[str, int]:
    return render_template(
        "error.html", code=400, message=_l("The form expired. Go back, reload and try again.")
    ), 400


def _http_error(error: HTTPException) -> tuple[str, int] | HTTPException:
    if error.code is None or error.code < 400:
        return error
    return render_template("error.html", code=error.code, message=error.description), error.code


__all__ = ["create_app"]
