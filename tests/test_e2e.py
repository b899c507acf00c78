"""End to end over real HTTP on loopback: the intake under gunicorn (with the
repository's gunicorn.conf.py), reports submitted in English and Chinese with a
2 MB attachment, the console's CLI syncing and opening them.

The canary must appear in no byte the intake wrote: database, data folder,
temporary folder, logs. Neither may the client's address or user agent.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from requests.adapters import HTTPAdapter
from sqlalchemy import select

import admin
from admin.cases import service as cases
from admin.extensions import DB_EXTENSION
from admin.keys import custody
from admin.models import Case

from .conftest import Databases
from .helpers import scan_for, url_bytes

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parent.parent
PASSPHRASE = "correct horse battery staple " + secrets.token_hex(4)
CHEAP_ARGON2ID = '{"memory_kib": 1024, "iterations": 1, "lanes": 1}'
CLIENT_ADDRESS = "127.0.0.2"  # a loopback address that is not the server's


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _flask(app: str, args: list[str], env: dict[str, str], stdin: str | None = None) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", app, *args],
        input=stdin,
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"flask {args[0]} failed: {result.stderr[-2000:]}"
    return result.stdout


class _FromAddress(HTTPAdapter):
    """Connect from ``CLIENT_ADDRESS`` so the test can look for it in logs."""

    def init_poolmanager(self, *args: object, **kwargs: object) -> None:
        kwargs["source_address"] = (CLIENT_ADDRESS, 0)
        super().init_poolmanager(*args, **kwargs)  # type: ignore[arg-type]


@dataclass
class Stack:
    url: str
    intake_env: dict[str, str]
    admin_env: dict[str, str]
    intake_data: Path
    intake_tmp: Path
    admin_data: Path
    log: Path
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=30)


@pytest.fixture
def stack(tmp_path: Path, databases: Databases) -> Iterator[Stack]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("INTAKE_", "ADMIN_", "FLASK_"))}
    base.update(databases.env())  # this test's PostgreSQL schemas, on that run
    keys = tmp_path / "keys"
    admin_data = tmp_path / "admin-data"
    admin_env = {**base, "ADMIN_DATA_DIR": str(admin_data), "ADMIN_ARGON2ID": CHEAP_ARGON2ID}
    out = _flask(
        "admin",
        ["keys", "generate", "--recipient-id", "test-org", "--name-en", "Test Org", "--name-zh", "測試機構",
         "--out", str(keys)],
        admin_env,
        stdin=PASSPHRASE + "\n",
    )  # fmt: skip
    assert "fingerprint" in out
    assert not list(keys.glob("*.key")), "only the public key goes to keys/"

    intake_data, intake_tmp = tmp_path / "intake-data", tmp_path / "intake-tmp"
    intake_tmp.mkdir()
    intake_env = {**base, "INTAKE_DATA_DIR": str(intake_data), "INTAKE_KEYS_DIR": str(keys)}
    token = _flask("intake", ["api-token", "create", "test-org"], intake_env).strip().splitlines()[-1]

    port = _free_port()
    log = tmp_path / "gunicorn.log"
    with log.open("wb") as log_fh:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:intake"],
            cwd=ROOT,
            env={**intake_env, "TMPDIR": str(intake_tmp), "GUNICORN_BIND": f"127.0.0.1:{port}"},
            stdout=log_fh,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if requests.get(f"{url}/healthz", timeout=2).status_code == 200:
                break
        except requests.ConnectionError:
            pass
        assert process.poll() is None, log.read_text(errors="replace")[-2000:]
        assert time.monotonic() < deadline, "intake did not start"
        time.sleep(0.2)
    admin_env.update(ADMIN_INTAKE_URL=url, ADMIN_INTAKE_TOKEN=token)
    s = Stack(url, intake_env, admin_env, intake_data, intake_tmp, admin_data, log, process)
    yield s
    s.stop()


def _submit(url: str, lang: str, narrative: str, attachment: bytes, filename: str, user_agent: str) -> str:
    session = requests.Session()
    session.mount("http://", _FromAddress())
    session.headers["User-Agent"] = user_agent
    form = session.get(f"{url}/{lang}/", timeout=10)
    assert form.status_code == 200
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form.text)
    assert token is not None
    response = session.post(
        f"{url}/{lang}/",
        data={"csrf_token": token.group(1), "narrative": narrative},
        files={"attachments": (filename, attachment, "image/png")},
        timeout=60,
    )
    assert response.status_code == 200, response.status_code
    receipt = re.search(r"<output>([\d ]+)</output>", response.text)
    assert receipt is not None
    return receipt.group(1)


def test_report_goes_in_sealed_and_a_reviewer_reads_it(stack: Stack) -> None:
    canary = f"CANARY{secrets.token_hex(8)}"
    user_agent = f"E2E-Agent/{secrets.token_hex(6)}"
    reports = {
        "en": (f"{canary} They followed me after the vigil. 😀", "photo.png"),
        "zh-hant": (f"{canary} 他們威脅我在國內的家人。🙏 家人", "威脅截圖.png"),
    }
    attachments = {
        lang: canary.encode() + lang.encode() + os.urandom(2 * 1024 * 1024) + canary.encode()
        for lang in reports
    }
    for lang, (narrative, filename) in reports.items():
        _submit(stack.url, lang, narrative, attachments[lang], filename, user_agent)

    # The console syncs twice: the second adds nothing.
    first = _flask("admin", ["sync"], stack.admin_env, stdin=PASSPHRASE + "\n")
    assert re.search(r"added 2\b", first), first
    second = _flask("admin", ["sync"], stack.admin_env, stdin=PASSPHRASE + "\n")
    assert re.search(r"added 0\b", second), second

    listing = _flask("admin", ["cases", "list"], stack.admin_env)
    envelope_ids = re.findall(r"\b[0-9a-f]{32}\b", listing)
    assert len(envelope_ids) == 2
    shown = "".join(
        _flask("admin", ["cases", "show", eid], stack.admin_env, stdin=PASSPHRASE + "\n")
        for eid in envelope_ids
    )
    for narrative, filename in reports.values():
        assert narrative in shown
        assert filename in shown

    # The attachments come out intact.
    console = admin.create_app({"DATA_DIR": str(stack.admin_data), "ARGON2ID": {}, "TESTING": True})
    try:
        with console.app_context():
            keyring = console.extensions["admin_keyring"]
            db = console.extensions[DB_EXTENSION]
            with db.session() as session:
                custody.unlock(keyring, session, stack.admin_data, PASSPHRASE)
            with db.session() as session:
                digests = set()
                for eid in envelope_ids:
                    case = cases.find_case(session, eid)
                    info, chunks = cases.open_attachment(case, 0, keyring, stack.admin_data)
                    digests.add(hashlib.sha256(b"".join(chunks)).hexdigest())
            keyring.lock()
    finally:
        console.extensions[DB_EXTENSION].engine.dispose()
    assert digests == {hashlib.sha256(a).hexdigest() for a in attachments.values()}

    # Nothing readable, nothing identifying, in any byte the intake wrote.
    stack.stop()
    needles = [
        canary.encode(),
        canary.encode("utf-16-le"),
        CLIENT_ADDRESS.encode(),
        user_agent.encode(),
        "他們威脅我".encode(),
    ]
    for where in (stack.intake_data, stack.intake_tmp, stack.log.parent / "gunicorn.log"):
        hits = scan_for(where, needles) if where.is_dir() else scan_for_file(where, needles)
        assert hits == [], f"plaintext or identifying data found: {hits}"
    intake_url = stack.intake_env.get("INTAKE_DATABASE_URL")
    if intake_url:  # PostgreSQL: the rows, attachments included, as stored
        hits = [f"database (needle {i})" for i, n in enumerate(needles) if n in url_bytes(intake_url)]
        assert hits == [], f"plaintext or identifying data found: {hits}"
    else:
        assert (stack.intake_data / "intake.db").exists()
    # Only the service account may read what the intake wrote.
    assert stack.intake_data.stat().st_mode & 0o077 == 0


def scan_for_file(path: Path, needles: list[bytes]) -> list[str]:
    data = path.read_bytes()
    return [f"{path} (needle {i})" for i, n in enumerate(needles) if n in data]


def _csrf(html: str) -> str:
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html)
    assert token is not None
    return token.group(1)


def test_a_followup_added_with_the_receipt_reaches_the_same_case(stack: Stack) -> None:
    canary = f"CANARY{secrets.token_hex(8)}"
    receipt = _submit(stack.url, "fr", f"{canary} premier", b"first", "a.png", "E2E")
    session = requests.Session()
    check = session.get(f"{stack.url}/zh-hant/receipt", timeout=10)
    assert check.status_code == 200
    full_width = receipt.translate(str.maketrans("0123456789 ", "０１２３４５６７８９－"))
    status = session.post(
        f"{stack.url}/zh-hant/receipt",
        data={
            "csrf_token": _csrf(check.text),
            # The page's one-time check token, as a browser posts it.
            "check": re.search(r'name="check" type="hidden" value="([^"]+)"', check.text).group(1),  # type: ignore[union-attr]
            "receipt": full_width,
        },
        timeout=10,
    )
    assert status.status_code == 200
    access = re.search(r'name="access" type="hidden" value="([^"]+)"', status.text)
    assert access is not None
    added = session.post(
        f"{stack.url}/zh-hant/followup",
        data={"csrf_token": _csrf(status.text), "access": access.group(1), "narrative": f"{canary} 補充"},
        files={"attachments": ("更多.png", b"\x89PNG more evidence", "image/png")},
        timeout=30,
    )
    assert added.status_code == 200

    assert re.search(r"added 2\b", _flask("admin", ["sync"], stack.admin_env, stdin=PASSPHRASE + "\n"))
    console = admin.create_app({"DATA_DIR": str(stack.admin_data), "ARGON2ID": {}, "TESTING": True})
    try:
        with console.extensions[DB_EXTENSION].session() as db:
            rows = db.execute(select(Case.envelope_id, Case.follows).order_by(Case.seq)).all()
    finally:
        console.extensions[DB_EXTENSION].engine.dispose()
    (report_id, report_follows), (_followup_id, followup_follows) = rows
    assert report_follows is None
    assert followup_follows == report_id
    shown = _flask("admin", ["cases", "show", _followup_id], stack.admin_env, stdin=PASSPHRASE + "\n")
    assert f"{canary} 補充" in shown and "更多.png" in shown
