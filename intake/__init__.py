"""TNR Intake, the public side: the report form, sealing, the envelope store
and the reviewer API. ``create_app`` is the factory for Flask and gunicorn."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask, Response, jsonify
from flask_wtf.csrf import CSRFProtect

from core.assets import install as install_assets
from core.db import ROOT, Database
from core.envelope import KeyFileError
from core.hosts import install as install_host_check
from core.i18n import init_i18n
from core.logs import install_app_scrubbing
from core.settings import load_settings, secret_file
from core.timing import today_utc
from core.uploads import InMemoryRequest
from core.web import init_web

from .keyring import PublicKeyring
from .store.blobs import DatabaseBlobStore, FileBlobStore
from .store.models import Base

__all__ = ["ConfigError", "create_app"]

csrf = CSRFProtect()

DEFAULTS: dict[str, Any] = {
    # Everything the intake keeps: database, blobs, session and receipt keys.
    "DATA_DIR": os.path.abspath("data/intake"),
    # The recipients' public key files (never a private key).
    "KEYS_DIR": str(ROOT / "keys"),
    # Default: sqlite:///<DATA_DIR>/intake.db
    "DATABASE_URL": None,
    # Run the database migrations when the app starts.
    "AUTO_MIGRATE": True,
    # Bounded because uploads are held in memory (see core/uploads.py).
    "MAX_CONTENT_LENGTH": 64 * 1024 * 1024,
    # Bytes of one non-file form field, and parts of one multipart post.
    "MAX_FORM_MEMORY_SIZE": 1024 * 1024,
    "MAX_FORM_PARTS": 200,
    # Bytes of plaintext per STREAM chunk when sealing (server and browser).
    "CHUNK_SIZE": 64 * 1024,
    # The reviewer API's pages stop at this many bytes of sealed header and
    # body (at least one envelope a page; intake/api/views.py).
    "API_PAGE_BYTES": 8 * 1024 * 1024,
    # A reporter may take a long time to write; the token lives as long as
    # the browser session.
    "WTF_CSRF_TIME_LIMIT": None,
    # Seconds a status page may add information after a receipt check;
    # past it, what was typed is kept through a new check.
    "FOLLOWUP_ACCESS_MAX_AGE": 3600,
    # The session cookie (it carries only the CSRF token): no script reads
    # it, no other site sends it; Secure only behind HTTPS alone (the onion
    # site is plain HTTP, docs/deployment.md).
    "SESSION_COOKIE_SAMESITE": "Strict",
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SECURE": False,
    "SESSION_COOKIE_NAME": "s",
    # Where attachment ciphertexts live: "database" (rows committed with the
    # envelope, so several intake hosts can share one database; None means
    # this) or "files" (DATA_DIR/blobs, by choice only). See intake/store/blobs.py.
    "BLOB_STORE": None,
    # Seconds of Strict-Transport-Security (0: none; never on .onion).
    "HSTS_MAX_AGE": 0,
    # The onion service's host name, for the Onion-Location header.
    "ONION_ADDRESS": None,
    # Host names served, e.g. "intake.example.org" (ONION_ADDRESS is added); others get 400. None: any.
    "TRUSTED_HOSTS": None,
    # Bytes that must stay free on the data folder's file system after an
    # upload; below it uploads are refused, what was typed kept (intake/abuse/quota.py).
    "MIN_FREE_DISK": 1024 * 1024 * 1024,
    # Follow-ups one report may receive a day, and their stored bytes.
    "FOLLOWUP_DAILY_COUNT": 20,
    "FOLLOWUP_DAILY_BYTES": 256 * 1024 * 1024,
    # Seconds a receipt-check page's one-time token stays valid (no JS).
    "RECEIPT_CHECK_MAX_AGE": 3600,
    # Default: generated into DATA_DIR/session.key on first start; set the
    # same value on every host when there are several.
    "SECRET_KEY": None,
    # Key of receipt lookups; default: generated into DATA_DIR/receipt.key.
    "RECEIPT_SECRET": None,
    # Flask-WTF's CSRF check on every form (off only in tests and bench/).
    "WTF_CSRF_ENABLED": True,
    # Bytes of one file, and of all files of a report, before padding;
    # None: 50 MiB, and what fits MAX_CONTENT_LENGTH (core/limits.py).
    "MAX_FILE_SIZE": None,
    "MAX_TOTAL_FILE_SIZE": None,
    # Where "Leave quickly" goes: a neutral, common site that gives no
    # hint of what was open before (empty: this one).
    "LEAVE_URL": "https://www.wikipedia.org/",
    # ALTCHA proof of work on the JavaScript path (intake/abuse/proofofwork.py):
    # on or off; PBKDF2 iterations per counter; the range the secret counter
    # is drawn from (the browser's work); seconds a challenge stays valid.
    "ALTCHA": True,
    "ALTCHA_COST": 1000,
    "ALTCHA_COUNTER_MIN": 500,
    "ALTCHA_COUNTER_MAX": 1500,
    "ALTCHA_MAX_AGE": 2 * 3600,
    # Report submissions per address and for everyone (intake/abuse/throttle.py):
    # off only for capacity benchmarks (bench/load.py).
    "SUBMISSION_THROTTLE": True,
    # Submissions in a row, then seconds between further ones, per address
    # and for everyone together (0 or None: these defaults).
    "SUBMISSION_BURST": 10,
    "SUBMISSION_INTERVAL": 60.0,
    "SUBMISSION_GLOBAL_BURST": 200,
    "SUBMISSION_GLOBAL_INTERVAL": 0.5,
    # Follow-ups the same way, in buckets of their own.
    "FOLLOWUP_BURST": 10,
    "FOLLOWUP_INTERVAL": 60.0,
    "FOLLOWUP_GLOBAL_BURST": 200,
    "FOLLOWUP_GLOBAL_INTERVAL": 0.5,
    # Receipt lookups the same way: a receipt cannot be guessed by brute force.
    "RECEIPT_GUESS_BURST": 10,
    "RECEIPT_GUESS_INTERVAL": 30.0,
    "RECEIPT_GLOBAL_BURST": 300,
    "RECEIPT_GLOBAL_INTERVAL": 0.2,
    # Client addresses many reporters share (the Tor daemon, a local proxy):
    # only the global buckets apply to them, never a per-address one.
    "SHARED_CLIENT_ADDRESSES": ("127.0.0.1", "::1"),
    # Test-only: offer the pseudo-locales that stretch the layout (core/i18n.py).
    "PSEUDO_LOCALES": False,
}


class ConfigError(RuntimeError):
    """The intake cannot start: the message says what to fix."""


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the intake app.

    Settings, later ones winning: :data:`DEFAULTS`, ``instance/intake.cfg``,
    ``INTAKE_*`` environment variables (``INTAKE_DATA_DIR``,
    ``INTAKE_KEYS_DIR``, ``INTAKE_DATABASE_URL`` …), then ``config``.

    Raises:
        ConfigError: no usable public key in the keys directory (a malformed
            or expired file is named), or the data folder cannot be created.
    """
    app = Flask(
        "intake",
        instance_relative_config=True,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    app.request_class = InMemoryRequest
    load_settings(app, "INTAKE", DEFAULTS, config)
    try:
        # First: before any other part of the app can read the Host header.
        install_host_check(app, app.config.get("ONION_ADDRESS"))
    except ValueError as exc:
        raise ConfigError(f"intake: {exc}") from exc

    data_dir = Path(app.config["DATA_DIR"])
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        # The service account only: ciphertext, but its days, sizes and
        # order are not for other local users (whatever the umask was).
        data_dir.chmod(0o700)
    except OSError as exc:
        raise ConfigError(f"cannot create the data folder {data_dir}: {exc.strerror}") from exc
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = secret_file(data_dir / "session.key")
    if not app.config.get("RECEIPT_SECRET"):
        app.config["RECEIPT_SECRET"] = secret_file(data_dir / "receipt.key")
    elif not isinstance(app.config["RECEIPT_SECRET"], bytes):
        # Given in the environment (several hosts share one): text → bytes.
        app.config["RECEIPT_SECRET"] = str(app.config["RECEIPT_SECRET"]).encode("utf-8")

    try:
        keyring = PublicKeyring.load(Path(app.config["KEYS_DIR"]), today_utc())
    except KeyFileError as exc:
        raise ConfigError(f"intake: {exc}") from exc
    if not keyring.active:
        raise ConfigError("intake: every key in the keys directory is retired; add an active key")
    app.extensions["intake.keyring"] = keyring

    url = app.config["DATABASE_URL"] or f"sqlite:///{data_dir / 'intake.db'}"
    db = Database(url, ROOT / "migrations" / "intake", Base)
    db.init_app(app, "intake.db")
    if app.config["AUTO_MIGRATE"]:
        db.upgrade()
    # In the database by default, on SQLite too: one file per envelope would
    # keep each arrival's exact time in the file system (mtime and ctime,
    # which no one can reset), against invariant 3's "the day only".
    blob_store = app.config["BLOB_STORE"] or "database"
    if blob_store == "files":
        app.extensions["intake.blobs"] = FileBlobStore(data_dir / "blobs")
    elif blob_store == "database":
        app.extensions["intake.blobs"] = DatabaseBlobStore(db)
    else:
        raise ConfigError(f"intake: BLOB_STORE must be 'files' or 'database', not {blob_store!r}")

    csrf.init_app(app)
    # Scripts and stylesheets under content-hashed names, with SRI.
    install_assets(app, ROOT / "static", "static")
    init_i18n(app, str(Path(__file__).parent / "translations"))
    init_web(app)
    install_app_scrubbing(app.logger)

    from .abuse.views import bp as abuse_bp
    from .api import interview as _api_interview  # noqa: F401  (POST /api/v1/envelopes, on api_bp)
    from .api import replies as _api_replies  # noqa: F401  (POST /api/v1/envelopes/<id>/replies, on api_bp)
    from .api.views import bp as api_bp
    from .cli import register_cli
    from .followup.views import bp as followup_bp
    from .report import upload as _upload  # noqa: F401  (POST /<lang>/sealed, on report_bp)
    from .report.views import bp as report_bp

    app.register_blueprint(report_bp)
    app.register_blueprint(followup_bp)
    app.register_blueprint(abuse_bp)
    app.register_blueprint(api_bp)
    csrf.exempt(api_bp)  # bearer-token API: no cookies, so no CSRF
    # The report form and the follow-up pages check their CSRF token
    # themselves (FlaskForm), so that an expired token re-shows the page
    # with everything the reporter typed instead of a bare error page.
    csrf.exempt(report_bp)
    csrf.exempt(followup_bp)
    register_cli(app)

    from core.keyset import PATH as KEYSET_PATH

    from .keyset import keyset_document

    @app.get(KEYSET_PATH)
    def keyset() -> Response:
        """The recipient keys the form offers, as JSON (intake/keyset.py)."""
        return jsonify(keyset_document(app.extensions["intake.keyring"]))

    @app.get("/healthz")
    def healthz() -> tuple[str, int, dict[str, str]]:
        return "ok\n", 200, {"Content-Type": "text/plain; charset=utf-8"}

    return app
