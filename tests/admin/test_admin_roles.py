"""Roles enforced in one table (admin/permissions.py), and CSRF on every
state-changing route, proven by walking the URL map."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.routing import Rule

from admin.extensions import DB_EXTENSION, KEYRING_EXTENSION
from admin.models import AuditEntry
from admin.permissions import ENDPOINTS, ROLE_PERMISSIONS, Permission, allows, required
from admin.sync.client import IntakeClient
from admin.sync.run import sync
from tests.admin.admin_testlib import AuthActions, FakeIntake, sync_from, unlock

STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}


def test_every_endpoint_is_in_the_permission_table(console_app: Flask) -> None:
    missing = [rule.endpoint for rule in console_app.url_map.iter_rules() if required(rule.endpoint) is None]
    assert missing == []
    # And the table names no endpoint that does not exist (stale rules hide mistakes).
    existing = {rule.endpoint for rule in console_app.url_map.iter_rules()}
    assert set(ENDPOINTS) - existing == set()


def test_roles_nest() -> None:
    assert ROLE_PERMISSIONS["reviewer"] < ROLE_PERMISSIONS["coordinator"] < ROLE_PERMISSIONS["admin"]
    assert not allows("reviewer", Permission.UNLOCK_KEY)
    assert not allows("coordinator", Permission.MANAGE_ACCOUNTS)
    assert allows("nobody", Permission.PUBLIC) and not allows("nobody", Permission.READ_CASES)


def test_unlisted_endpoint_is_refused_to_everyone(
    console_app: Flask, console_client: FlaskClient, auth: AuthActions
) -> None:
    console_app.add_url_rule("/forgotten", "forgotten", lambda: "open")
    auth.login_as("admin")
    assert console_client.get("/forgotten").status_code == 403


@pytest.mark.parametrize(
    ("role", "method", "path", "allowed"),
    [
        ("reviewer", "GET", "/users", False),
        ("coordinator", "GET", "/users", False),
        ("admin", "GET", "/users", True),
        ("reviewer", "GET", "/audit/", False),
        ("coordinator", "GET", "/audit/", True),
        ("reviewer", "POST", "/keys/unlock", False),
        ("reviewer", "GET", "/", True),
    ],
)
def test_role_matrix(
    console_client: FlaskClient, auth: AuthActions, role: str, method: str, path: str, allowed: bool
) -> None:
    auth.login_as(role)
    response = console_client.open(path, method=method, data={"passphrase": "x"})
    assert (response.status_code != 403) is allowed, response.status_code


def test_reviewer_cannot_assign_others_but_can_take(
    console_app: Flask, console_client: FlaskClient, auth: AuthActions, fake_intake: FakeIntake
) -> None:
    served = fake_intake.add({"narrative": "x"})
    unlock(console_app)
    sync_from(console_app, fake_intake)
    auth.login_as("reviewer")
    assert (
        console_client.post(f"/cases/{served.envelope_id}/assign", data={"assignee": "1"}).status_code == 403
    )
    assert console_client.post(f"/cases/{served.envelope_id}/take").status_code == 302


def _url(rule: Rule, envelope_id: str) -> str:
    values: dict[str, object] = {}
    for arg in rule.arguments:
        if arg == "envelope_id":
            values[arg] = envelope_id
        elif arg == "filename":
            values[arg] = "webauthn.js"
        else:
            converter = rule._converters[arg]  # noqa: SLF001
            values[arg] = 0 if converter.__class__.__name__ == "IntegerConverter" else "x"
    return rule.build(values, append_unknown=False)[1]  # type: ignore[index]


def _audit_count(app: Flask) -> int:
    with app.extensions[DB_EXTENSION].session() as session:
        return session.scalar(select(func.count(AuditEntry.seq))) or 0


@pytest.mark.parametrize("who", ["anonymous", "pending", "admin"])
def test_every_state_changing_route_needs_a_csrf_token(
    make_console: Callable[..., Flask], intake_factory: Callable[[Flask], FakeIntake], who: str
) -> None:
    app = make_console()
    fake = intake_factory(app)
    served = fake.add({"narrative": "x"})
    unlock(app)
    with IntakeClient(fake.url, fake.token) as c:
        sync(app.extensions[DB_EXTENSION], app.extensions[KEYRING_EXTENSION], Path(app.config["DATA_DIR"]), c)
    client = app.test_client()
    auth = AuthActions(app, client)
    if who == "admin":
        auth.login_as("admin")
    elif who == "pending":
        auth.login(auth.create("admin", totp=False))
    app.config["WTF_CSRF_ENABLED"] = True
    before = _audit_count(app)
    rules = [r for r in app.url_map.iter_rules() if (r.methods or set()) & STATE_CHANGING]
    assert len(rules) >= 15
    for rule in rules:
        url = _url(rule, served.envelope_id)
        for method in sorted((rule.methods or set()) & STATE_CHANGING):
            form = client.open(
                url, method=method, data={"passphrase": "x", "status": "spam", "code": "123456"}
            )
            assert form.status_code == 400, (method, url, form.status_code)
            as_json = client.open(url, method=method, json={})
            assert as_json.status_code == 400, (method, url, as_json.status_code)
    assert _audit_count(app) == before  # nothing happened
    assert app.extensions[KEYRING_EXTENSION].unlocked  # not even a lock
