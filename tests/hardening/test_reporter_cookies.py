"""The session cookie that carries the forms' CSRF token, over real HTTP
against gunicorn: with ``SESSION_COOKIE_SECURE`` on a plain-http address no
browser sends the cookie back, so "the page expired, press Send again"
would loop for ever. The page must say why instead, and the operator's log
must say what to fix. (Cookies blocked in the browser:
tests/browser/test_reporter_edges.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from ..conftest import Databases
from ..helpers import write_key_file
from . import servers
from .servers import csrf_token, hidden


@pytest.mark.e2e
def test_a_secure_cookie_over_plain_http_is_explained_not_looped(
    tmp_path: Path, databases: Databases
) -> None:
    keys_dir = tmp_path / "keys"
    write_key_file(keys_dir, "test-org")
    env = {
        "INTAKE_DATA_DIR": str(tmp_path / "data"),
        "INTAKE_KEYS_DIR": str(keys_dir),
        "INTAKE_SESSION_COOKIE_SECURE": "true",
        **databases.env(),
    }
    server = servers.start("intake", env, tmp_path / "gunicorn.log", workers=1)
    try:
        # requests, like a browser, keeps a Secure cookie but never sends it over http.
        session = requests.Session()
        for _attempt in range(2):  # pressing Send again changes nothing
            form = session.get(server.url + "/fr/", timeout=30).text
            response = session.post(
                server.url + "/fr/",
                data={
                    "csrf_token": csrf_token(form),
                    "submission": hidden(form, "submission"),
                    "narrative": "Ils ont appelé mes parents.",
                },
                timeout=30,
            )
            assert response.status_code == 400
            assert "La page a expiré" not in response.text
            assert "connexion sécurisée (HTTPS)" in response.text
            assert "Ils ont appelé mes parents." in response.text.replace("&#39;", "'")
        log = server.log_text()
        assert b"SESSION_COOKIE_SECURE is set but a form was posted over plain http" in log
        assert log.count(b"SESSION_COOKIE_SECURE is set") == 1
    finally:
        server.stop()
