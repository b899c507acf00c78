"""Login (password, then a mandatory second factor), enrolment, logout, and
the account page.

Flow: the password step stores only a *pending* account id and time in the
session; nothing but the second-factor endpoints accepts it. The second
factor (a security key or passkey through WebAuthn, or a TOTP code) calls
:func:`admin.auth.guard.start`, the one place an account is logged in. An
account without any second factor enrols one right after its password
(trust on first use: an admin creates the account and the reviewer logs in
soon after), and cannot reach anything else before.

Login always lands on the inbox (no ``next`` URL): no open redirect.
"""

from __future__ import annotations

import base64
import contextlib
import time
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import refresh
from flask_login import current_user
from werkzeug.wrappers import Response

from core.db import ROOT

from ..alarms import service as alarms
from ..audit import log as audit
from ..cases import triage
from ..extensions import db_session
from ..forms import ActionForm, LanguageForm, LoginForm, TotpForm, language_choices
from ..models import User
from . import accounts, devices, guard, passkeys

bp = Blueprint("auth", __name__, static_folder=str(ROOT / "static" / "admin"), static_url_path="/static")

_PENDING = "pending_user"
_PENDING_AT = "pending_at"
_ENROL_SECRET = "totp_enrol_secret"  # noqa: S105 (a session key name)
_CHALLENGE_LOGIN = "webauthn_login_challenge"
_CHALLENGE_REGISTER = "webauthn_register_challenge"


# --------------------------------------------------------------------------
# Helpers


def _pending_user() -> User | None:
    """The account that passed its password in this session and has not
    finished the second factor, if that was recently enough."""
    user_id, at = session.get(_PENDING), session.get(_PENDING_AT)
    if not isinstance(user_id, int) or not isinstance(at, int | float):
        return None
    if time.time() - at > float(current_app.config["SECOND_FACTOR_TIMEOUT"]):
        _drop_pending()
        return None
    user = db_session().get(User, user_id)
    if user is None or not user.active or accounts.locked_for(user, known_device=devices.is_known(user)):
        _drop_pending()
        return None
    return user


def _drop_pending() -> None:
    for key in (_PENDING, _PENDING_AT, _ENROL_SECRET, _CHALLENGE_LOGIN, _CHALLENGE_REGISTER):
        session.pop(key, None)


def _fail(user: User, how: str) -> None:
    """Count a failure (lockout with backoff, on the counter of this kind
    of browser: admin/auth/accounts.py, "Lockout") and audit it; commits."""
    cfg = current_app.config
    known = devices.is_known(user)
    accounts.record_failure(
        user,
        max_failures=int(cfg["LOGIN_MAX_FAILURES"]),
        base=int(cfg["LOGIN_LOCKOUT_BASE"]),
        cap=int(cfg["LOGIN_LOCKOUT_MAX"]),
        known_device=known,
        session=db_session(),
    )
    detail = f"{how} known-browser" if known else how
    audit.record(db_session(), user.email, audit.Action.LOGIN_FAILED, str(user.id), detail)
    db_session().commit()


#: Alarm kind of a security key whose signature counter went back.
ALARM_POSSIBLE_CLONE = "webauthn.possible_clone"


def _possible_clone(user: User, exc: passkeys.ClonedKeyError) -> None:
    """Audit a security key answering with a counter that went back
    (``second_factor.possible_clone``, distinct from a failed login) and
    raise an alarm, which every coordinator sees until one acknowledges it;
    the caller's :func:`_fail` commits both. Names the account and the
    key's id and the counters (the console's own records), never the
    key's name, which its owner typed."""
    db = db_session()
    detail = f"webauthn key {exc.key.id} counter {exc.received} after {exc.stored}"
    audit.record(db, user.email, audit.Action.SECOND_FACTOR_POSSIBLE_CLONE, str(user.id), detail)
    alarms.raise_alarm(
        db,
        ALARM_POSSIBLE_CLONE,
        f"security key {exc.key.id} of {user.email} answered with signature counter "
        f"{exc.received} after {exc.stored}: a copy of the key may be in use",
    )


