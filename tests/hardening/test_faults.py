"""Faults (invariant 5, "acknowledged means durable"): a worker killed
mid-upload or between blob write and commit, the database down, the disk
full, the same form posted twice. Nothing half-stored reaches a console, no
receipt without a commit, nothing acknowledged is lost."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from flask import Flask
from sqlalchemy import func, select

import intake
from core.envelope import RecipientPrivateKey, SealedEnvelope, open_envelope, seal
from core.receipts import new_submission_token, submission_hash
from core.timing import today_utc
from intake.api.tokens import create_token
from intake.store.blobs import FileBlobStore
from intake.store.envelopes import DuplicateSubmissionError, remove_orphans, store_envelope
from intake.store.models import Envelope

from ..conftest import Databases
from ..helpers import multipart, write_key_file
from . import servers
from .servers import RECEIPT, csrf_token, hidden

ROOT = Path(__file__).resolve().parents[2]
#: The recipient the form is sent to (the form asks which organizations).
ORG = "test-org"


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, RecipientPrivateKey]:
    directory = tmp_path / "keys"
    return directory, write_key_file(directory, "test-org")


def _app(tmp_path: Path, keys_dir: Path, **config: object) -> Flask:
    return intake.create_app(
        {
            "TESTING": True,
            "DATA_DIR": str(tmp_path / "data"),
            "KEYS_DIR": str(keys_dir),
            "WTF_CSRF_ENABLED": False,
            **config,
        }
    )


def _count(app: Flask) -> int:
    with app.extensions["intake.db"].sessions() as session:
        return int(session.scalar(select(func.count()).select_from(Envelope)) or 0)


def _api_ids(app: Flask) -> list[str]:
    with app.app_context(), app.extensions["intake.db"].sessions() as session:
        token = create_token(session, "test-org")
    doc = app.test_client().get("/api/v1/envelopes", headers={"Authorization": f"Bearer {token}"}).get_json()
    return [e["id"] for e in doc["envelopes"]]


def _open_all(app: Flask, key: RecipientPrivateKey) -> list[str]:
    db, blobs = app.extensions["intake.db"], app.extensions["intake.blobs"]
    with db.sessions() as session:
        rows = list(session.scalars(select(Envelope).order_by(Envelope.seq)))
    narratives = []
    for row in rows:
        attachments = tuple(b"".join(blobs.read_chunks(row.envelope_id, i)) for i in range(len(row.sizes)))
        opened = open_envelope(SealedEnvelope(row.header, row.body, attachments), [key])
        narratives.append(opened.report["narrative"])
    return narratives


# --- a worker killed


@pytest.mark.e2e
def test_worker_killed_mid_upload_leaves_nothing(
    tmp_path: Path, keys: tuple[Path, RecipientPrivateKey], databases: Databases
) -> None:
    keys_dir, _key = keys
    env = {"INTAKE_DATA_DIR": str(tmp_path / "data"), "INTAKE_KEYS_DIR": str(keys_dir), **databases.env()}
    server = servers.start("intake", env, tmp_path / "gunicorn.log", workers=1)
    try:
        session = requests.Session()
        form = session.get(f"{server.url}/en/", timeout=10).text
        body, content_type = multipart(
            {
                "csrf_token": csrf_token(form),
                "submission": hidden(form, "submission"),
                "recipients": ORG,
                "narrative": "half an upload",
                "attachments": (os.urandom(8 * 1024 * 1024), "big.bin", "application/octet-stream"),
            }
        )
        cookie = "; ".join(f"{c.name}={c.value}" for c in session.cookies)
        host, port = server.url.removeprefix("http://").split(":")
        [worker] = server.worker_pids()
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            head = (
                f"POST /en/ HTTP/1.1\r\nHost: {host}\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(body)}\r\nCookie: {cookie}\r\n\r\n"
            )
            sock.sendall(head.encode() + body[: len(body) // 2])
            time.sleep(0.5)  # the worker is reading the body now
            os.kill(worker, signal.SIGKILL)
            sock.settimeout(10)
            assert sock.recv(4096) == b"", "no answer, so no receipt"
        deadline = time.monotonic() + 30
        while not server.worker_pids() or server.worker_pids() == [worker]:
            assert time.monotonic() < deadline, "gunicorn did not replace the worker"
            time.sleep(0.1)
    finally:
        server.stop()
    app = _app(tmp_path, keys_dir)
    try:
        assert _count(app) == 0
        assert _api_ids(app) == []
        with app.extensions["intake.db"].sessions() as session:
            assert remove_orphans(session, app.extensions["intake.blobs"]) == 0
    finally:
        app.extensions["intake.db"].engine.dispose()


KILL_BEFORE_COMMIT = """
import io, os, signal, sys
from sqlalchemy.orm import Session
import intake
app = intake.create_app({"TESTING": True, "WTF_CSRF_ENABLED": False})
def die(self, *a, **k):
    os.kill(os.getpid(), signal.SIGKILL)
