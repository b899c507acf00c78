"""Helpers of the console tests: constants, login actions, and a fake intake
that serves envelopes sealed to a test organization key over real HTTP on
127.0.0.1, following the reviewer API contract."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import logging
import multiprocessing
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import cbor2
import pyotp
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from flask import Flask, Response, jsonify, request
from flask.testing import FlaskClient
from werkzeug.serving import make_server

from admin import create_app
from admin.auth import accounts
from admin.extensions import DB_EXTENSION, KEYRING_EXTENSION
from admin.keys import custody
from admin.keys.roster import Roster
from admin.sync.client import IntakeClient
from admin.sync.run import MAX_PAGE_SIZE, sync
from admin.sync.storage import SyncResult
from core.envelope import (
    AttachmentInput,
    RecipientPrivateKey,
    RecipientPublicKey,
    SealedEnvelope,
    parse_header,
    seal,
)
from core.envelope.keys import b64decode, b64encode

CHEAP_ARGON2ID = {"memory_kib": 1024, "iterations": 1, "lanes": 1}
PASSPHRASE = "test passphrase for the org key"
PASSWORD = "test password, long enough"
RECIPIENT_ID = "test-org"


@contextmanager
def console_apps(data_dir: Path, **defaults: Any) -> Iterator[Callable[..., Flask]]:
    """A factory of console apps for tests, in ``data_dir``: testing mode,
    cheap Argon2id (:data:`CHEAP_ARGON2ID`), no CSRF and no login time
    floor unless a test asks; ``defaults`` and then each call's overrides
    win. Every app's database engine is disposed at the end. The one place
    the test console is configured (tests/admin, tests/briefing and
    tests/hardening use it)."""
    apps: list[Flask] = []

    def make(**overrides: Any) -> Flask:
        config = {
            "TESTING": True,
            "DATA_DIR": str(data_dir),
            "SECRET_KEY": "test-only-secret",
            "ARGON2ID": CHEAP_ARGON2ID,
            "WTF_CSRF_ENABLED": False,
            # No login floor in tests (tests/hardening/test_timing.py sets one).
            "LOGIN_TIME_FLOOR": 0,
            **defaults,
            **overrides,
        }
        app = create_app(config)
        apps.append(app)
        return app

    try:
        yield make
    finally:
        for app in apps:
            app.extensions[DB_EXTENSION].engine.dispose()


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


def pin_roster(app: Flask, *others: RecipientPublicKey, recipient_id: str = "other-org") -> Roster:
    """Pin a coalition roster in ``app`` (admin/keys/roster.py) as ``roster
    import`` would: every key this console holds (its private key files,
    under their own recipient ids) and ``others`` under ``recipient_id``.
    Without one, a console pins its own keys only, so a test that syncs
    envelopes sealed to other organizations' keys pins them here."""
    from admin.keys import roster

    data_dir = Path(app.config["DATA_DIR"])
    today = date.today()
    entries = []
    for info, _doc in custody.list_private_keys(data_dir):
        entries.append(_entry(info.recipient_id, _public_of(data_dir, info.key_id), today))
    entries += [_entry(recipient_id, key, today) for key in others]
    made = roster.Roster.of(entries)
    with app.app_context(), app.extensions[DB_EXTENSION].session() as session:
        roster.pin(session, made, today)
    return made


def _entry(recipient_id: str, key: RecipientPublicKey, today: date) -> Any:
    from admin.keys.roster import RosterEntry

    return RosterEntry(
        recipient_id,
        f"{recipient_id} (en)",
        f"{recipient_id} (zh)",
        key,
        today,
        today.replace(year=today.year + 2),
    )


#: Public halves of the private keys tests store, by key id (the private key
#: files hold the key id only; the tests made the keys, so they know them).
PUBLIC_KEYS: dict[str, RecipientPublicKey] = {}


def _public_of(data_dir: Path, key_id: str) -> RecipientPublicKey:
    try:
        return PUBLIC_KEYS[key_id]
    except KeyError:
        raise AssertionError("store test keys with admin_testlib.store_key to pin them") from None


def store_key(key: RecipientPrivateKey, data_dir: Path, recipient_id: str = RECIPIENT_ID) -> Path:
    """:func:`admin.keys.custody.store_private_key` under PASSPHRASE with cheap
    Argon2id, remembering the public half for :func:`pin_roster`."""
    PUBLIC_KEYS[key.key_id] = key.public_key
    return custody.store_private_key(
        key, PASSPHRASE, recipient_id=recipient_id, data_dir=data_dir, argon2id=CHEAP_ARGON2ID
    )


