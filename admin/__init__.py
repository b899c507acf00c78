"""The reviewer console: a separate Flask app, run on a machine the
organization trusts, that pulls sealed envelopes from the intake, opens them
with the organization's private key and keeps them encrypted at rest.

Entry point: :func:`create_app` (``flask --app admin run``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import click
from flask import Flask, Response, current_app, render_template, request
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException

from core.assets import install as install_assets
from core.db import ROOT, Database
from core.hosts import install as install_host_check
from core.logs import install_app_scrubbing
from core.timing import pad_endpoints
from core.web import apply_security_headers

from . import config as settings
from .alarms import service as alarms
from .display import visible_controls
from .extensions import DB_EXTENSION, KEYRING_EXTENSION, babel, csrf, db_session, keyring, login_manager
from .i18n import http_error_message, language_tag, role_label, sealed_by_label, select_locale
from .keys.custody import UnlockedKeyring
from .models import Base, User
from .sync.job import EXTENSION as SYNCJOB_EXTENSION
from .sync.job import SyncJobs
from .taxonomy import disposition_label

TEMPLATES = ROOT / "templates" / "admin"
MIGRATIONS = ROOT / "migrations" / "admin"

#: The console's CSP: no script at all, nothing from another origin. The
#: other headers (no-store, no-referrer, COOP/CORP, …) come from the one
#: header policy in :func:`core.web.apply_security_headers`.
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; "
    # The one same-origin script, for WebAuthn (no inline script).
    "script-src 'self'; connect-src 'self'"
)


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the console app.

    Args:
        config: settings that override everything else (tests, scripts); see
            :mod:`admin.config` for the keys and the loading order.

    Runs the database migrations unless ``AUTO_MIGRATE`` is False.
    """
    app = Flask(__name__, instance_relative_config=True, template_folder=str(TEMPLATES), static_folder=None)
    settings.load(app, config)
    # First: before any other part of the app can read the Host header.
    install_host_check(app)
    if click.get_current_context(silent=True) is None:
        # Built to serve pages (gunicorn, any WSGI server), not for a
        # `flask --app admin` command: refuse to start without the
        # production settings (WebAuthn relying party, Secure cookies).
        settings.check_production(app.config)

    database = Database(app.config["DATABASE_URL"], MIGRATIONS, Base)
    database.init_app(app, DB_EXTENSION)
    if app.config["AUTO_MIGRATE"]:
        database.upgrade()
    app.extensions[KEYRING_EXTENSION] = UnlockedKeyring(idle_timeout=float(app.config["KEY_IDLE_TIMEOUT"]))
    app.extensions[SYNCJOB_EXTENSION] = SyncJobs(app)

    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please log in.")
    login_manager.session_protection = "strong"
    login_manager.user_loader(_load_user)

    from .auth.views import bp as auth_bp
    from .cases import actions as _case_actions  # noqa: F401  (the case page's POST routes, on case_bp)
    from .cases.views import bp as case_bp
    from .cli import register_commands
    from .inbox.views import bp as inbox_bp
    from .keys.views import bp as keys_bp

    for bp in (auth_bp, inbox_bp, case_bp, keys_bp):
        app.register_blueprint(bp)
    # The console's stylesheet and script under content-hashed names, with SRI.
    install_assets(app, ROOT / "static" / "admin", "auth.static")
    register_commands(app)

    # Briefings: blueprint and the `briefing` / `coded` commands.
    from .briefing.cli import register_briefing_commands
    from .briefing.views import bp as briefing_bp

    app.register_blueprint(briefing_bp)
    register_briefing_commands(app)

    # The audit log head file, the audit page, and the one
    # before-request check of login, session and role (admin/permissions.py).
    from .audit import log as audit
    from .audit.views import bp as audit_bp
    from .auth.guard import can, guard

    audit.init_app(app, database)
    app.register_blueprint(audit_bp)

    # Interview mode (a report taken on someone's behalf). Its request
    # class holds uploads in memory and lets the interview form (only)
    # post files.
    from .interview.views import InterviewRequest
    from .interview.views import bp as interview_bp

    app.request_class = InterviewRequest
    app.register_blueprint(interview_bp)

    # Against a seized intake: the alarms page (admin/alarms/service.py).
    from .alarms.views import bp as alarms_bp

    app.register_blueprint(alarms_bp)

    # Reply templates: the coordinators' pages, "Use template", `replies seed`.
    from .replytemplates import views as replytemplateviews

    replytemplateviews.init_app(app)
    app.jinja_env.globals["can"] = can
    # Untrusted report text: make bidi overrides and invisible characters visible.
    app.jinja_env.filters["untrusted"] = visible_controls
    app.jinja_env.filters["disposition"] = disposition_label
    app.jinja_env.filters["role"] = role_label
    app.jinja_env.filters["sealed_by"] = sealed_by_label
    app.before_request(guard)
    app.after_request(_security_headers)
    app.context_processor(_template_globals)
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected_error)
    install_app_scrubbing(app.logger)
    pad_endpoints(app, {"auth.login": "LOGIN_TIME_FLOOR"})
    return app


