"""Host-header injection, the apps' own layer (nginx's is in
tests/deploy/test_through_nginx.py): over real HTTP against gunicorn, with
``TRUSTED_HOSTS`` as the shipped settings files set it, a request for
another name gets the app's own translated 400 page, never a redirect, and
the name it sent appears nowhere in the answer or the log. The intake's
onion address is trusted with it. Unset (the demo, development on
127.0.0.1), pages are served as before."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import requests

from ..conftest import Databases
from ..deploy.shipped import ONION, env_file
from ..helpers import write_key_file
from . import servers

pytestmark = pytest.mark.e2e

#: A name that is none of ours.
FORGED = "evil.example"


def _get(server: servers.Server, path: str, host: str, **headers: str) -> requests.Response:
    session = requests.Session()
    session.trust_env = False
    return session.get(
        server.url + path,
        headers={"Host": host, "X-Forwarded-Proto": "https", **headers},
        allow_redirects=False,
        timeout=30,
    )


def _assert_refused(response: requests.Response) -> None:
    """The app's 400, and nothing in it that names the forged host."""
    assert response.status_code == 400, (response.status_code, response.headers.get("Location"))
    assert "Location" not in response.headers
    assert FORGED not in response.text
    assert all(FORGED not in value for value in response.headers.values())
    # The app's own page, with its headers: not a bare error.
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]


def _intake(tmp_path: Path, databases: Databases, settings: dict[str, str]) -> servers.Server:
    keys_dir = tmp_path / "keys"
    write_key_file(keys_dir, "test-org")
    env = {
        "INTAKE_DATA_DIR": str(tmp_path / "data"),
        "INTAKE_KEYS_DIR": str(keys_dir),
        **databases.env(),
        **settings,
    }
    return servers.start("intake", env, tmp_path / "intake.log", workers=1)


def test_the_intake_answers_a_forged_host_with_its_400_page(tmp_path: Path, databases: Databases) -> None:
    shipped = env_file("intake.env")["INTAKE_TRUSTED_HOSTS"]
    assert shipped == "intake.example.org"
    server = _intake(tmp_path, databases, {"INTAKE_TRUSTED_HOSTS": shipped, "INTAKE_ONION_ADDRESS": ONION})
    try:
        # Without the setting, "/en" answered Location: https://evil.example/en/.
        for path in ("/", "/en", "/en/", "/static/intake.css"):
            _assert_refused(_get(server, path, FORGED))
        _assert_refused(_get(server, "/en", f"{FORGED}:443"))
        # In the language of the address.
        french = _get(server, "/fr/", FORGED)
        _assert_refused(french)
        assert 'lang="fr"' in french.text
        assert 'href="/fr/"' in french.text  # its link back to the form
        # A post is refused before anything reads it.
        session = requests.Session()
        session.trust_env = False
        post = session.post(
            server.url + "/en/", headers={"Host": FORGED}, data={"narrative": "x"}, timeout=30
        )
        _assert_refused(post)
        # The reviewer API answers JSON, as for its other errors.
        api = _get(server, "/api/v1/envelopes", FORGED, Authorization="Bearer x")
        assert api.status_code == 400
        assert api.json() == {"error": "Bad Request"}
        # No Host at all (HTTP/1.0) is no name of ours either.
        port = int(server.url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            sock.sendall(b"GET /en HTTP/1.0\r\n\r\n")
            assert sock.recv(4096).split(b" ", 2)[1] == b"400"

        # Our own names: the clearnet one (with or without its port) and
        # the onion address, which the setting need not repeat.
        own = _get(server, "/en", "intake.example.org")
        assert own.status_code == 308
        assert own.headers["Location"] == "https://intake.example.org/en/"
        assert _get(server, "/en/", "intake.example.org:443").status_code == 200
        onion = requests.get(server.url + "/en/", headers={"Host": ONION}, timeout=30)
        assert onion.status_code == 200
        assert "Strict-Transport-Security" not in onion.headers

        log = server.log_text()
        assert b"not in TRUSTED_HOSTS" in log
        assert FORGED.encode() not in log
    finally:
        server.stop()


def test_without_the_setting_the_demo_on_127_0_0_1_is_served(tmp_path: Path, databases: Databases) -> None:
    server = _intake(tmp_path, databases, {})
    try:
        host = server.url.removeprefix("http://")
        page = requests.get(server.url + "/en/", timeout=30)
        assert page.status_code == 200
        redirect = requests.get(server.url + "/en", allow_redirects=False, timeout=30)
        assert redirect.status_code == 308
        assert redirect.headers["Location"] == f"http://{host}/en/"
        assert requests.get(server.url + "/fr/", headers={"Host": "localhost"}, timeout=30).status_code == 200
    finally:
        server.stop()


def test_the_console_answers_a_forged_host_with_its_400_page(tmp_path: Path, databases: Databases) -> None:
    shipped = env_file("admin.env")["ADMIN_TRUSTED_HOSTS"]
    assert shipped == "console.example.org"
    env = {
        "ADMIN_DATA_DIR": str(tmp_path / "console"),
        "ADMIN_WEBAUTHN_RP_ID": "console.example.org",
        "ADMIN_WEBAUTHN_ORIGIN": "https://console.example.org",
        "ADMIN_SESSION_COOKIE_SECURE": "true",
        "ADMIN_TRUSTED_HOSTS": shipped,
        **databases.env(),
    }
    server = servers.start("admin", env, tmp_path / "console.log", workers=1, ready_path="/login")
    try:
        # Without the setting, "/keys" sent a stranger on to the login page.
        for path in ("/login", "/keys", "/"):
            _assert_refused(_get(server, path, FORGED))
        french = _get(server, "/login", FORGED, **{"Accept-Language": "fr"})
        _assert_refused(french)
        assert 'lang="fr"' in french.text
        assert _get(server, "/login", "console.example.org").status_code == 200
        log = server.log_text()
        assert b"not in TRUSTED_HOSTS" in log
        assert FORGED.encode() not in log
    finally:
        server.stop()