def _finish(user: User, how: str) -> None:
    """The one place an account is logged in: new session, reset failures,
    audit; commits."""
    db = db_session()
    guard.start(db, user)
    accounts.record_success(user, known_device=devices.is_known(user))
    devices.remember(user)
    audit.record(db, user.email, audit.Action.LOGIN, str(user.id), how)
    db.commit()


def _registering_user() -> tuple[User, bool] | None:
    """Who may register a security key now: a logged-in account (adding a
    key; the guard's checks apply), or a pending account that has no second
    factor yet (enrolment). Never a pending account that has one: a
    password alone must not be able to add a key."""
    if current_user.is_authenticated:
        return (current_user, False) if guard.live() else None
    user = _pending_user()
    if user is None or accounts.has_second_factor(db_session(), user):
        return None
    return user, True


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(value: object) -> bytes | None:
    if not isinstance(value, str):
        return None
    try:
        return base64.b64decode(value, validate=True)
    except ValueError:
        return None


def _json_body() -> dict[str, Any]:
    try:
        body = request.get_json(silent=True)
    except RecursionError:  # JSON nested thousands deep: silent= covers ValueError only
        abort(400)
    if not isinstance(body, dict):
        abort(400)
    return body


# --------------------------------------------------------------------------
# Password step


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | str:
    """E-mail and password; then the second factor (or its enrolment)."""
    if current_user.is_authenticated:
        return redirect(url_for("inbox.index"))
    form = LoginForm()
    if form.validate_on_submit():
        db = db_session()
        known = accounts.find_user(db, form.email.data)
        user = accounts.authenticate(db, form.email.data, form.password.data, current_app.config["ARGON2ID"])
        known_browser = known is not None and devices.is_known(known)
        if user is not None and not accounts.locked_for(user, known_device=known_browser):
            session.clear()  # nothing carried over from before
            session[_PENDING] = user.id
            session[_PENDING_AT] = time.time()
            if accounts.has_second_factor(db, user):
                return redirect(url_for("auth.second_factor"))
            return redirect(url_for("auth.enrol"))
        if known is not None and accounts.locked_for(known, known_device=known_browser):
            # Tried while paused: audited, not counted (the right password
            # then must not double the pause, and a stranger's tries cannot
            # stretch it). The password was still checked above, so the
            # answer takes as long as any other.
            audit.record(db, known.email, audit.Action.LOGIN_FAILED, str(known.id), "locked")
            db.commit()
        elif known is not None:
            _fail(known, "password")
        else:
            # Never the typed e-mail: it may be a password typed in the wrong box.
            audit.record(db, "anonymous", audit.Action.LOGIN_FAILED, None, "password")
            db.commit()
        # One message for unknown e-mail, wrong password and a paused
        # account: the page must not tell which accounts exist.
        flash(_("Wrong e-mail or password."), "error")
    return render_template("auth/login.html", form=form)


@bp.post("/login/cancel")
def cancel() -> Response:
    """Abandon a half-finished login."""
    _drop_pending()
    return redirect(url_for("auth.login"))


# --------------------------------------------------------------------------
# Second factor


@bp.get("/login/second-factor")
def second_factor() -> Response | str:
    """Security key button (WebAuthn) and, if enrolled, the TOTP form."""
    user = _pending_user()
    if user is None:
        return redirect(url_for("auth.login"))
    db = db_session()
    if not accounts.has_second_factor(db, user):
        return redirect(url_for("auth.enrol"))
    return render_template(
        "auth/second_factor.html",
        has_keys=bool(passkeys.credentials_of(db, user)),
        has_totp=user.totp_secret_ct is not None,
        form=TotpForm(),
        cancel_form=ActionForm(),
    )


