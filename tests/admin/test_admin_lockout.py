"""Lockout that a stranger cannot hold: failed logins from a browser that
never logged in to the account pause only such browsers; the reviewer's own
browser (a signed device token from an earlier full login) keeps its own
count. Over real HTTP against a threaded server."""

from __future__ import annotations

import time

import pytest
import requests
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import select

from admin.auth import accounts, devices
from admin.extensions import DB_EXTENSION
from tests.admin.admin_testlib import PASSWORD, AuthActions, totp_code

WRONG = "wrong password, long enough"


@pytest.fixture
def base(console_url: str) -> str:
    """The console over real HTTP (conftest ``console_url``)."""
    return console_url


def _password(browser: requests.Session, base: str, email: str, password: str) -> str:
    """Post the password form; where it leads ("" when it stays on the form)."""
    response = browser.post(
        f"{base}/login", data={"email": email, "password": password}, allow_redirects=False, timeout=30
    )
    return str(response.headers.get("Location", "")) if response.status_code == 302 else ""


def _full_login(browser: requests.Session, base: str, email: str, secret: str, step: int) -> bool:
    if not _password(browser, base, email, PASSWORD).endswith("/login/second-factor"):
        return False
    response = browser.post(
        f"{base}/login/totp", data={"code": totp_code(secret, step)}, allow_redirects=False, timeout=30
    )
    return str(response.headers.get("Location", "")).endswith("/")


def test_a_stranger_cannot_keep_the_reviewer_out(console_app: Flask, auth: AuthActions, base: str) -> None:
    email = auth.create("reviewer")
    secret = auth.secrets[email]
    step = int(time.time()) // accounts.TOTP_STEP
    own = requests.Session()
    assert _full_login(own, base, email, secret, step)
    assert devices.COOKIE in own.cookies
    own.post(f"{base}/logout", timeout=30)

    # A stranger who knows the e-mail keeps guessing.
    stranger = requests.Session()
    for _ in range(12):
        assert _password(stranger, base, email, WRONG) == ""
    # Paused for the stranger's browser (and any other new one): even the
    # right password is refused there, so guessing stays throttled.
    assert _password(stranger, base, email, PASSWORD) == ""
    assert _password(requests.Session(), base, email, PASSWORD) == ""
    # A device cookie the console did not sign counts for nothing.
    forged = requests.Session()
    forged.cookies.set(devices.COOKIE, own.cookies[devices.COOKIE][:-4] + "AAAA")
    assert _password(forged, base, email, PASSWORD) == ""

    # The reviewer's own browser logs in as usual.
    assert _full_login(own, base, email, secret, step + 1)


def test_guesses_from_the_reviewers_browser_pause_it_too(
    console_app: Flask, auth: AuthActions, base: str
) -> None:
    """The known browser is not a way around the pause: its own failures
    count, with the same backoff, and its pause leaves other browsers'
    count alone."""
    email = auth.create("reviewer")
    step = int(time.time()) // accounts.TOTP_STEP
    own = requests.Session()
    assert _full_login(own, base, email, auth.secrets[email], step)
    own.post(f"{base}/logout", timeout=30)
    for _ in range(int(console_app.config["LOGIN_MAX_FAILURES"])):
        assert _password(own, base, email, WRONG) == ""
    assert _password(own, base, email, PASSWORD) == ""  # paused
    with console_app.extensions[DB_EXTENSION].session() as session:
        user = accounts.find_user(session, email)
        assert user is not None
        assert accounts.locked_for(user, known_device=True) > 0
        assert accounts.locked_for(user, known_device=False) == 0
    assert _password(requests.Session(), base, email, PASSWORD).endswith("/login/second-factor")


def test_a_new_password_forgets_the_known_browsers(console_app: Flask, auth: AuthActions, base: str) -> None:
    email = auth.create("reviewer")
    own = requests.Session()
    assert _full_login(own, base, email, auth.secrets[email], int(time.time()) // accounts.TOTP_STEP)
    with console_app.extensions[DB_EXTENSION].session() as session:
        user = accounts.find_user(session, email)
        assert user is not None
        user.password_hash = accounts.hash_password(PASSWORD, console_app.config["ARGON2ID"])
    own.post(f"{base}/logout", timeout=30)
    for _ in range(int(console_app.config["LOGIN_MAX_FAILURES"])):
        _password(requests.Session(), base, email, WRONG)
    assert _password(own, base, email, PASSWORD) == ""  # a stranger's pause applies again


def test_an_admin_can_clear_a_pause_from_the_command_line(
    console_app: Flask, auth: AuthActions, base: str, console_runner: FlaskCliRunner
) -> None:
    """For a reviewer on a new browser while a stranger keeps its pause:
    ``users unpause`` clears it (audited); the password and second factor
    are asked as always."""
    email = auth.create("reviewer")
    for _ in range(int(console_app.config["LOGIN_MAX_FAILURES"])):
        _password(requests.Session(), base, email, WRONG)
    assert _password(requests.Session(), base, email, PASSWORD) == ""
    result = console_runner.invoke(args=["users", "unpause", email])
    assert result.exit_code == 0, result.output
    assert _full_login(
        requests.Session(), base, email, auth.secrets[email], int(time.time()) // accounts.TOTP_STEP
    )
    assert console_runner.invoke(args=["users", "unpause", "nobody@example.org"]).exit_code == 1
    with console_app.extensions[DB_EXTENSION].session() as session:
        from admin.models import AuditEntry

        assert session.scalars(select(AuditEntry.action).where(AuditEntry.action == "login.unpause")).all()
