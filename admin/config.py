"""Settings of the console, loaded by the loader both apps share
(:func:`core.settings.load_settings`); every one is in docs/settings.md.

Order (later wins): :data:`DEFAULTS`, ``instance/admin.cfg`` (optional),
``ADMIN_*`` environment variables (``ADMIN_DATA_DIR`` → ``DATA_DIR``; values
are parsed as JSON when they can be, so ``ADMIN_SESSION_COOKIE_SECURE=false``
is the boolean), then the mapping given to :func:`admin.create_app`.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Flask

from core.settings import load_settings

DEFAULTS: dict[str, Any] = {
    # Everything the console keeps: database, private keys, blobs, secret key.
    "DATA_DIR": "data/admin",
    # Default: sqlite:///<DATA_DIR>/console.db
    "DATABASE_URL": None,
    # Default: generated into DATA_DIR/secret_key (mode 0600) on first start.
    "SECRET_KEY": None,
    # Run the database migrations when the app starts.
    "AUTO_MIGRATE": True,
    # Reviewer API of the intake.
    "INTAKE_URL": None,
    "INTAKE_TOKEN": None,
    # Seconds to connect to the intake and between bytes of its answers.
    "INTAKE_TIMEOUT": 30,
    # Envelopes the console asks the intake for in one page of a sync.
    "SYNC_PAGE_SIZE": 500,
    # What one sync may cost (admin/sync/run.py, SyncLimits): bytes one envelope
    # may declare (larger: quarantined, not downloaded; at most half of
    # SYNC_MAX_BYTES), attachment bytes one sync writes, seconds it runs.
    "SYNC_MAX_ENVELOPE_BYTES": 256 * 1024 * 1024,
    "SYNC_MAX_BYTES": 4 * 1024 * 1024 * 1024,
    "SYNC_DEADLINE": 1800,
    # Seconds one page of the intake's reviewer API may take to arrive in
    # full, however slowly it trickles (admin/sync/run.py).
    "INTAKE_PAGE_DEADLINE": 600,
    # The intake's address reporters use (https or onion), shown on an
    # interview's receipt page as where to check it; None: not shown.
    "INTAKE_PUBLIC_URL": None,
    # The watch from the trusted side (admin/sync/watch.py, `intake check`): the
    # address reporters use (None: INTAKE_URL), an optional proxy such as
    # Tor ("socks5h://127.0.0.1:9050", needs the [tor] extra), and whether
    # every sync runs the check too.
    "INTAKE_CHECK_URL": None,
    "INTAKE_CHECK_PROXY": None,
    "INTAKE_CHECK_ON_SYNC": True,
    # Seconds the Sync button waits for the sync to finish before it shows
    # the status page, which refreshes itself until the sync is done.
    "SYNC_WAIT": 5,
    # Argon2id cost of new private key files and password hashes
    # ({"memory_kib", "iterations", "lanes"}); None: RFC 9106 64 MiB, t=3, p=4.
    "ARGON2ID": None,
    # Seconds without use after which the unlocked key locks itself (0: never).
    "KEY_IDLE_TIMEOUT": 900,
    # Cases one inbox page lists.
    "CASES_PER_PAGE": 50,
    # True only for a console on http://127.0.0.1 (the demo, development):
    # without it (and without TESTING) the console refuses to start unless
    # WEBAUTHN_RP_ID, WEBAUTHN_ORIGIN (https) and Secure cookies are set.
    "DEVELOPMENT": False,
    # None: Secure unless TESTING. Set False only for plain http on 127.0.0.1
    # (with DEVELOPMENT): in production it must stay Secure.
    "SESSION_COOKIE_SECURE": None,
    # The session cookie: no script reads it, no other site sends it.
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Strict",
    "SESSION_COOKIE_NAME": "tnr_console_session",
    "PERMANENT_SESSION_LIFETIME": timedelta(hours=8),
    # The console's language when the browser asks for none we have.
    "BABEL_DEFAULT_LOCALE": "en",
    # The console's catalogs (fr, zh_Hant; admin/i18n.py), ";"-separated, a
    # later one winning: the reporter pages' first, for the labels of the
    # report fields the interview form shares with the public form
    # (core/schema/fields.py), then the console's own.
    "BABEL_TRANSLATION_DIRECTORIES": ";".join(
        str(Path(__file__).resolve().parent.parent / app / "translations") for app in ("intake", "admin")
    ),
    # Host names served, e.g. "console.example.org"; any other gets 400. None: any (the demo).
    "TRUSTED_HOSTS": None,
    # Seconds of Strict-Transport-Security on the console (0: none).
    "HSTS_MAX_AGE": 0,
    # Login answers take at least this many seconds, whatever happened, so
    # their timing does not tell which accounts exist (above one Argon2id).
    "LOGIN_TIME_FLOOR": 1.0,
    # Smallest count a briefing table prints (its k) unless the form asks
    # for another; cells below it are suppressed.
    "BRIEFING_MIN_CELL": 5,
    # Bytes one interview form post may have, files included; None: 64 MiB
    # (admin/interview/views.py).
    "INTERVIEW_MAX_CONTENT_LENGTH": None,
    # --- login, second factor, audit ---
    # Seconds a logged-in session may stay unused, and may last at most.
    "SESSION_IDLE_TIMEOUT": 30 * 60,
    "SESSION_ABSOLUTE_LIFETIME": 8 * 3600,
    # Seconds between the password and the second factor.
    "SECOND_FACTOR_TIMEOUT": 5 * 60,
    # Failed logins before an account pauses; the pause doubles from BASE
    # seconds with each further failure, up to MAX.
    "LOGIN_MAX_FAILURES": 5,
    "LOGIN_LOCKOUT_BASE": 60,
    "LOGIN_LOCKOUT_MAX": 3600,
    # Days a browser stays known to an account after a full login there:
    # its failures pause only its own counter (docs/console.md, "Lockout").
    "LOGIN_DEVICE_DAYS": 180,
    # WebAuthn relying party, required in production (e.g. "console.example"
    # and "https://console.example"); None is allowed only with DEVELOPMENT
    # or TESTING, and then taken from the request's host.
    "WEBAUTHN_RP_ID": None,
    "WEBAUTHN_ORIGIN": None,
    # The console's name on security keys and in authenticator apps.
    "WEBAUTHN_RP_NAME": "TNR Intake console",
    "TOTP_ISSUER": "TNR Intake console",
    # Form posts only (no uploads but the interview form, admin/interview/views.py):
    # 1 MiB holds the longest note or reply even in Chinese, which a form post
    # percent-encodes at 9 bytes a character.
    "MAX_CONTENT_LENGTH": 1024 * 1024,
    # --- replies ---
    # The name a reporter sees on a reply ("From …"), in the report's
    # language (a language tag of the form → name; "en" is the fallback),
    # or one name for all. Set it to the organization's public name.
    "REPLY_FROM": {
        "en": "Coalition reviewers",
        "fr": "L'équipe d'analyse de la coalition",
        "zh-Hant": "聯盟審閱人員",
        "zh-Hans": "联盟审阅人员",
    },
    # --- briefing notes (docs/briefings.md, "Briefing-note form") ---
    # Security marking at the head and foot of every page of a briefing note.
    "BRIEFING_CLASSIFICATION": "UNCLASSIFIED / NON CLASSIFIÉ",
    # Issuing organization(s): a name, a list, or {"en": …, "fr": …}; None: REPLY_FROM.
    "BRIEFING_ISSUED_BY": None,
    # Contact person printed under the title (same forms); None: none, and the command warns.
    "BRIEFING_CONTACT": None,
    # --- retention ---
    # Days a case stays after it was closed; then `flask --app admin purge`
    # removes it here and asks the intake to delete its envelope. 0: forever.
    "RETENTION_DAYS_CLOSED": 365,
    # --- the daily digest (`flask --app admin digest`, admin/operations/digest.py).
    # No host: the digest is off. STARTTLS is required unless set false.
    "SMTP_HOST": None,
    "SMTP_PORT": 587,
    "SMTP_USER": None,
    "SMTP_PASSWORD": None,
    "SMTP_FROM": None,
    "SMTP_STARTTLS": True,
    "SMTP_TIMEOUT": 30,
    # --- attachments: memory of image decoding (admin/attachments/sanitize.py) ---
    # MiB of decoded pixels one console process holds at once (previews,
    # redacted copies); an image that alone needs more is refused.
    "IMAGE_MEMORY_BUDGET": 384,
    # Image decodes running at once in one process.
    "IMAGE_DECODES": 2,
    # Seconds a decode waits for room in the budget before "busy, try again".
    "IMAGE_DECODE_WAIT": 30,
}

SECRET_KEY_FILE = "secret_key"  # noqa: S105 (a file name, not a secret)


def load(app: Flask, config: Any = None) -> None:
    """Fill ``app.config`` in the documented order, then derive what was
    left unset (data dir, database URL, secret key, cookie security)."""
    load_settings(app, "ADMIN", DEFAULTS, config)
    finish(app)


def finish(app: Flask) -> None:
    """Derive the settings left unset; creates ``DATA_DIR`` (mode 0700)."""
    cfg = app.config
    data_dir = Path(str(cfg["DATA_DIR"])).expanduser().resolve()
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    cfg["DATA_DIR"] = str(data_dir)
    if not cfg.get("DATABASE_URL"):
        cfg["DATABASE_URL"] = f"sqlite:///{data_dir / 'console.db'}"
    if not cfg.get("SECRET_KEY"):
        cfg["SECRET_KEY"] = _secret_key(data_dir / SECRET_KEY_FILE)
    if cfg.get("SESSION_COOKIE_SECURE") is None:
        cfg["SESSION_COOKIE_SECURE"] = not cfg.get("TESTING", False)
    # from_prefixed_env parses JSON: a numeric token would become an int.
    for key in (
        "INTAKE_URL",
        "INTAKE_TOKEN",
        "INTAKE_CHECK_URL",
        "INTAKE_CHECK_PROXY",
        "SMTP_HOST",
        "SMTP_USER",
        "SMTP_PASSWORD",
        "SMTP_FROM",
    ):
        if cfg.get(key) is not None:
            cfg[key] = str(cfg[key])


class ProductionSettingsError(RuntimeError):
    """The console was started for production without the settings that
    bind its logins to its real address (the message names them)."""


def check_production(cfg: Mapping[str, Any]) -> None:
    """Refuse a production start without ``WEBAUTHN_RP_ID``, an https
    ``WEBAUTHN_ORIGIN`` on that RP ID, and Secure session cookies.

    Why: left unset, the WebAuthn relying party would come from the
    request's ``Host`` header, which whoever reaches the console (or a
    misconfigured proxy) chooses; and a session cookie without ``Secure``
    would travel in clear on any plain-http request to the console's name.
    Production is every start without ``TESTING`` or ``DEVELOPMENT``; the
    app factory checks when it serves pages (not for ``flask --app admin``
    commands, which use neither WebAuthn nor cookies).

    Raises:
        ProductionSettingsError: naming each missing or wrong setting.
    """
    if cfg.get("TESTING") or cfg.get("DEVELOPMENT"):
        return
    problems = []
    rp_id = cfg.get("WEBAUTHN_RP_ID")
    origin = cfg.get("WEBAUTHN_ORIGIN")
    if not isinstance(rp_id, str) or not rp_id.strip():
        problems.append('ADMIN_WEBAUTHN_RP_ID is not set (the host name, e.g. "console.example.org")')
    if not isinstance(origin, str) or not origin.strip():
        problems.append('ADMIN_WEBAUTHN_ORIGIN is not set (e.g. "https://console.example.org")')
    else:
        parsed = urlsplit(origin)
        host = (parsed.hostname or "").lower()
        if parsed.scheme != "https" or not host or parsed.path not in ("", "/") or parsed.query:
            problems.append("ADMIN_WEBAUTHN_ORIGIN must be https://<host>[:port], with no path")
        elif isinstance(rp_id, str) and rp_id.strip():
            rp = rp_id.strip().lower()
            if host != rp and not host.endswith("." + rp):
                problems.append("ADMIN_WEBAUTHN_ORIGIN's host must be ADMIN_WEBAUTHN_RP_ID or under it")
    if cfg.get("SESSION_COOKIE_SECURE") is not True:
        problems.append("ADMIN_SESSION_COOKIE_SECURE must be true (the console is served over HTTPS)")
    if problems:
        raise ProductionSettingsError(
            "The console refuses to start without its production settings "
            "(docs/deployment.md, 'Console settings'):\n  - "
            + "\n  - ".join(problems)
            + "\nOnly for a console on http://127.0.0.1 (demo, development): ADMIN_DEVELOPMENT=true."
        )


def _secret_key(path: Path) -> str:
    try:
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        pass
    key = secrets.token_hex(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another worker made it first
        return path.read_text(encoding="ascii").strip()
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(key + "\n")
    return key