@bp.post("/login/totp")
def totp_verify() -> Response:
    """Check a TOTP code (one use, ±1 step)."""
    user = _pending_user()
    if user is None:
        return redirect(url_for("auth.login"))
    form = TotpForm()
    # The step is consumed in the database (one conditional UPDATE): one
    # code sent in parallel logins lets exactly one in.
    if form.validate_on_submit() and accounts.verify_totp(
        user, form.code.data, current_app.config["SECRET_KEY"], session=db_session()
    ):
        _finish(user, "totp")
        return redirect(url_for("inbox.index"))
    _fail(user, "totp")
    flash(_("That code is not right, or was used already. Wait for the next one."), "error")
    return redirect(url_for("auth.second_factor"))


@bp.post("/login/webauthn/options")
def webauthn_login_options() -> Response:
    """``navigator.credentials.get`` options for the pending account."""
    user = _pending_user()
    if user is None:
        abort(403)
    options, challenge = passkeys.authentication_options(db_session(), user, passkeys.relying_party())
    session[_CHALLENGE_LOGIN] = _b64(challenge)
    return Response(options, mimetype="application/json")


@bp.post("/login/webauthn/verify")
def webauthn_login_verify() -> Response | tuple[Response, int]:
    """Check the security key's answer; JSON ``{"redirect": url}``."""
    user = _pending_user()
    challenge = _unb64(session.pop(_CHALLENGE_LOGIN, None))
    if user is None or challenge is None:
        abort(403)
    try:
        passkeys.authenticate(db_session(), user, _json_body(), challenge, passkeys.relying_party())
    except passkeys.ClonedKeyError as exc:
        db_session().rollback()
        _possible_clone(user, exc)
        _fail(user, "webauthn counter")
        return jsonify(
            error=_(
                "The security key was not accepted: its answer suggests that a copy of it is in use. "
                "Coordinators have been told. Log in with another key or your authenticator app."
            )
        ), 400
    except passkeys.PasskeyError:
        db_session().rollback()
        _fail(user, "webauthn")
        return jsonify(error=_("The security key was not accepted.")), 400
    _finish(user, "webauthn")
    return jsonify(redirect=url_for("inbox.index"))


# --------------------------------------------------------------------------
# Enrolment (first login) and adding keys


@bp.get("/login/enrol")
def enrol() -> Response | str:
    """Choose a second factor: a security key (recommended) or an app."""
    user = _pending_user()
    if user is None or accounts.has_second_factor(db_session(), user):
        return redirect(url_for("auth.login"))
    return render_template("auth/enrol.html", cancel_form=ActionForm())


@bp.route("/login/enrol/totp", methods=["GET", "POST"])
def enrol_totp() -> Response | str:
    """Show a new TOTP secret; store it once a code from the app matches."""
    user = _pending_user()
    if user is None or accounts.has_second_factor(db_session(), user):
        return redirect(url_for("auth.login"))
    # The session cookie is signed, not encrypted: the secret being enrolled
    # travels in it sealed (AES-256-GCM under a key from SECRET_KEY, bound to
    # the account), so a copied cookie does not give the codes away.
    secret_key = current_app.config["SECRET_KEY"]
    stored = session.get(_ENROL_SECRET)
    secret = None
    if isinstance(stored, str):
        with contextlib.suppress(ValueError):
            secret = accounts.decrypt_totp_secret(secret_key, user.id, base64.b64decode(stored))
    if secret is None:
        secret = accounts.new_totp_secret()
        session[_ENROL_SECRET] = base64.b64encode(
            accounts.encrypt_totp_secret(secret_key, user.id, secret)
        ).decode()
    form = TotpForm()
    if form.validate_on_submit():
        if accounts.enrol_totp(user, secret, form.code.data, current_app.config["SECRET_KEY"]):
            audit.record(db_session(), user.email, audit.Action.SECOND_FACTOR_ENROLLED, str(user.id), "totp")
            _finish(user, "totp-enrolment")
            return redirect(url_for("inbox.index"))
        flash(_("That code is not right. Check the app's clock and try the next code."), "error")
    return render_template(
        "auth/enrol_totp.html",
        form=form,
        secret=" ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
        uri=accounts.totp_uri(secret, user.email, str(current_app.config["TOTP_ISSUER"])),
    )


