"""Mandatory second factor (TOTP, WebAuthn), enrolment, recovery, session
rotation, idle and absolute timeouts, lockout with backoff."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select, update

from admin.auth import accounts
from admin.extensions import DB_EXTENSION
from admin.models import LoginSession, User, WebAuthnCredential
from tests.admin.admin_testlib import PASSWORD, AuthActions, SoftAuthenticator, totp_code


def _user(app: Flask, email: str) -> User:
    with app.extensions[DB_EXTENSION].session() as session:
        user = accounts.find_user(session, email)
        assert user is not None
        return user


def _post_json(client: FlaskClient, url: str, body: object = None) -> object:
    response = client.post(url, json=body or {})
    assert response.status_code == 200, (response.status_code, response.data[:200])
    return response.get_json()


# --------------------------------------------------------------------------
# TOTP


def test_totp_one_use_per_code_and_one_step_either_side() -> None:
    user = User(id=7, email="a@example.org", password_hash="x", role="reviewer", active=True)
    secret = accounts.new_totp_secret()
    user.totp_secret_ct = accounts.encrypt_totp_secret("k", 7, secret)
    user.totp_last_step = 0
    now = 1_800_000_000.0
    step = int(now) // 30
    assert not accounts.verify_totp(user, totp_code(secret, step - 2), "k", now)  # too old
    assert not accounts.verify_totp(user, totp_code(secret, step + 2), "k", now)  # too new
    assert accounts.verify_totp(user, totp_code(secret, step - 1), "k", now)
    assert not accounts.verify_totp(user, totp_code(secret, step - 1), "k", now)  # used
    assert accounts.verify_totp(user, totp_code(secret, step + 1), "k", now)
    # After step + 1, the current step's code is older: refused too.
    assert not accounts.verify_totp(user, totp_code(secret, step), "k", now)
    assert not accounts.verify_totp(user, "12345", "k", now)
    assert not accounts.verify_totp(user, totp_code(secret, step + 1), "another secret key", now + 30)


def test_totp_secret_not_stored_in_clear(console_app: Flask, auth: AuthActions) -> None:
    email = auth.create("reviewer")
    stored = _user(console_app, email).totp_secret_ct
    assert stored is not None
    assert auth.secrets[email].encode() not in stored


def test_reused_code_is_refused_at_login(console_client: FlaskClient, auth: AuthActions) -> None:
    email = auth.create("reviewer")
    auth.login(email)
    code = auth.next_code(email)
    assert console_client.post("/login/totp", data={"code": code}).headers["Location"].endswith("/")
    auth.logout()
    auth.login(email)
    again = console_client.post("/login/totp", data={"code": code}, follow_redirects=True)
    assert b"was used already" in again.data
    assert console_client.get("/").status_code == 302


def test_first_login_enrols_totp(console_app: Flask, console_client: FlaskClient, auth: AuthActions) -> None:
    email = auth.create("reviewer", totp=False)
    response = auth.login(email)
    assert response.headers["Location"].endswith("/login/enrol")
    assert console_client.get("/").status_code == 302
    assert console_client.get("/login/second-factor").headers["Location"].endswith("/login/enrol")
    page = console_client.get("/login/enrol/totp").get_data(as_text=True)
    with console_client.session_transaction() as sess:
        sealed = base64.b64decode(sess["totp_enrol_secret"])
    # The secret being enrolled travels sealed in the signed (readable) cookie.
    opened = accounts.decrypt_totp_secret(
        console_app.config["SECRET_KEY"], _user(console_app, email).id, sealed
    )
    assert opened is not None
    secret = opened
    assert secret.encode() not in sealed
    assert "otpauth://totp/" in page
    wrong = console_client.post("/login/enrol/totp", data={"code": "000000"})
    assert wrong.status_code == 200 and console_client.get("/").status_code == 302
    done = console_client.post("/login/enrol/totp", data={"code": pyotp.TOTP(secret).now()})
    assert done.headers["Location"].endswith("/")
    assert console_client.get("/").status_code == 200
    assert _user(console_app, email).totp_secret_ct is not None
    # A later login asks for the code; the enrolment page is closed.
    auth.logout()
    auth.secrets[email] = secret
    assert auth.login(email).headers["Location"].endswith("/login/second-factor")
    assert console_client.get("/login/enrol/totp").status_code == 302


def test_second_factor_step_expires(make_console: Callable[..., Flask]) -> None:
    app = make_console(SECOND_FACTOR_TIMEOUT=60)
    client = app.test_client()
    auth = AuthActions(app, client)
    email = auth.create("reviewer")
    auth.login(email)
    with client.session_transaction() as sess:
        sess["pending_at"] = time.time() - 61
    response = client.post("/login/totp", data={"code": auth.next_code(email)})
    assert response.headers["Location"].endswith("/login")
    assert client.get("/").status_code == 302


def test_reset_second_factor_command(
    console_app: Flask, console_client: FlaskClient, console_runner: FlaskCliRunner, auth: AuthActions
) -> None:
    email = auth.login_as("reviewer")
    result = console_runner.invoke(args=["users", "reset-2fa", email])
    assert result.exit_code == 0, result.output
    assert _user(console_app, email).totp_secret_ct is None
    assert console_client.get("/").status_code == 302  # its sessions ended
    assert auth.login(email).headers["Location"].endswith("/login/enrol")
    missing = console_runner.invoke(args=["users", "reset-2fa", "nobody@example.org"])
    assert missing.exit_code == 1


# --------------------------------------------------------------------------
# WebAuthn


def _register(client: FlaskClient, key: SoftAuthenticator) -> dict[str, object]:
    options = _post_json(client, "/webauthn/register/options")
    assert isinstance(options, dict)
    response = client.post(
        "/webauthn/register/verify", json={"name": "blue key", "credential": key.create(options)}
    )
    return {"status": response.status_code, "json": response.get_json()}


def test_webauthn_enrol_then_login(
    console_app: Flask, console_client: FlaskClient, auth: AuthActions
) -> None:
    email = auth.create("reviewer", totp=False)
    key = SoftAuthenticator()
    auth.login(email)
    registered = _register(console_client, key)
    assert registered["status"] == 200
    assert registered["json"] == {"redirect": "/"}
    assert console_client.get("/").status_code == 200
    with console_app.extensions[DB_EXTENSION].session() as session:
        stored = session.scalars(select(WebAuthnCredential)).one()
        assert stored.credential_id == key.credential_id and stored.name == "blue key"

    auth.logout()
    assert auth.login(email).headers["Location"].endswith("/login/second-factor")
    page = console_client.get("/login/second-factor").get_data(as_text=True)
    assert 'id="webauthn-login"' in page and "/static/webauthn." in page and "<script>" not in page
    options = _post_json(console_client, "/login/webauthn/options")
    assert isinstance(options, dict)
    response = console_client.post("/login/webauthn/verify", json=key.get(options))
    assert response.status_code == 200 and response.get_json() == {"redirect": "/"}
    assert console_client.get("/").status_code == 200


def _back_at_the_key_step(console_client: FlaskClient, auth: AuthActions) -> SoftAuthenticator:
    """A reviewer with a registered security key (and no TOTP), logged out
    and back in with the password: at the security-key step. Returns the key."""
    email = auth.create("reviewer", totp=False)
    key = SoftAuthenticator()
    auth.login(email)
    assert _register(console_client, key)["status"] == 200
    auth.logout()
    auth.login(email)
    return key


def test_webauthn_refuses_a_phishing_origin_and_a_replay(
    console_client: FlaskClient, auth: AuthActions
) -> None:
    key = _back_at_the_key_step(console_client, auth)
    options = _post_json(console_client, "/login/webauthn/options")
    assert isinstance(options, dict)
    phished = console_client.post(
        "/login/webauthn/verify", json=key.get(options, origin="https://console-login.example")
    )
    assert phished.status_code == 400
    assert console_client.get("/").status_code == 302

    # A good answer to a challenge already spent is refused (one use).
    replay = console_client.post("/login/webauthn/verify", json=key.get(options))
    assert replay.status_code == 403
    assert console_client.get("/").status_code == 302


def test_webauthn_answer_nested_thousands_deep_is_a_400(
    console_client: FlaskClient, auth: AuthActions
) -> None:
    _back_at_the_key_step(console_client, auth)
    _post_json(console_client, "/login/webauthn/options")
    deep = console_client.post("/login/webauthn/verify", data=b"[" * 100_000, content_type="application/json")
    assert deep.status_code == 400
    assert console_client.get("/").status_code == 302


def test_password_alone_cannot_add_a_key_to_an_enrolled_account(
    console_client: FlaskClient, auth: AuthActions
) -> None:
    email = auth.create("reviewer")  # has TOTP
    auth.login(email)
    assert console_client.post("/webauthn/register/options", json={}).status_code == 403
    assert console_client.get("/login/enrol").status_code == 302


def test_logged_in_account_adds_a_key(
    console_app: Flask, console_client: FlaskClient, auth: AuthActions
) -> None:
    auth.login_as("reviewer")
    key = SoftAuthenticator()
    registered = _register(console_client, key)
    assert registered["status"] == 200 and registered["json"] == {"redirect": "/account"}
    assert b"blue key" in console_client.get("/account").data
    # The same key twice is refused.
    assert _register(console_client, key)["status"] == 400


def test_static_webauthn_script_is_same_origin_and_csp_allows_only_self(console_client: FlaskClient) -> None:
    with console_client.get("/static/webauthn.js") as script:
        assert script.status_code == 200
        assert b"navigator.credentials" in script.data
    csp = console_client.get("/login").headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp


# --------------------------------------------------------------------------
# Sessions


def test_login_rotates_the_session(console_client: FlaskClient, auth: AuthActions) -> None:
    email = auth.create("reviewer")
    auth.login(email)
    with console_client.session_transaction() as sess:
        assert "pending_user" in sess and "sid" not in sess
    auth.second_factor(email)
    with console_client.session_transaction() as sess:
        first = sess["sid"]
        assert "pending_user" not in sess
    auth.logout()
    auth.full_login(email)
    with console_client.session_transaction() as sess:
        assert sess["sid"] != first


def test_logout_kills_a_copied_cookie(console_app: Flask, auth: AuthActions) -> None:
    client = console_app.test_client()
    auth = AuthActions(console_app, client)
    auth.login_as("reviewer")
    cookie = client.get_cookie("tnr_console_session")
    assert cookie is not None
    auth.logout()
    thief = console_app.test_client()
    thief.set_cookie("tnr_console_session", cookie.value)
    assert thief.get("/").status_code == 302


@pytest.mark.parametrize("column", ["last_seen", "created_at"])
def test_idle_and_absolute_timeouts(make_console: Callable[..., Flask], column: str) -> None:
    app = make_console(SESSION_IDLE_TIMEOUT=600, SESSION_ABSOLUTE_LIFETIME=3600)
    client = app.test_client()
    auth = AuthActions(app, client)
    auth.login_as("reviewer")
    assert client.get("/").status_code == 200
    age = 601 if column == "last_seen" else 3601
    with app.extensions[DB_EXTENSION].session() as session:
        session.execute(update(LoginSession).values({column: int(time.time()) - age}))
    response = client.get("/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert client.get("/").status_code == 302


# --------------------------------------------------------------------------
# Lockout


def test_backoff_doubles_up_to_the_cap() -> None:
    user = User(email="a@example.org", password_hash="x", role="reviewer", active=True, failed_logins=0)
    pauses = []
    for _ in range(9):
        accounts.record_failure(user, max_failures=5, base=60, cap=600, now=1000)
        pauses.append(accounts.locked_for(user, now=1000))
    assert pauses == [0, 0, 0, 0, 60, 120, 240, 480, 600]
    accounts.record_success(user)
    assert accounts.locked_for(user, now=1000) == 0 and user.failed_logins == 0


def test_lockout_refuses_even_the_right_password(
    console_app: Flask, console_client: FlaskClient, auth: AuthActions
) -> None:
    email = auth.create("reviewer")
    for _ in range(5):
        assert b"Wrong e-mail or password." in auth.login(email, "wrong password, long enough").data
    locked = auth.login(email, PASSWORD)
    assert locked.status_code == 200 and b"Wrong e-mail or password." in locked.data
    # Tries while paused neither count nor lengthen the pause.
    paused = accounts.locked_for(_user(console_app, email))
    for _ in range(3):
        auth.login(email, "wrong password, long enough")
    assert _user(console_app, email).failed_logins == 5
    assert accounts.locked_for(_user(console_app, email)) <= paused
    with console_app.extensions[DB_EXTENSION].session() as session:
        session.execute(update(User).values(locked_until=int(time.time()) - 1))
    assert auth.login(email).headers["Location"].endswith("/login/second-factor")


def test_wrong_codes_count_towards_lockout(make_console: Callable[..., Flask]) -> None:
    app = make_console(LOGIN_MAX_FAILURES=3)
    client = app.test_client()
    auth = AuthActions(app, client)
    email = auth.create("reviewer")
    auth.login(email)
    for _ in range(3):
        client.post("/login/totp", data={"code": "000000"})
    # Paused now: the pending login is gone and the right code does nothing.
    response = client.post("/login/totp", data={"code": auth.next_code(email)})
    assert response.headers["Location"].endswith("/login")
    assert client.get("/").status_code == 302
    assert json.dumps(accounts.locked_for(_user(app, email))) != "0"
