"""Helpers of the console tests: constants, login actions, and a fake intake
that serves envelopes sealed to a test organization key over real HTTP on
127.0.0.1, following the reviewer API contract."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from flask import Flask, Response, jsonify, request
from flask.testing import FlaskClient
from werkzeug.serving import make_server

from admin import accounts, custody
from admin.extensions import DB_EXTENSION, KEYRING_EXTENSION
from intake.envelope import AttachmentInput, RecipientPrivateKey, SealedEnvelope, seal
from intake.envelope.keys import b64encode

CHEAP_ARGON2ID = {"memory_kib": 1024, "iterations": 1, "lanes": 1}
PASSPHRASE = "test passphrase for the org key"
PASSWORD = "test password, long enough"
RECIPIENT_ID = "test-org"


def canary() -> str:
    """A unique marker to look for in pages, output and stored bytes."""
    return f"CANARY-{secrets.token_hex(8)}"


def files_containing(directory: Path, needle: bytes) -> list[Path]:
    """Every file under ``directory`` whose bytes contain ``needle``."""
    return [p for p in directory.rglob("*") if p.is_file() and needle in p.read_bytes()]


def unlock(app: Flask, passphrase: str = PASSPHRASE) -> None:
    """Unlock the app's keyring directly (no web round trip)."""
    with app.app_context(), app.extensions[DB_EXTENSION].session() as session:
        keyring = app.extensions[KEYRING_EXTENSION]
        custody.unlock(keyring, session, Path(app.config["DATA_DIR"]), passphrase)


def is_unlocked(app: Flask) -> bool:
    return bool(app.extensions[KEYRING_EXTENSION].unlocked)


class AuthActions:
    """Create accounts and log in through the login form."""

    def __init__(self, app: Flask, client: FlaskClient) -> None:
        self._app = app
        self._client = client

    def create(self, role: str = "coordinator", email: str | None = None, password: str = PASSWORD) -> str:
        email = email or f"{role}-{secrets.token_hex(3)}@example.org"
        with self._app.app_context(), self._app.extensions[DB_EXTENSION].session() as session:
            accounts.create_user(session, email, password, role, CHEAP_ARGON2ID)
        return email

    def login(self, email: str, password: str = PASSWORD) -> Any:
        return self._client.post("/login", data={"email": email, "password": password})

    def login_as(self, role: str) -> str:
        email = self.create(role)
        response = self.login(email)
        assert response.status_code == 302, response.status_code
        return email

    def logout(self) -> Any:
        return self._client.post("/logout")


@dataclass
class Served:
    """An envelope as the fake intake serves it; a test may change the parts
    before a sync."""

    seq: int
    sealed: SealedEnvelope
    header: bytes
    body: bytes
    attachments: list[bytes] = field(default_factory=list)
    fail_download: bool = False

    @property
    def envelope_id(self) -> str:
        return self.sealed.envelope_id


class FakeIntake:
    """The reviewer API on a loopback HTTP server (werkzeug, threaded)."""

    PIECE = 10_007  # an odd size, so the console must cut chunks itself

    def __init__(self, key: RecipientPrivateKey) -> None:
        self.key = key
        self.token = secrets.token_urlsafe(24)
        self.envelopes: list[Served] = []
        self.app = Flask("fake_intake")
        self.app.add_url_rule("/api/v1/envelopes", view_func=self._list)
        self.app.add_url_rule(
            "/api/v1/envelopes/<envelope_id>/attachments/<int:index>", view_func=self._attachment
        )
        self._server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def add(
        self,
        report: dict[str, Any],
        attachments: tuple[AttachmentInput, ...] = (),
        *,
        day: date = date(2026, 11, 2),
        sealed_by: str = "server",
    ) -> Served:
        sealed = seal(report, [self.key.public_key], day=day, sealed_by=sealed_by, attachments=attachments)
        served = Served(
            seq=len(self.envelopes) + 1,
            sealed=sealed,
            header=sealed.header,
            body=sealed.body,
            attachments=list(sealed.attachments),
        )
        self.envelopes.append(served)
        return served

    def _authorized(self) -> bool:
        return request.headers.get("Authorization") == f"Bearer {self.token}"

    def _list(self) -> Any:
        if not self._authorized():
            return jsonify(error="bad token"), 401
        after = request.args.get("after", 0, type=int)
        limit = request.args.get("limit", 100, type=int)
        if not 1 <= limit <= 100:
            return jsonify(error="bad limit"), 400
        newer = [e for e in self.envelopes if e.seq > after]
        return jsonify(envelopes=[self._item(e) for e in newer[:limit]], more=len(newer) > limit)

    def _item(self, e: Served) -> dict[str, Any]:
        return {
            "seq": e.seq,
            "id": e.envelope_id,
            "day": "2026-11-02",
            "header": b64encode(e.header),
            "body": b64encode(e.body),
            "attachments": [
                {"index": i, "size": len(a), "url": f"/api/v1/envelopes/{e.envelope_id}/attachments/{i}"}
                for i, a in enumerate(e.attachments)
            ],
        }

    def _attachment(self, envelope_id: str, index: int) -> Any:
        if not self._authorized():
            return jsonify(error="bad token"), 401
        for e in self.envelopes:
            if e.envelope_id == envelope_id and 0 <= index < len(e.attachments):
                if e.fail_download:
                    return jsonify(error="storage unavailable"), 503
                pieces = _pieces(e.attachments[index], self.PIECE)
                return Response(pieces, mimetype="application/octet-stream")
        return jsonify(error="not found"), 404


def _pieces(data: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]
