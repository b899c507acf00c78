"""Accounts, login, logout, roles, cookies, headers, CSRF."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from admin.auth import accounts
from admin.config import ProductionSettingsError
from admin.extensions import DB_EXTENSION
from admin.models import User
from tests.admin.admin_testlib import PASSWORD, AuthActions


def test_login_good_password_then_second_factor(console_client: FlaskClient, auth: AuthActions) -> None:
    email = auth.create("reviewer")
    response = auth.login(email)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/login/second-factor")
    assert console_client.get("/").status_code == 302  # the password alone opens nothing
    done = auth.second_factor(email)
    assert done.status_code == 302
    assert done.headers["Location"].endswith("/")
    page = console_client.get("/")
    assert page.status_code == 200
    assert email.encode() in page.data


@pytest.mark.parametrize("which", ["password", "email"])
def test_login_bad_credentials(console_client: FlaskClient, auth: AuthActions, which: str) -> None:
    email = auth.create("admin")
    if which == "password":
        response = auth.login(email, "wrong password, long enough")
    else:
        response = auth.login("nobody@example.org", PASSWORD)
    assert response.status_code == 200
    assert b"Wrong e-mail or password." in response.data
    assert console_client.get("/").status_code == 302  # still logged out


def test_email_is_case_insensitive(auth: AuthActions) -> None:
    email = auth.create("reviewer", email="Mixed.Case@Example.org")
    assert auth.login(email.upper()).status_code == 302


@pytest.mark.parametrize("path", ["/", "/keys/", "/cases/" + "0" * 32, "/no-such-page"])
def test_pages_require_login(console_client: FlaskClient, path: str) -> None:
    response = console_client.get(path)
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


@pytest.mark.parametrize("path", ["/sync", "/keys/unlock", "/keys/lock"])
def test_posts_require_login(console_client: FlaskClient, path: str) -> None:
    response = console_client.post(path, data={"passphrase": "x"})
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_logout(console_client: FlaskClient, auth: AuthActions) -> None:
    auth.login_as("reviewer")
    assert console_client.get("/").status_code == 200
    assert auth.logout().status_code == 302
    assert console_client.get("/").status_code == 302


def test_logout_is_post_only(console_client: FlaskClient, auth: AuthActions) -> None:
    auth.login_as("reviewer")
    assert console_client.get("/logout").status_code == 405
    assert console_client.get("/").status_code == 200


def test_password_stored_as_argon2id(console_app: Flask, auth: AuthActions) -> None:
    email = auth.create("reviewer")
    with console_app.app_context(), console_app.extensions[DB_EXTENSION].session() as session:
        user = session.scalars(select(User).where(User.email == email)).one()
        assert user.password_hash.startswith("$argon2id$v=19$m=1024,t=1,p=1$")
        assert PASSWORD not in user.password_hash


def test_create_user_refuses_bad_input(console_app: Flask) -> None:
    with console_app.app_context(), console_app.extensions[DB_EXTENSION].session() as session:
        with pytest.raises(accounts.AccountError, match="at least"):
            accounts.create_user(session, "a@example.org", "short", "reviewer")
        with pytest.raises(accounts.AccountError, match="role"):
            accounts.create_user(session, "a@example.org", PASSWORD, "root")
        with pytest.raises(accounts.AccountError, match="e-mail"):
            accounts.create_user(session, "not-an-address", PASSWORD, "reviewer")


def test_duplicate_email_refused(auth: AuthActions) -> None:
    email = auth.create("reviewer")
    with pytest.raises(accounts.AccountError, match="exists"):
        auth.create("admin", email=email)


def test_inactive_user_cannot_log_in(console_app: Flask, auth: AuthActions) -> None:
    email = auth.create("reviewer")
    with console_app.app_context(), console_app.extensions[DB_EXTENSION].session() as session:
        session.scalars(select(User).where(User.email == email)).one().active = False
    assert auth.login(email).status_code == 200


def test_session_cookie_flags(console_client: FlaskClient, auth: AuthActions) -> None:
    email = auth.create("reviewer")
    response = auth.login(email)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie


PRODUCTION = {
    "TESTING": False,
    "WEBAUTHN_RP_ID": "console.example.org",
    "WEBAUTHN_ORIGIN": "https://console.example.org",
}


def test_cookie_secure_by_default_outside_tests(make_console: Callable[..., Flask]) -> None:
    assert make_console(**PRODUCTION).config["SESSION_COOKIE_SECURE"] is True


def test_cookie_secure_can_be_turned_off_for_the_demo(
    make_console: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch
) -> None:
    demo = {"TESTING": False, "DEVELOPMENT": True}
    assert make_console(**demo, SESSION_COOKIE_SECURE=False).config["SESSION_COOKIE_SECURE"] is False
    monkeypatch.setenv("ADMIN_SESSION_COOKIE_SECURE", "false")
    monkeypatch.setenv("ADMIN_DEVELOPMENT", "true")
    app = make_console(TESTING=False)
    assert app.config["SESSION_COOKIE_SECURE"] is False


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"WEBAUTHN_RP_ID": None}, "ADMIN_WEBAUTHN_RP_ID is not set"),
        ({"WEBAUTHN_ORIGIN": None}, "ADMIN_WEBAUTHN_ORIGIN is not set"),
        ({"WEBAUTHN_ORIGIN": "http://console.example.org"}, "must be https://"),
        ({"WEBAUTHN_ORIGIN": "https://elsewhere.example.net"}, "must be ADMIN_WEBAUTHN_RP_ID or under it"),
        ({"SESSION_COOKIE_SECURE": False}, "ADMIN_SESSION_COOKIE_SECURE must be true"),
    ],
)
def test_production_start_needs_relying_party_and_secure_cookies(
    make_console: Callable[..., Flask], settings: dict[str, object], named: str
) -> None:
    """Outside tests and the demo, the console refuses to start rather than
    take the WebAuthn relying party from the request's Host header or send
    its session cookie without Secure; the message names the setting."""
    with pytest.raises(ProductionSettingsError, match=named):
        make_console(**{**PRODUCTION, **settings})
    # A subdomain of the RP ID is a valid origin.
    app = make_console(**{**PRODUCTION, "WEBAUTHN_ORIGIN": "https://reviewers.console.example.org:8443"})
    assert app.config["SESSION_COOKIE_SECURE"] is True


def test_security_headers(console_client: FlaskClient) -> None:
    response = console_client.get("/login")
    assert response.status_code == 200
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["Cache-Control"] == "no-store"
    # same-origin: behind HTTPS, Flask-WTF wants a same-origin Referer on
    # every post (tests/admin/test_admin_https.py); nothing goes elsewhere.
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert b'<html lang="en" dir="ltr">' in response.data


def test_csrf_enforced_when_enabled(make_console: Callable[..., Flask]) -> None:
    app = make_console(WTF_CSRF_ENABLED=True)
    client = app.test_client()
    actions = AuthActions(app, client)
    email = actions.create("reviewer")
    refused = client.post("/login", data={"email": email, "password": PASSWORD})
    assert refused.status_code == 400
    assert client.get("/").status_code == 302  # not logged in

    page = client.get("/login").get_data(as_text=True)
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert match, "login form carries a CSRF token"
    accepted = client.post(
        "/login", data={"email": email, "password": PASSWORD, "csrf_token": match.group(1)}
    )
    assert accepted.status_code == 302
    assert client.get("/").status_code == 302  # second factor still to come
    page = client.get("/login/second-factor").get_data(as_text=True)
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert match
    assert client.post("/login/totp", data={"code": actions.next_code(email)}).status_code == 400
    done = client.post("/login/totp", data={"code": actions.next_code(email), "csrf_token": match.group(1)})
    assert done.headers["Location"].endswith("/")
    assert client.get("/").status_code == 200
    # A POST without the token is refused for a logged-in user too.
    assert client.post("/keys/lock").status_code == 400


def test_console_pages_use_the_same_origin_stylesheet(console_client: FlaskClient) -> None:
    page = console_client.get("/login").get_data(as_text=True)
    css_asset = console_client.application.extensions["assets"]["console.css"]
    assert css_asset.hashed.startswith("console.") and css_asset.integrity.startswith("sha384-")
    tag = f'<link rel="stylesheet" href="/static/{css_asset.hashed}" integrity="{css_asset.integrity}">'
    assert tag in page
    # The hashed name is cached for long; the page itself never.
    with console_client.get(f"/static/{css_asset.hashed}") as css:
        assert css.status_code == 200
        assert css.mimetype == "text/css"
        assert css.headers["X-Content-Type-Options"] == "nosniff"
        assert css.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    with console_client.get("/static/console.css") as plain:
        assert plain.status_code == 200 and plain.headers["Cache-Control"] == "no-cache"
    assert console_client.get("/login").headers["Cache-Control"] == "no-store"