Session.commit = die
attachment = (io.BytesIO(b"x" * 70000), "a.bin")
form = {"recipients": "test-org", "narrative": "never acknowledged", "attachments": [attachment]}
app.test_client().post("/en/", data=form)
sys.exit(3)
"""


def test_kill_between_blob_write_and_commit(
    tmp_path: Path, keys: tuple[Path, RecipientPrivateKey], databases: Databases
) -> None:
    keys_dir, key = keys
    app = _app(tmp_path, keys_dir)
    client = app.test_client()
    body, content_type = multipart({"recipients": ORG, "narrative": "acknowledged before the crash"})
    assert RECEIPT.search(client.post("/en/", data=body, content_type=content_type).get_data(as_text=True))
    app.extensions["intake.db"].engine.dispose()

    env = servers.clean_env(
        {"INTAKE_DATA_DIR": str(tmp_path / "data"), "INTAKE_KEYS_DIR": str(keys_dir), **databases.env()}
    )
    result = subprocess.run(
        [sys.executable, "-c", KILL_BEFORE_COMMIT], cwd=ROOT, env=env, timeout=120, check=False
    )
    assert result.returncode == -signal.SIGKILL

    app = _app(tmp_path, keys_dir)
    try:
        assert _count(app) == 1
        assert _open_all(app, key) == ["acknowledged before the crash"]
        assert len(_api_ids(app)) == 1
        blobs = app.extensions["intake.blobs"]
        # Files: the crashed envelope's folder is an orphan, which no console
        # sees and which remove-orphans clears. Database: nothing at all.
        expected = 1 if isinstance(blobs, FileBlobStore) else 0
        with app.extensions["intake.db"].sessions() as session:
            assert remove_orphans(session, blobs) == expected
            assert remove_orphans(session, blobs) == 0
        assert _open_all(app, key) == ["acknowledged before the crash"]
    finally:
        app.extensions["intake.db"].engine.dispose()


# --- the database down


@pytest.mark.parametrize(("lang", "phrase"), [("en", "Nothing was sent"), ("zh-hant", None)])
def test_database_down_gives_translated_503_and_no_receipt(
    tmp_path: Path, keys: tuple[Path, RecipientPrivateKey], lang: str, phrase: str | None
) -> None:
    keys_dir, _key = keys
    app = _app(tmp_path, keys_dir)
    english = app.test_client().get("/en/").get_data(as_text=True)
    # Point the app at a PostgreSQL port where nothing listens.
    db = app.extensions["intake.db"]
    db.engine.dispose()
    from core.db import make_engine

    dead = make_engine(f"postgresql+psycopg://nobody@127.0.0.1:{servers.free_port()}/none")
    db.engine = dead
    db.sessions.configure(bind=dead)
    try:
        client = app.test_client()
        body, content_type = multipart({"recipients": ORG, "narrative": "while the database is down"})
        response = client.post(f"/{lang}/", data=body, content_type=content_type)
        html = response.get_data(as_text=True)
        assert response.status_code == 503
        assert not RECEIPT.search(html)
        if phrase:
            assert phrase in html
        else:
            assert 'lang="zh-Hant"' in html and "Nothing was sent" not in html
        assert "Traceback" not in html and "psycopg" not in html
        api = client.get("/api/v1/envelopes", headers={"Authorization": "Bearer tnr_x"})
        assert api.status_code == 503 and api.get_json() == {"error": "Service Unavailable"}
        assert "Tell us what happened" in english
    finally:
        dead.dispose()


# --- the disk full


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], check=False)
    if done.returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_full_disk_clear_error_and_nothing_acknowledged_lost(
    tmp_path: Path, keys: tuple[Path, RecipientPrivateKey], small_disk: Path
) -> None:
    keys_dir, key = keys
    # SQLite and attachment files both on the 4 MiB disk.
    app = intake.create_app(
        {
            "TESTING": True,
            "DATA_DIR": str(small_disk),
            "KEYS_DIR": str(keys_dir),
            "WTF_CSRF_ENABLED": False,
            "DATABASE_URL": f"sqlite:///{small_disk / 'intake.db'}",
            "BLOB_STORE": "files",
            # The free-disk floor off (even 0 would refuse an upload larger
            # than the space left, before the store): this is about the store
            # when the disk really fills (the floor: tests/hardening/test_floods.py).
            "MIN_FREE_DISK": -(2**62),
        }
    )
    client = app.test_client()
    acknowledged = []
    try:
        for i in range(3):
            body, ct = multipart(
                {
                    "recipients": ORG,
                    "narrative": f"report {i}",
                    "attachments": (os.urandom(200_000), "a.bin", "x/y"),
                }
            )
            response = client.post("/en/", data=body, content_type=ct)
            assert response.status_code == 200 and RECEIPT.search(response.get_data(as_text=True))
            acknowledged.append(f"report {i}")
        # An attachment larger than the space left.
        body, ct = multipart(
            {
                "recipients": ORG,
                "narrative": "too big",
                "attachments": (os.urandom(3_500_000), "b.bin", "x/y"),
            }
        )
        response = client.post("/en/", data=body, content_type=ct)
        html = response.get_data(as_text=True)
        assert response.status_code == 503
        assert "Nothing was sent" in html and not RECEIPT.search(html)
        # Fill the disk to the last byte: then the database write fails too.
        filler = small_disk / "filler"
        with open(filler, "wb") as fh:
            try:
                while True:
                    fh.write(b"\0" * 65536)
                    fh.flush()
            except OSError:
                pass
        body, ct = multipart(
            {
                "recipients": ORG,
                "narrative": "no space at all",
                "attachments": (b"z" * 70_000, "c.bin", "x/y"),
            }
        )
        response = client.post("/en/", data=body, content_type=ct)
        assert response.status_code == 503 and not RECEIPT.search(response.get_data(as_text=True))
        filler.unlink()
        assert _open_all(app, key) == acknowledged
        assert len(app.extensions["intake.blobs"].envelope_ids()) == 3, "no partial blob left behind"
        # Space back: the intake works again.
        body, ct = multipart({"recipients": ORG, "narrative": "after"})
        assert client.post("/en/", data=body, content_type=ct).status_code == 200
        assert _open_all(app, key) == [*acknowledged, "after"]
    finally:
        app.extensions["intake.db"].engine.dispose()


# --- the same form twice


def test_store_refuses_a_second_envelope_with_the_same_submission(
    tmp_path: Path, keys: tuple[Path, RecipientPrivateKey]
) -> None:
    keys_dir, key = keys
    app = _app(tmp_path, keys_dir)
    keyring = app.extensions["intake.keyring"]
    db, blobs = app.extensions["intake.db"], app.extensions["intake.blobs"]
    marker = submission_hash(app.config["RECEIPT_SECRET"], new_submission_token())
    try:
        for attempt in range(2):
            sealed = seal(
                {"narrative": f"try {attempt}"}, keyring.seal_targets(), day=today_utc(), sealed_by="browser"
            )
            with db.sessions() as session:
                if attempt == 0:
                    store_envelope(session, blobs, sealed, keyring.recipient_of_key(), submission_hash=marker)
                else:
                    with pytest.raises(DuplicateSubmissionError):
                        store_envelope(
                            session, blobs, sealed, keyring.recipient_of_key(), submission_hash=marker
                        )
        assert _open_all(app, key) == ["try 0"]
        assert len(blobs.envelope_ids()) <= 1  # the refused one left no folder
    finally:
        db.engine.dispose()


def test_double_post_of_one_form_stores_one_envelope(
    tmp_path: Path, keys: tuple[Path, RecipientPrivateKey]
) -> None:
    keys_dir, key = keys
    app = _app(tmp_path, keys_dir)
    client = app.test_client()
    try:
        token = hidden(client.get("/en/").get_data(as_text=True), "submission")
        body, ct = multipart({"recipients": ORG, "narrative": "once", "submission": token})
        first = client.post("/en/", data=body, content_type=ct).get_data(as_text=True)
        again = client.post("/en/", data=body, content_type=ct)
        assert RECEIPT.search(first)
        assert again.status_code == 200
        assert "received already" in again.get_data(as_text=True)
        assert not RECEIPT.search(again.get_data(as_text=True)), "a receipt is shown only once"
        assert _open_all(app, key) == ["once"]
        # A new form (a new token) is a new report.
        token2 = hidden(client.get("/en/").get_data(as_text=True), "submission")
        assert token2 != token
        body, ct = multipart({"recipients": ORG, "narrative": "twice", "submission": token2})
        assert RECEIPT.search(client.post("/en/", data=body, content_type=ct).get_data(as_text=True))
        # A form re-shown after an error keeps its token.
        token3 = hidden(client.get("/en/").get_data(as_text=True), "submission")
        body, ct = multipart({"recipients": ORG, "narrative": "", "submission": token3})
        assert (
            hidden(client.post("/en/", data=body, content_type=ct).get_data(as_text=True), "submission")
            == token3
        )
        # A malformed token is replaced, never stored as given.
        body, ct = multipart({"recipients": ORG, "narrative": "odd token", "submission": "x" * 500})
        assert RECEIPT.search(client.post("/en/", data=body, content_type=ct).get_data(as_text=True))
        assert _open_all(app, key) == ["once", "twice", "odd token"]
    finally:
        app.extensions["intake.db"].engine.dispose()


@pytest.mark.e2e
def test_racing_double_click_through_gunicorn(
    tmp_path: Path, keys: tuple[Path, RecipientPrivateKey], databases: Databases
) -> None:
    keys_dir, key = keys
    env = {"INTAKE_DATA_DIR": str(tmp_path / "data"), "INTAKE_KEYS_DIR": str(keys_dir), **databases.env()}
    server = servers.start("intake", env, tmp_path / "gunicorn.log", workers=2)
    try:
        for round_ in range(3):
            session = requests.Session()
            form = session.get(f"{server.url}/en/", timeout=10).text
            data = {
                "csrf_token": csrf_token(form),
                "submission": hidden(form, "submission"),
                "narrative": f"double click {round_}",
                "recipients": ORG,
            }
            results: list[str] = []
            barrier = threading.Barrier(4)

            def click(
                barrier: threading.Barrier, cookies: object, data: dict[str, str], results: list[str]
            ) -> None:
                barrier.wait()
                r = requests.post(f"{server.url}/en/", data=data, cookies=cookies, timeout=30)  # type: ignore[arg-type]
                results.append(f"{r.status_code}:{'receipt' if RECEIPT.search(r.text) else 'none'}")

            args = (barrier, session.cookies.copy(), data, results)
            threads = [threading.Thread(target=click, args=args) for _ in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert sorted(results) == ["200:none"] * 3 + ["200:receipt"], results
    finally:
        server.stop()
    app = _app(tmp_path, keys_dir)
    try:
        assert sorted(_open_all(app, key)) == [f"double click {i}" for i in range(3)]
    finally:
        app.extensions["intake.db"].engine.dispose()
