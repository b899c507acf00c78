"""A security key whose signature counter goes backwards is a possibly
copied key: the login is refused, audited as such (not as one more failed
login) and coordinators are told by an alarm. Over real HTTP."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from flask import Flask
from sqlalchemy import select

from admin.alarms import service as alarms
from admin.extensions import DB_EXTENSION
from admin.models import AuditEntry, WebAuthnCredential
from tests.admin.admin_testlib import PASSWORD, AuthActions, SoftAuthenticator


@pytest.fixture
def console(console_url: str) -> str:
    """The console over real HTTP (conftest ``console_url``)."""
    return console_url


def _session() -> requests.Session:
    http = requests.Session()
    http.trust_env = False  # loopback only
    return http


def _password(http: requests.Session, base: str, email: str) -> str:
    response = http.post(f"{base}/login", data={"email": email, "password": PASSWORD}, allow_redirects=False)
    assert response.status_code == 302
    return str(response.headers["Location"])


def _log_in_with_key(http: requests.Session, base: str, key: SoftAuthenticator) -> requests.Response:
    options = http.post(f"{base}/login/webauthn/options", json={})
    assert options.status_code == 200
    return http.post(f"{base}/login/webauthn/verify", json=key.get(options.json()))


def _entries(app: Flask, action: str) -> list[Any]:
    with app.extensions[DB_EXTENSION].session() as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def test_a_counter_going_back_is_audited_as_a_possible_clone_and_raises_an_alarm(
    console_app: Flask, console: str, auth: AuthActions
) -> None:
    email = auth.create("reviewer", totp=False)
    key = SoftAuthenticator(rp_id="127.0.0.1", origin=console)

    # Enrol the key over HTTP (first login), then log in with it: counter 2.
    http = _session()
    assert _password(http, console, email).endswith("/login/enrol")
    options = http.post(f"{console}/webauthn/register/options", json={})
    registered = http.post(
        f"{console}/webauthn/register/verify",
        json={"name": "blue key", "credential": key.create(options.json())},
    )
    assert registered.status_code == 200 and registered.json() == {"redirect": "/"}
    http.post(f"{console}/logout")
    http = _session()
    assert _password(http, console, email).endswith("/login/second-factor")
    assert _log_in_with_key(http, console, key).status_code == 200
    with console_app.extensions[DB_EXTENSION].session() as session:
        assert session.scalars(select(WebAuthnCredential.sign_count)).one() == 2

    # A copy of the key, made when its counter stood at 0, answers next:
    # a valid signature with counter 1, behind the stored 2.
    key.counter = 0
    clone = _session()
    _password(clone, console, email)
    refused = _log_in_with_key(clone, console, key)
    assert refused.status_code == 400
    assert "a copy of it is in use" in refused.json()["error"]
    assert "Coordinators have been told" in refused.json()["error"]
    assert clone.get(f"{console}/", allow_redirects=False).status_code == 302  # not logged in

    [clone_entry] = _entries(console_app, "second_factor.possible_clone")
    assert clone_entry.actor == email and clone_entry.detail.endswith("counter 1 after 2")
    assert [e.detail for e in _entries(console_app, "login.failed")] == ["webauthn counter"]
    with console_app.extensions[DB_EXTENSION].session() as session:
        [alarm] = alarms.open_alarms(session)
        assert alarm.kind == "webauthn.possible_clone"
        assert email in alarm.detail and "counter 1 after 2" in alarm.detail
        assert "blue key" not in alarm.detail  # the key's name was typed by its owner
        # The stored counter did not move back: the genuine key goes on working.
        assert session.scalars(select(WebAuthnCredential.sign_count)).one() == 2

    # Coordinators see it on their pages until one acknowledges it.
    coordinator = auth.create("coordinator")
    boss = _session()
    _password(boss, console, coordinator)
    boss.post(f"{console}/login/totp", data={"code": auth.next_code(coordinator)})
    assert "webauthn.possible_clone" in boss.get(f"{console}/alarms/").text

    # The genuine key, further ahead, still logs in.
    key.counter = 5
    genuine = _session()
    _password(genuine, console, email)
    assert _log_in_with_key(genuine, console, key).status_code == 200


def test_a_bad_signature_is_a_failed_login_not_a_clone(
    console_app: Flask, console: str, auth: AuthActions
) -> None:
    email = auth.create("reviewer", totp=False)
    key = SoftAuthenticator(rp_id="127.0.0.1", origin=console)
    http = _session()
    _password(http, console, email)
    options = http.post(f"{console}/webauthn/register/options", json={})
    http.post(
        f"{console}/webauthn/register/verify", json={"name": "k", "credential": key.create(options.json())}
    )
    http.post(f"{console}/logout")

    other = _session()
    _password(other, console, email)
    options = other.post(f"{console}/login/webauthn/options", json={}).json()
    answer = key.get(options)
    answer["response"]["signature"] = answer["response"]["signature"][:-4] + "AAAA"
    response = other.post(f"{console}/login/webauthn/verify", json=answer)
    assert response.status_code == 400
    assert response.json()["error"] == "The security key was not accepted."
    assert _entries(console_app, "second_factor.possible_clone") == []
    with console_app.extensions[DB_EXTENSION].session() as session:
        assert alarms.open_alarms(session) == []