def _load_user(user_id: str) -> User | None:
    if not user_id.isdigit():
        return None
    user = db_session().get(User, int(user_id))
    return user if user is not None and user.active else None


def _security_headers(response: Response) -> Response:
    # Pages carry decrypted reports: never cached. Only the stylesheet and
    # script keep the caching the static view gave them (a year under a
    # content-hashed name, core/assets.py).
    static = request.endpoint == "auth.static" and response.status_code < 400
    apply_security_headers(
        response,
        csp=CSP,
        no_store=not static,
        hsts_max_age=int(current_app.config.get("HSTS_MAX_AGE") or 0),
    )
    # same-origin, not the reporter pages' no-referrer: behind HTTPS,
    # Flask-WTF's CSRF check also demands a Referer from this very origin
    # (WTF_CSRF_SSL_STRICT, against a man in the middle who plants a token
    # cookie over plain http), and a browser sends none under no-referrer:
    # every form post, the login included, failed as "The form expired".
    # same-origin sends the Referer only to the console itself, so nothing
    # leaves for another site (the console links to none, and its CSP loads
    # nothing from elsewhere), and CSRF stays as strict as it was.
    response.headers["Referrer-Policy"] = "same-origin"
    return response


def _unexpected_error(error: Exception) -> tuple[str, int]:
    # The class only: an exception's text or traceback can hold decrypted
    # report content, an e-mail address or a token.
    current_app.logger.error("unhandled %s on %s", error.__class__.__name__, request.endpoint)
    return render_template("error.html", code=500, message=_l("Something went wrong.")), 500


def _template_globals() -> dict[str, Any]:
    found: dict[str, Any] = {
        "html_lang": language_tag(get_locale()),
        "html_dir": "ltr",
        "key_unlocked": keyring().unlocked,
        "open_alarms": (),
        "open_alarm_count": 0,
    }
    # The alarm banner, on every page of a logged-in account (never before
    # login: the login page says nothing about the console's state).
    if current_user.is_authenticated:
        session = db_session()
        try:
            found["open_alarm_count"] = count = alarms.count_open(session)
            if count:
                found["open_alarms"] = alarms.open_alarms(session, alarms.BANNER_LIMIT)
        except SQLAlchemyError:
            # The error page of a failed transaction: it still renders.
            pass
    return found


def _csrf_error(error: CSRFError) -> tuple[str, int]:
    return render_template(
        "error.html", code=400, message=_l("The form expired. Go back, reload and try again.")
    ), 400


def _http_error(error: HTTPException) -> tuple[str, int] | HTTPException:
    if error.code is None or error.code < 400:
        return error
    return render_template("error.html", code=error.code, message=http_error_message(error)), error.code


__all__ = ["create_app"]