@bp.post("/webauthn/register/options")
def webauthn_register_options() -> Response:
    """``navigator.credentials.create`` options."""
    who = _registering_user()
    if who is None:
        abort(403)
    options, challenge = passkeys.registration_options(db_session(), who[0], passkeys.relying_party())
    session[_CHALLENGE_REGISTER] = _b64(challenge)
    return Response(options, mimetype="application/json")


@bp.post("/webauthn/register/verify")
def webauthn_register_verify() -> Response | tuple[Response, int]:
    """Store the new key; at enrolment this also completes the login."""
    who = _registering_user()
    challenge = _unb64(session.pop(_CHALLENGE_REGISTER, None))
    if who is None or challenge is None:
        abort(403)
    user, enrolling = who
    body = _json_body()
    db = db_session()
    try:
        key = passkeys.register(
            db,
            user,
            body.get("credential") or {},
            challenge,
            passkeys.relying_party(),
            str(body.get("name") or ""),
        )
    except passkeys.PasskeyError:
        db.rollback()
        return jsonify(error=_("The security key could not be registered.")), 400
    db.flush()
    audit.record(db, user.email, audit.Action.SECOND_FACTOR_ENROLLED, str(user.id), f"webauthn key {key.id}")
    if enrolling:
        _finish(user, "webauthn-enrolment")
        return jsonify(redirect=url_for("inbox.index"))
    db.commit()
    flash(_("The security key is registered."), "info")
    return jsonify(redirect=url_for("auth.account"))


# --------------------------------------------------------------------------
# Logged in


@bp.get("/account")
def account() -> str:
    """One's own account: role, second factors, add a security key, the
    console language."""
    language = LanguageForm(locale=current_user.locale or "")
    language.locale.choices = language_choices()
    return render_template(
        "auth/account.html",
        keys=passkeys.credentials_of(db_session(), current_user),
        has_totp=current_user.totp_secret_ct is not None,
        language_form=language,
    )


@bp.post("/account/language")
def account_language() -> Response:
    """Set one's own console language (audited); "" follows the browser."""
    form = LanguageForm()
    form.locale.choices = language_choices()
    if not form.validate():
        # Only a forged choice gets here: the select offers valid ones.
        flash(_("Choose one of the languages offered."), "error")
        return redirect(url_for("auth.account"))
    db = db_session()
    user = db.get(User, current_user.id)
    if user is None:  # the guard let a live account through: never, unless deleted meanwhile
        abort(403)
    chosen = form.locale.data or None
    if user.locale != chosen:
        user.locale = chosen
        audit.record(db, user.email, audit.Action.ACCOUNT_LANGUAGE, str(user.id), chosen or "browser")
        db.commit()
        # This page's flash is in the new language already.
        refresh()
    flash(_("Your console language is saved."), "info")
    return redirect(url_for("auth.account"))


@bp.post("/logout")
def logout() -> Response:
    """End the session (server side too). A POST, so CSRFProtect checks its
    token and no other page can log you out. The organization key stays as
    it is: it belongs to the console process, not to this account."""
    db = db_session()
    audit.record(db, current_user.email, audit.Action.LOGOUT, str(current_user.id))
    guard.end(db)
    db.commit()
    flash(_("You are logged out."), "info")
    return redirect(url_for("auth.login"))


@bp.get("/users")
def users() -> str:
    """Accounts and their second factors (admins). Recovery of a lost second
    factor is a command: ``flask --app admin users reset-2fa EMAIL``."""
    db = db_session()
    rows = [
        (u, accounts.has_second_factor(db, u), accounts.locked_for(u)) for u in triage.assignable_users(db)
    ]
    return render_template("auth/users.html", rows=rows)
