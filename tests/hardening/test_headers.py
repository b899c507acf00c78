"""Invariant 6, headers: every response of both apps — every route, with and
without credentials, redirects, errors (400, 401, 403, 404, 405, 413, 500),
static files — carries the one header policy of core/web.py."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.routing import Rule
from werkzeug.test import TestResponse

import intake
from core.web import CSP, build_csp, csp_allow
from intake.api.tokens import create_token
from tests.admin.admin_testlib import AuthActions

from ..helpers import write_key_file

SAMPLE_ARGS = {"lang_code": "en", "envelope_id": "0" * 32, "index": 0, "filename": "intake.css"}


def _url(app: Flask, rule: Rule) -> str:
    values = {}
    for name in rule.arguments:
        converter = rule._converters[name].__class__.__name__
        values[name] = SAMPLE_ARGS.get(name, 1 if converter in ("IntegerConverter",) else "1")
    with app.test_request_context():
        adapter = app.url_map.bind("localhost")
        return adapter.build(rule.endpoint, values, force_external=False)


def _requests(app: Flask) -> Iterator[tuple[str, str]]:
    for rule in app.url_map.iter_rules():
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            yield method, _url(app, rule)


def check_common(response: TestResponse, where: str, referrer: str = "no-referrer") -> None:
    h = response.headers
    csp = h.get("Content-Security-Policy", "")
    assert "default-src 'none'" in csp, where
    assert "frame-ancestors 'none'" in csp, where
    assert "form-action 'self'" in csp, where
    assert "base-uri 'none'" in csp, where
    for weak in ("'unsafe-inline'", "'unsafe-eval'", "*", "http:", "https:", "data:", "blob:"):
        assert weak not in csp.split(), f"{where}: {weak} in CSP"
    assert h.get("Referrer-Policy") == referrer, where
    assert h.get("X-Content-Type-Options") == "nosniff", where
    assert h.get("X-Frame-Options") == "DENY", where
    assert h.get("Cross-Origin-Opener-Policy") == "same-origin", where
    assert h.get("Cross-Origin-Resource-Policy") == "same-origin", where
    permissions = h.get("Permissions-Policy", "")
    for feature in ("camera=()", "microphone=()", "geolocation=()"):
        assert feature in permissions, where
    assert "Strict-Transport-Security" not in h, f"{where}: HSTS is off unless configured"
    assert "Onion-Location" not in h, f"{where}: no onion address configured"
    assert not re.search(r"\d", h.get("Server", "")), f"{where}: Server header with a version"
    assert "X-Powered-By" not in h, where
    # A 500 never shows a stack trace.
    assert b"Traceback" not in response.data, where


def check_intake(response: TestResponse, where: str) -> None:
    check_common(response, where)
    path = where.split(" ", 1)[1]
    if not path.startswith("/static/") or response.status_code >= 400:
        assert response.headers.get("Cache-Control") == "no-store", where


def check_console(response: TestResponse, where: str) -> None:
    # same-origin: Flask-WTF's CSRF check behind HTTPS needs the console's
    # own Referer (admin/__init__.py); nothing goes to another site.
    check_common(response, where, referrer="same-origin")
    assert response.headers.get("Cache-Control") == "no-store", where
    csp = response.headers["Content-Security-Policy"]
    script = re.search(r"script-src ([^;]*)", csp)
    assert script is None or script.group(1).split() == ["'self'"], f"{where}: script only from itself"


@pytest.fixture
def intake_app(tmp_path: Path) -> Iterator[Flask]:
    keys = tmp_path / "keys"
    write_key_file(keys, "test-org")
    app = intake.create_app({"TESTING": True, "DATA_DIR": str(tmp_path / "data"), "KEYS_DIR": str(keys)})

    @app.get("/__boom")
    def _boom() -> str:
        raise RuntimeError("boom")

    yield app
    app.extensions["intake.db"].engine.dispose()


def _walk_intake(app: Flask, client: FlaskClient, headers: dict[str, str]) -> int:
    count = 0
    for method, url in _requests(app):
        with client.open(url, method=method, headers=headers) as response:
            where = f"{method} {url}"
            assert response.status_code < 500 or url == "/__boom", where
            check_intake(response, where)
        count += 1
    return count


def test_every_intake_route_with_and_without_a_token(intake_app: Flask) -> None:
    with intake_app.app_context(), intake_app.extensions["intake.db"].sessions() as session:
        token = create_token(session, "test-org")
    client = intake_app.test_client()
    walked = _walk_intake(intake_app, client, {})
    walked += _walk_intake(intake_app, client, {"Authorization": f"Bearer {token}"})
    assert walked >= 10


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/no/where", 404),
        ("GET", "/xx/", 404),
        ("PUT", "/api/v1/envelopes", 405),
        ("POST", "/api/v1/envelopes", 401),  # interview mode: a console files an envelope
        ("GET", "/api/v1/envelopes", 401),
        ("GET", "/api/v1/envelopes/zz/attachments/0", 401),
        ("POST", "/en/", 400),  # CSRF token missing
        ("GET", "/__boom", 500),
        ("GET", "/static/intake.css", 200),
        ("GET", "/static/nothing.css", 404),
        ("GET", "/static/../intake/__init__.py", 404),
        ("GET", "/", 302),
        ("GET", "/healthz", 200),
    ],
)
def test_intake_errors_redirects_and_static(intake_app: Flask, method: str, path: str, status: int) -> None:
    with intake_app.test_client().open(path, method=method) as response:
        assert response.status_code == status
        check_intake(response, f"{method} {path}")


def test_intake_413(intake_app: Flask) -> None:
    intake_app.config["MAX_CONTENT_LENGTH"] = 1000
    response = intake_app.test_client().post("/en/", data={"narrative": "x" * 5000})
    assert response.status_code == 413
    check_intake(response, "POST /en/ (too large)")


def test_hsts_only_off_onion_and_onion_location(intake_app: Flask) -> None:
    intake_app.config.update(HSTS_MAX_AGE=63072000, ONION_ADDRESS="exampleexampleexample.onion")
    client = intake_app.test_client()
    clear = client.get("/en/?x=1", base_url="https://intake.example.org")
    assert clear.headers["Strict-Transport-Security"] == "max-age=63072000"
    assert clear.headers["Onion-Location"] == "http://exampleexampleexample.onion/en/?x=1"
    onion = client.get("/en/", base_url="http://exampleexampleexample.onion")
    assert "Strict-Transport-Security" not in onion.headers
    assert "Onion-Location" not in onion.headers


def test_csp_allow_adds_to_one_view_only(intake_app: Flask) -> None:
    @intake_app.get("/__wasm")
    @csp_allow("script-src", "'wasm-unsafe-eval'")
    def _wasm() -> str:
        return "ok"

    client = intake_app.test_client()
    assert "script-src 'self' 'wasm-unsafe-eval';" in client.get("/__wasm").headers["Content-Security-Policy"]
    # Only the pages that derive a reply key with Argon2id (WebAssembly) add it.
    assert client.get("/en/safety").headers["Content-Security-Policy"] == CSP
    for page in ("/en/", "/en/receipt"):
        csp = client.get(page).headers["Content-Security-Policy"]
        assert csp == CSP.replace("script-src 'self';", "script-src 'self' 'wasm-unsafe-eval';")
    for bad in ("'unsafe-inline'", "'unsafe-eval'", "https://cdn.example", "*"):
        with pytest.raises(ValueError, match="not allowed"):
            csp_allow("script-src", bad)
    assert "style-src 'self' 'wasm-unsafe-eval'" in build_csp(
        {"style-src": ("'self'",)}, {"style-src": ("'wasm-unsafe-eval'",)}
    )


# --- the console


def _walk_console(app: Flask, client: FlaskClient) -> int:
    count = 0
    for method, url in _requests(app):
        response = client.open(url, method=method)
        where = f"{method} {url}"
        assert response.status_code < 500, where
        check_console(response, where)
        count += 1
    return count


def test_every_console_route_anonymous_and_logged_in(console_factory: Callable[..., Flask]) -> None:
    app = console_factory()
    client = app.test_client()
    walked = _walk_console(app, client)
    AuthActions(app, client).login_as("admin")
    walked += _walk_console(app, client)
    assert walked >= 10


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/nowhere"), ("GET", "/static/x.css"), ("PUT", "/login")]
)
def test_console_errors(console_factory: Callable[..., Flask], method: str, path: str) -> None:
    app = console_factory()
    response = app.test_client().open(path, method=method)
    assert response.status_code in (302, 401, 404, 405)
    check_console(response, f"{method} {path}")


def test_console_500_has_headers_and_no_trace(console_factory: Callable[..., Flask]) -> None:
    app = console_factory()

    def _boom() -> str:
        raise RuntimeError("boom")

    client = app.test_client()
    AuthActions(app, client).login_as("reviewer")
    app.view_functions["inbox.index"] = _boom
    response = client.get("/")
    assert response.status_code == 500
    check_console(response, "GET / (raising)")
