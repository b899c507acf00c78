"""The console behind HTTPS: gunicorn with the repository's gunicorn.conf.py,
reached over real HTTP with the headers nginx sends (``Host``,
``X-Forwarded-Proto: https``), as the documented deployment runs it.

The client here stands for the browser and nginx together: it keeps the
session's cookies as a browser on https://console.example.org would
(Secure ones included), and sends ``Referer`` and ``Origin`` on each form
post as the Fetch standard says a browser does under the page's referrer
policy (its ``Referrer-Policy`` header, overridden by a ``<meta
name="referrer">``). Under the old ``no-referrer`` every post, the login
included, ended on "The form expired"."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask

from admin.auth import accounts
from tests.admin.admin_testlib import PASSWORD, AuthActions, totp_code
from tests.hardening import servers

HOST = "console.example.org"
ORIGIN = f"https://{HOST}"


class BehindNginx:
    """A browser at :data:`ORIGIN` whose requests reach the console as
    nginx forwards them."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = requests.Session()
        self.cookies: dict[str, str] = {}
        self.secure_cookies: set[str] = set()
        self.page_url = ""
        self.policy = ""

    def _send(self, method: str, path: str, headers: dict[str, str], **kwargs: Any) -> requests.Response:
        headers = {"Host": HOST, "X-Forwarded-Proto": "https", **headers}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        response = self.http.request(
            method, self.base + path, headers=headers, allow_redirects=False, timeout=30, **kwargs
        )
        for line in response.raw.headers.getlist("Set-Cookie"):
            name, _, rest = line.partition("=")
            value = rest.split(";", 1)[0]
            attributes = [a.strip().lower() for a in rest.split(";")[1:]]
            if "secure" in attributes:
                self.secure_cookies.add(name)
            if value and not any(a.startswith("max-age=0") for a in attributes):
                self.cookies[name] = value
            else:
                self.cookies.pop(name, None)
        return response

    def get(self, path: str) -> requests.Response:
        response = self._send("GET", path, {})
        self.page_url = ORIGIN + path
        meta = re.search(r'<meta name="referrer" content="([^"]+)"', response.text)
        self.policy = meta.group(1) if meta else response.headers.get("Referrer-Policy", "")
        return response

    def post_form(self, path: str, data: dict[str, str]) -> requests.Response:
        """A form on the current page posted to ``path`` (same origin)."""
        headers = {}
        if self.policy in ("no-referrer", ""):
            headers["Origin"] = "null"  # Fetch: a no-referrer request's origin is serialized as null
        else:
            assert self.policy in ("same-origin", "strict-origin", "strict-origin-when-cross-origin")
            headers["Origin"] = ORIGIN
            headers["Referer"] = self.page_url if self.policy == "same-origin" else ORIGIN + "/"
        return self._send("POST", path, headers, data=data)


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html) or re.search(
        r'name="csrf-token" content="([^"]+)"', html
    )
    assert found is not None, "no CSRF token in the page"
    return found.group(1)


@pytest.fixture
def gunicorn_console(
    make_console: Callable[..., Flask], tmp_path: Path
) -> Iterator[Callable[[dict[str, str]], servers.Server]]:
    started: list[servers.Server] = []

    def start(settings: dict[str, str]) -> servers.Server:
        server = servers.start(
            "admin", settings, tmp_path / f"console-{len(started)}.log", workers=1, ready_path="/login"
        )
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def _production(app: Flask) -> dict[str, str]:
    return {
        "ADMIN_DATA_DIR": app.config["DATA_DIR"],
        "ADMIN_DATABASE_URL": app.config["DATABASE_URL"],
        "ADMIN_SECRET_KEY": app.config["SECRET_KEY"],
        "ADMIN_WEBAUTHN_RP_ID": HOST,
        "ADMIN_WEBAUTHN_ORIGIN": ORIGIN,
        "ADMIN_SESSION_COOKIE_SECURE": "true",
        "ADMIN_LOGIN_TIME_FLOOR": "0",
        "GUNICORN_THREADS": "4",
    }


def test_login_and_forms_work_behind_https(
    make_console: Callable[..., Flask], gunicorn_console: Callable[[dict[str, str]], servers.Server]
) -> None:
    app = make_console()
    auth = AuthActions(app, app.test_client())
    email = auth.create("coordinator")
    console = gunicorn_console(_production(app))
    browser = BehindNginx(console.url)

    page = browser.get("/login")
    assert page.status_code == 200
    assert page.headers["Referrer-Policy"] == "same-origin"
    login = browser.post_form(
        "/login", {"csrf_token": _csrf(page.text), "email": email, "password": PASSWORD}
    )
    assert login.status_code == 302, login.text[-500:]
    assert login.headers["Location"].endswith("/login/second-factor")
    # The session cookie is Secure (production), and a browser sends it back over https.
    assert "tnr_console_session" in browser.secure_cookies

    page = browser.get("/login/second-factor")
    step = int(time.time()) // accounts.TOTP_STEP
    code = totp_code(auth.secrets[email], step)
    done = browser.post_form("/login/totp", {"csrf_token": _csrf(page.text), "code": code})
    assert done.status_code == 302 and done.headers["Location"].endswith("/"), done.headers.get("Location")
    assert browser.get("/").status_code == 200

    # The WebAuthn relying party is the configured one, whatever Host says.
    page = browser.get("/account")
    options = browser._send(
        "POST",
        "/webauthn/register/options",
        {"X-CSRFToken": _csrf(page.text), "Origin": ORIGIN, "Referer": ORIGIN + "/account"},
        json={},
    )
    assert options.status_code == 200, options.text[-300:]
    assert options.json()["rp"]["id"] == HOST

    # Another form of a logged-in reviewer, then logout: both accepted.
    page = browser.get("/keys/")
    lock = browser.post_form("/keys/lock", {"csrf_token": _csrf(page.text)})
    assert lock.status_code == 302, lock.text[-300:]
    page = browser.get("/")
    out = browser.post_form("/logout", {"csrf_token": _csrf(page.text)})
    assert out.status_code == 302 and out.headers["Location"].endswith("/login")

    # CSRF is as strict as before: a post without the console's Referer,
    # or with another site's, is refused.
    page = browser.get("/login")
    browser.policy = "no-referrer"
    refused = browser.post_form(
        "/login", {"csrf_token": _csrf(page.text), "email": email, "password": PASSWORD}
    )
    assert refused.status_code == 400 and "The form expired" in refused.text
    foreign = browser._send(
        "POST",
        "/login",
        {"Origin": "https://elsewhere.example", "Referer": "https://elsewhere.example/"},
        data={"csrf_token": _csrf(page.text), "email": email, "password": PASSWORD},
    )
    assert foreign.status_code == 400


def test_production_start_is_refused_without_its_settings(
    make_console: Callable[..., Flask], tmp_path: Path
) -> None:
    app = make_console()
    settings = _production(app)
    del settings["ADMIN_WEBAUTHN_RP_ID"], settings["ADMIN_WEBAUTHN_ORIGIN"]
    with pytest.raises(AssertionError, match="did not start") as refused:
        servers.start("admin", settings, tmp_path / "refused.log", workers=1, ready_path="/login")
    assert "ADMIN_WEBAUTHN_RP_ID is not set" in str(refused.value)
    assert "ADMIN_WEBAUTHN_ORIGIN is not set" in str(refused.value)
