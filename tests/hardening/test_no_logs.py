"""Invariant 3, logs: no client address, user agent, request line or report
content in any log line — under gunicorn (gunicorn.conf.py) and under
``flask run`` (Werkzeug's request log), for the intake and the console, on
normal requests, errors and malformed requests. (tests/test_e2e.py drives
full submissions and a sync through gunicorn.)"""

from __future__ import annotations

import contextlib
import logging
import re
import secrets
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.logs import ScrubFilter, scrub

from ..conftest import Databases
from ..helpers import write_key_file
from . import servers
from .servers import CLIENT_ADDRESS, RECEIPT, Server, client_session, csrf_token

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize(
    "text",
    [
        "Invalid request from ip=203.0.113.9: Invalid HTTP request line",
        "client 2001:db8::1 said hello",
        "client [2001:db8:0:0:1:0:0:1]:443",
        "mapped ::ffff:198.51.100.7 here",
        "fe80::1%eth0 scoped",
        "10.0.0.1, 192.168.1.20 and 127.0.0.2",
    ],
)
def test_scrub_removes_addresses(text: str) -> None:
    out = scrub(text)
    assert not re.search(r"\d+\.\d+\.\d+\.\d+|[0-9a-f]*:[0-9a-f]*:[0-9a-f]", out), out
    assert "[address]" in out


def test_scrub_keeps_ordinary_text() -> None:
    for text in ("worker timeout (pid:1234)", "seq 12.5 of 3", "version 1.2.3", "12:30:45 elapsed"):
        assert scrub(text) == text


def _record(msg: str, *args: object, exc: bool = False) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise ValueError("secret text from a form")
        except ValueError:
            import sys

            exc_info = sys.exc_info()
    return logging.LogRecord("werkzeug", logging.INFO, __file__, 1, msg, args or None, exc_info)


def test_filter_drops_werkzeug_request_lines_and_strips_prefixes() -> None:
    f = ScrubFilter()
    request_line = _record(
        '127.0.0.2 - - [29/Nov/2026 10:00:00] "%s" %s %s', "POST /en/ HTTP/1.1", "200", "-"
    )
    assert f.filter(request_line) is False
    error = _record("127.0.0.2 - - [29/Nov/2026 10:00:00] code 400, message Bad request syntax ('x')")
    assert f.filter(error) is True
    assert error.getMessage() == "code 400, message Bad request syntax ('x')"
    banner = _record(" * Running on http://127.0.0.1:5000")
    assert f.filter(banner) is True and "127.0.0.1" in banner.getMessage()
    failing = _record("failed for %s", "2001:db8::7", exc=True)
    assert f.filter(failing) is True
    assert failing.exc_info is None and failing.getMessage() == "failed for [address] (ValueError)"


# --- servers in subprocesses


def _malformed_request(url: str) -> None:
    """A request line no HTTP server accepts, sent from CLIENT_ADDRESS."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10, source_address=(CLIENT_ADDRESS, 0)) as s:
        s.sendall(b"GARBAGE \x01\x02 NOT-HTTP\r\n\r\n")
        s.settimeout(10)
        with contextlib.suppress(OSError):
            s.recv(4096)


def _assert_clean(log: bytes, needles: dict[str, str]) -> None:
    found = [name for name, needle in needles.items() if needle.encode() in log]
    assert found == [], f"the log holds: {found}"
    # No request line, no per-request timestamp.
    assert not re.search(rb'"(GET|POST) /', log), "a request line was logged"
    assert not re.search(rb"\[\d\d/\w{3}/\d{4}[ :]\d\d:\d\d:\d\d", log), "a request timestamp was logged"


@pytest.fixture
def intake_env(tmp_path: Path, databases: Databases) -> dict[str, str]:
    keys = tmp_path / "keys"
    write_key_file(keys, "test-org")
    return {"INTAKE_DATA_DIR": str(tmp_path / "intake"), "INTAKE_KEYS_DIR": str(keys), **databases.env()}


@pytest.fixture(params=["flask", "gunicorn"])
def intake_server(
    request: pytest.FixtureRequest, tmp_path: Path, intake_env: dict[str, str]
) -> Iterator[Server]:
    server = servers.start("intake", intake_env, tmp_path / "intake.log", server=request.param)
    yield server
    server.stop()


def test_intake_logs_name_no_one(intake_server: Server) -> None:
    canary = f"CANARY{secrets.token_hex(8)}"
    agent = f"Agent-{secrets.token_hex(6)}"
    session = client_session(agent)
    form = session.get(f"{intake_server.url}/en/", timeout=10)
    assert form.status_code == 200
    if "gunicorn" in " ".join(intake_server.process.args):  # type: ignore[arg-type]
        assert not re.search(r"\d", form.headers.get("Server", "")), "Server header names a version"
    sent = session.post(
        f"{intake_server.url}/en/",
        data={"csrf_token": csrf_token(form.text), "narrative": canary, "recipients": "test-org"},
        files={"attachments": (f"{canary}.txt", canary.encode(), "text/plain")},
        timeout=30,
    )
    assert sent.status_code == 200 and RECEIPT.search(sent.text)
    # Errors: a bad form, an unknown page, a refused API call, garbage.
    assert session.post(f"{intake_server.url}/en/", data={"narrative": canary}, timeout=10).status_code == 400
    assert session.get(f"{intake_server.url}/no/{canary}", timeout=10).status_code == 404
    assert session.get(f"{intake_server.url}/api/v1/envelopes", timeout=10).status_code == 401
    _malformed_request(intake_server.url)
    intake_server.stop()
    log = intake_server.log_text()
    _assert_clean(log, {"client address": CLIENT_ADDRESS, "user agent": agent, "canary": canary})
    if "gunicorn" in " ".join(intake_server.process.args):  # type: ignore[arg-type]
        # gunicorn did log the malformed request, with the address scrubbed.
        assert b"Invalid request from ip=[address]" in log


@pytest.fixture(params=["flask", "gunicorn"])
def console_server(request: pytest.FixtureRequest, tmp_path: Path, databases: Databases) -> Iterator[Server]:
    env = {
        "ADMIN_DATA_DIR": str(tmp_path / "console"),
        "ADMIN_SESSION_COOKIE_SECURE": "false",
        # A console on http://127.0.0.1: the production settings do not apply.
        "ADMIN_DEVELOPMENT": "true",
        "ADMIN_ARGON2ID": '{"memory_kib": 1024, "iterations": 1, "lanes": 1}',
        "ADMIN_LOGIN_TIME_FLOOR": "0",
        **databases.env(),
    }
    server = servers.start(
        "admin", env, tmp_path / "console.log", server=request.param, workers=1, ready_path="/login"
    )
    yield server
    server.stop()


def test_console_logs_name_no_one(console_server: Server) -> None:
    canary = f"canary{secrets.token_hex(8)}"
    agent = f"Agent-{secrets.token_hex(6)}"
    session = client_session(agent)
    page = session.get(f"{console_server.url}/login", timeout=10)
    assert page.status_code == 200
    token = csrf_token(page.text)
    refused = session.post(
        f"{console_server.url}/login",
        data={"csrf_token": token, "email": f"{canary}@example.org", "password": canary},
        timeout=30,
    )
    assert refused.status_code in (200, 400)
    assert session.get(
        f"{console_server.url}/cases/{canary}", timeout=10, allow_redirects=False
    ).status_code in (302, 401, 404)
    _malformed_request(console_server.url)
    console_server.stop()
    _assert_clean(
        console_server.log_text(), {"client address": CLIENT_ADDRESS, "user agent": agent, "canary": canary}
    )