def sync_from(app: Flask, fake: FakeIntake, page_size: int = MAX_PAGE_SIZE, **options: Any) -> SyncResult:
    """Sync ``app`` from ``fake`` as the console does (:func:`admin.sync.run.sync`
    with the app's database, keyring and data folder); the key must be
    unlocked. ``options`` go to ``sync`` (``progress``, ``into``, ``stop`` …)."""
    with IntakeClient(fake.url, fake.token) as client:
        return sync(
            app.extensions[DB_EXTENSION],
            app.extensions[KEYRING_EXTENSION],
            Path(app.config["DATA_DIR"]),
            client,
            page_size,
            **options,
        )


def synced(app: Flask, fake: FakeIntake) -> SyncResult:
    """Unlock the key, then :func:`sync_from`."""
    unlock(app)
    return sync_from(app, fake)


def is_unlocked(app: Flask) -> bool:
    return bool(app.extensions[KEYRING_EXTENSION].unlocked)


def totp_code(secret: str, step: int) -> str:
    """The TOTP code of ``secret`` for a 30-second ``step``."""
    return str(pyotp.TOTP(secret).at(step * accounts.TOTP_STEP))


class AuthActions:
    """Create accounts and log in through the login form and a second factor.

    ``create`` enrols an authenticator app for the account (TOTP secret kept
    here, in :attr:`secrets`), unless ``totp=False``."""

    def __init__(self, app: Flask, client: FlaskClient) -> None:
        self._app = app
        self._client = client
        self.secrets: dict[str, str] = {}

    def create(
        self,
        role: str = "coordinator",
        email: str | None = None,
        password: str = PASSWORD,
        *,
        totp: bool = True,
    ) -> str:
        email = email or f"{role}-{secrets.token_hex(3)}@example.org"
        with self._app.app_context(), self._app.extensions[DB_EXTENSION].session() as session:
            user = accounts.create_user(session, email, password, role, CHEAP_ARGON2ID)
            if totp:
                secret = accounts.new_totp_secret()
                user.totp_secret_ct = accounts.encrypt_totp_secret(
                    self._app.config["SECRET_KEY"], user.id, secret
                )
                self.secrets[user.email] = secret
        return email

    def next_code(self, email: str) -> str:
        """A code the console accepts now and still accepts after the next
        step boundary: the current step, or the next one when the current
        one is used already. The step before the current one is never
        chosen: on a loaded machine the request can reach the console after
        a boundary, and that code would then be two steps old and refused
        (seen as a random failed login on the PostgreSQL run). When both are
        used, wait for the next step."""
        with self._app.app_context(), self._app.extensions[DB_EXTENSION].session() as session:
            user = accounts.find_user(session, email)
            assert user is not None
            last = user.totp_last_step
        current = int(time.time()) // accounts.TOTP_STEP
        if last + 1 > current + 1:
            time.sleep((current + 1) * accounts.TOTP_STEP - time.time() + 0.05)
            current += 1
        step = max(current, last + 1)
        return totp_code(self.secrets[accounts.normalize_email(email)], step)

    def login(self, email: str, password: str = PASSWORD) -> Any:
        """The password step only (a 302 to the second factor on success)."""
        return self._client.post("/login", data={"email": email, "password": password})

    def second_factor(self, email: str) -> Any:
        return self._client.post("/login/totp", data={"code": self.next_code(email)})

    def full_login(self, email: str, password: str = PASSWORD) -> Any:
        first = self.login(email, password)
        assert first.status_code == 302, first.status_code
        assert first.headers["Location"].endswith("/login/second-factor"), first.headers["Location"]
        return self.second_factor(email)

    def login_as(self, role: str) -> str:
        email = self.create(role)
        response = self.full_login(email)
        assert response.status_code == 302, response.status_code
        assert response.headers["Location"].endswith("/"), response.headers["Location"]
        return email

    def logout(self) -> Any:
        return self._client.post("/logout")


class SoftAuthenticator:
    """A software WebAuthn authenticator (packed-less "none" attestation,
    ES256), enough to drive the console's WebAuthn endpoints in tests."""

    def __init__(self, rp_id: str = "localhost", origin: str = "http://localhost") -> None:
        self.rp_id = rp_id
        self.origin = origin
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = secrets.token_bytes(16)
        self.counter = 0

    def _client_data(self, kind: str, challenge_b64url: str, origin: str | None = None) -> bytes:
        return json.dumps(
            {
                "type": kind,
                "challenge": challenge_b64url,
                "origin": origin or self.origin,
                "crossOrigin": False,
            }
        ).encode()

    def _cose_key(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        return cbor2.dumps(
            {1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")}
        )

    def create(self, options: dict[str, Any], origin: str | None = None) -> dict[str, Any]:
        rp_hash = hashlib.sha256(self.rp_id.encode()).digest()
        self.counter += 1
        attested = (
            bytes(16) + len(self.credential_id).to_bytes(2, "big") + self.credential_id + self._cose_key()
        )
        auth_data = rp_hash + bytes([0x41]) + self.counter.to_bytes(4, "big") + attested
        client_data = self._client_data("webauthn.create", options["challenge"], origin)
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return {
            "id": _b64url(self.credential_id),
            "rawId": _b64url(self.credential_id),
            "type": "public-key",
            "response": {"clientDataJSON": _b64url(client_data), "attestationObject": _b64url(attestation)},
            "clientExtensionResults": {},
        }

    def get(self, options: dict[str, Any], origin: str | None = None) -> dict[str, Any]:
        rp_hash = hashlib.sha256(self.rp_id.encode()).digest()
        self.counter += 1
        auth_data = rp_hash + bytes([0x01]) + self.counter.to_bytes(4, "big")
        client_data = self._client_data("webauthn.get", options["challenge"], origin)
        signature = self.key.sign(auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256()))
        return {
            "id": _b64url(self.credential_id),
            "rawId": _b64url(self.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": _b64url(client_data),
                "authenticatorData": _b64url(auth_data),
                "signature": _b64url(signature),
                "userHandle": None,
            },
            "clientExtensionResults": {},
        }


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class VirtualSecurityKey:
    """A security key in Chromium, and the console's login steps with it.

    Chromium's virtual WebAuthn authenticator (CDP ``WebAuthn.enable``,
    ``WebAuthn.addVirtualAuthenticator``: CTAP2 over USB, resident keys,
    user verified, touched without asking) on ``page`` of the Playwright
    browser ``context``; the console at ``base``, whose host must be a name
    in a secure context (WebAuthn refuses an IP address as relying party
    id: ``localhost`` mapped to 127.0.0.1, or HTTPS with a name)."""

    OPTIONS: dict[str, Any] = {
        "protocol": "ctap2",
        "transport": "usb",
        "hasResidentKey": True,
        "hasUserVerification": True,
        "isUserVerified": True,
        "automaticPresenceSimulation": True,
    }

    def __init__(self, context: Any, page: Any, base: str) -> None:
        self.page = page
        self.base = base
        self.cdp = context.new_cdp_session(page)
        self.cdp.send("WebAuthn.enable")
        added = self.cdp.send("WebAuthn.addVirtualAuthenticator", {"options": self.OPTIONS})
        self.authenticator_id = added["authenticatorId"]

    def credentials(self) -> list[dict[str, Any]]:
        """The credentials the authenticator holds (one per registration)."""
        found = self.cdp.send("WebAuthn.getCredentials", {"authenticatorId": self.authenticator_id})
        return list(found["credentials"])

    def _password(self, email: str, password: str) -> None:
        self.page.goto(f"{self.base}/login")
        self.page.fill("input[name=email]", email)
        self.page.fill("input[name=password]", password)
        self.page.click("input[type=submit]")

    def enrol(self, email: str, password: str = PASSWORD) -> None:
        """An account's first login: the password, then this key registered
        on the enrolment page; ends on the inbox, the key holding one
        credential."""
        self._password(email, password)
        self.page.wait_for_url(f"{self.base}/login/enrol")
        self.page.fill("#webauthn-name", "virtual key")
        self.page.click("#webauthn-register")
        self.page.wait_for_url(f"{self.base}/")
        assert len(self.credentials()) == 1

    def log_in(self, email: str, password: str = PASSWORD) -> None:
        """A later login: the password, then this key on the second-factor
        page; ends on the inbox."""
        self._password(email, password)
        self.page.wait_for_url(f"{self.base}/login/second-factor")
        self.page.click("#webauthn-login")
        self.page.wait_for_url(f"{self.base}/")


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
    #: The intake API's ``follows``: the report a follow-up adds to.
    follows: str | None = None
    #: The API's ``day``: the header's, as the intake stores it.
    day: str = "2026-11-02"

    @property
    def envelope_id(self) -> str:
        return self.sealed.envelope_id


class FakeIntake:
    """The reviewer API on a loopback HTTP server (werkzeug, threaded), for
    one organization. tests/admin/test_fake_intake_contract.py runs the
    same assertions against it and the real intake."""

    PIECE = 10_007  # an odd size, so the console must cut chunks itself

    def __init__(self, key: RecipientPrivateKey) -> None:
        self.key = key
        self.token = secrets.token_urlsafe(24)
        self.envelopes: list[Served] = []
        #: Page responses built ahead by :meth:`prebuild`, by (after, limit).
        self._pages: dict[tuple[int, int], bytes] = {}
        #: At most this many envelopes a page, whatever the limit asked, as
        #: the real intake stops a page at its byte budget (None: the limit).
        self.page_cap: int | None = None
        #: The largest page the API accepts (100 before pages of 500).
        self.max_limit = 500
        #: When set, every page request waits until the event is set (at
        #: most 30 s): a sync that is slow on the network.
        self.gate: threading.Event | None = None
        #: Send pages gzip-compressed (Content-Encoding), as a proxy might,
        #: with this many bytes of padding in an extra key (which compress
        #: to almost nothing).
        self.gzip_pages = False
        self.page_padding = 0
        self.app = Flask("fake_intake")
        self.app.add_url_rule("/api/v1/envelopes", view_func=self._list)
        self.app.add_url_rule(
            "/api/v1/envelopes/<envelope_id>/attachments/<int:index>", view_func=self._attachment
        )
        self.app.add_url_rule(
            "/api/v1/envelopes/<envelope_id>/replies", view_func=self._reply, methods=["POST"]
        )
        self.app.add_url_rule("/api/v1/envelopes/<envelope_id>", view_func=self._delete, methods=["DELETE"])
        #: Replies the console handed over: (report envelope id, header, body).
        self.replies: list[tuple[str, bytes, bytes]] = []
        #: Envelopes another organization also holds: a delete keeps them.
        self.others: set[str] = set()
        #: The envelope ids the console asked to delete, in order.
        self.deletes: list[str] = []
        self._server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._child: multiprocessing.process.BaseProcess | None = None

    def start(self) -> None:
        self._thread.start()

    def start_in_child(self) -> None:
        """Serve from a forked child process instead of a thread, as a real
        intake is another process: its work then shares neither this
        interpreter nor its lock (benchmarks). Fork before this process
        starts threads; later edits to the envelopes are not seen by the
        child. :meth:`stop` ends it."""
        self._child = multiprocessing.get_context("fork").Process(target=self._serve_quietly, daemon=True)
        self._child.start()

    def _serve_quietly(self) -> None:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
        self._server.serve_forever()

    def stop(self) -> None:
        if self._child is not None:
            self._child.terminate()
            self._child.join(5)
            self._server.server_close()
            return
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
        reply_key: bytes | None = None,
        **seal_options: Any,
    ) -> Served:
        """Seal ``report`` to the organization's key and serve it next;
        ``seal_options`` go to :func:`core.envelope.seal` (``auth``,
        ``envelope_id``: format v2)."""
        sealed = seal(
            report,
            [self.key.public_key],
            day=day,
            sealed_by=sealed_by,
            attachments=attachments,
            reply_key=reply_key,
            **seal_options,
        )
        return self.serve(sealed)

    def serve(self, sealed: SealedEnvelope) -> Served:
        """Serve an envelope sealed elsewhere next (as :meth:`add` does)."""
        served = Served(
            seq=len(self.envelopes) + 1,
            sealed=sealed,
            header=sealed.header,
            body=sealed.body,
            attachments=list(sealed.attachments),
            day=parse_header(sealed.header).day.isoformat(),
        )
        self.envelopes.append(served)
        self._pages.clear()
        return served

    def prebuild(self, limit: int = 100) -> None:
        """Build every page a sync from 0 asks for (``after`` = 0, ``limit``,
        2 x ``limit``, ...) now, and serve those bytes as they are: the
        benchmark measures the console's sync, not this server's JSON and
        base64. Dropped by :meth:`add`; a test that edits a :class:`Served`
        afterwards must not use it."""
        self._pages.clear()
        for after in range(0, len(self.envelopes) + 1, limit):
            newer = [e for e in self.envelopes if e.seq > after]
            self._pages[(after, limit)] = json.dumps(
                {"envelopes": [self._item(e) for e in newer[:limit]], "more": len(newer) > limit}
            ).encode("ascii")

    def _authorized(self) -> bool:
        return request.headers.get("Authorization") == f"Bearer {self.token}"

    def _list(self) -> Any:
        if not self._authorized():
            return jsonify(error="bad token"), 401
        if self.gate is not None:
            self.gate.wait(30)
        after = request.args.get("after", 0, type=int)
        limit = request.args.get("limit", 100, type=int)
        if not 1 <= limit <= self.max_limit:
            return jsonify(error="bad limit"), 400
        built = self._pages.get((after, limit))
        if built is not None:
            return Response(built, mimetype="application/json")
        if self.page_cap is not None:
            limit = min(limit, self.page_cap)
        newer = [e for e in self.envelopes if e.seq > after]
        response = jsonify(envelopes=[self._item(e) for e in newer[:limit]], more=len(newer) > limit)
        if self.page_padding:
            response.set_data(response.get_data()[:-2] + b',"padding":"' + b"a" * self.page_padding + b'"}\n')
        if self.gzip_pages:
            response.set_data(gzip.compress(response.get_data()))
            response.headers["Content-Encoding"] = "gzip"
        return response

    def _item(self, e: Served) -> dict[str, Any]:
        return {
            "seq": e.seq,
            "id": e.envelope_id,
            "day": e.day,
            "header": b64encode(e.header),
            "body": b64encode(e.body),
            "attachments": [
                {"index": i, "size": len(a), "url": f"/api/v1/envelopes/{e.envelope_id}/attachments/{i}"}
                for i, a in enumerate(e.attachments)
            ],
            "follows": e.follows,
        }

    def _reply(self, envelope_id: str) -> Any:
        """Keep a reply as the intake would: 404 for an envelope it does not
        have, 409 for one without a reply key (a follow-up or a report sent
        without), 200 and stored once when the same reply comes again
        (intake/api/replies.py checks more; the intake's own tests cover
        that)."""
        if not self._authorized():
            return jsonify(error="bad token"), 401
        doc = request.get_json(silent=True) or {}
        report = next((e for e in self.envelopes if e.envelope_id == envelope_id), None)
        if report is None:
            return jsonify(error="no such envelope"), 404
        if report.follows is not None or parse_header(report.header).reply_key is None:
            return jsonify(error="no_reply_key"), 409
        header, body = b64decode(doc["header"], "header"), b64decode(doc["body"], "body")
        if any(r[1] == header for r in self.replies):
            return jsonify(reply="stored before"), 200
        self.replies.append((envelope_id, header, body))
        return jsonify(reply="stored"), 201

    def _attachment(self, envelope_id: str, index: int) -> Any:
        if not self._authorized():
            return jsonify(error="bad token"), 401
        for e in self.envelopes:
            if e.envelope_id == envelope_id and 0 <= index < len(e.attachments):
                if e.fail_download:
                    return jsonify(error="storage unavailable"), 503
                pieces = _pieces(e.attachments[index], self.PIECE)
                response = Response(pieces, mimetype="application/octet-stream")
                # As the intake sends it: the console paces the download by it.
                response.headers["Content-Length"] = str(len(e.attachments[index]))
                return response
        return jsonify(error="not found"), 404

    def _delete(self, envelope_id: str) -> Any:
        """``DELETE /api/v1/envelopes/<id>``: this organization is done with
        it. Gone (with its follow-ups) unless in :attr:`others`, whose
        envelopes stay for the other organization; 404 once it is not ours."""
        if not self._authorized():
            return jsonify(error="bad token"), 401
        self.deletes.append(envelope_id)
        if not any(e.envelope_id == envelope_id for e in self.envelopes):
            return jsonify(error="no such envelope"), 404
        self.envelopes = [e for e in self.envelopes if envelope_id not in (e.envelope_id, e.follows)]
        self._pages.clear()
        if envelope_id in self.others:
            # Still held by the other organization, no longer listed for us.
            return jsonify(deleted=False, remaining_recipients=1)
        return jsonify(deleted=True, remaining_recipients=0)


def _pieces(data: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]
