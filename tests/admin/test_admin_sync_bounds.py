"""A console that a hostile intake cannot exhaust, against an intake-like
HTTP server on 127.0.0.1: a 1 GiB envelope (sealed properly to the
organization's public key, as anyone can, and streamed, never stored), an
intake that sends more than the header says, a sync over its byte cap, a
stalled intake against the deadline, Stop and key lock in the middle of a
download, and quarantined envelopes retried by ``sync --rescan``."""

from __future__ import annotations

import contextlib
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, Response
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select

from admin.errors import KeyLockedError, SyncDeadlineError, SyncLimitError, SyncStoppedError
from admin.extensions import DB_EXTENSION, KEYRING_EXTENSION
from admin.models import Case, Quarantine
from admin.sync.job import SyncJobs
from admin.sync.limits import SyncLimits
from admin.sync.storage import SyncResult
from core.envelope import AttachmentInput, RecipientPublicKey, SealedEnvelope, parse_header
from core.envelope.chunks import seal_attachment_chunks
from core.envelope.format import (
    MAX_CHUNK_SIZE,
    MIN_BODY_SIZE,
    SUITE,
    VERSION,
    canonical_json,
    padme,
)
from core.envelope.keys import b64encode
from core.envelope.keyschedule import _SUITE, _wrap_info, body_key
from tests.admin.admin_testlib import PASSPHRASE, AuthActions, FakeIntake, Served, sync_from, unlock

GIB = 1024 * 1024 * 1024
MIB = 1024 * 1024


def forge(public_key: RecipientPublicKey, size: int) -> tuple[SealedEnvelope, Callable[[], Iterator[bytes]]]:
    """An envelope sealed to ``public_key`` whose one attachment has ``size``
    bytes of zeros, built from the format's own pieces; the attachment is
    returned as a generator of its ciphertext, made as it is sent (a 1 GiB
    file is never held). Its digest in the body is wrong: nobody should get
    far enough to check it."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    envelope_id = secrets.token_hex(16)
    content_key = secrets.token_bytes(32)
    inner = {
        "report": {"narrative": "forged"},
        "attachments": [
            {"name": "big.bin", "type": "application/octet-stream", "size": size, "sha256": "0" * 64}
        ],
    }
    plain = canonical_json(inner)
    body_size = max(MIN_BODY_SIZE, padme(len(plain) + 1))
    header_raw = canonical_json(
        {
            "v": VERSION,
            "id": envelope_id,
            "suite": SUITE,
            "sealed_by": "browser",
            "day": "2026-11-02",
            "recipients": [
                {
                    "kid": public_key.key_id,
                    "key": b64encode(
                        _SUITE.encrypt(
                            content_key, public_key.hpke_key, info=_wrap_info(envelope_id, public_key.key_id)
                        )
                    ),
                }
            ],
            "body": {"size": body_size},
            "attachments": [{"size": padme(size), "chunk": MAX_CHUNK_SIZE}],
            "reply_key": None,
        }
    )
    header = parse_header(header_raw)
    padded = plain + b"\x80" + bytes(body_size - len(plain) - 1)
    body = AESGCM(body_key(content_key, envelope_id)).encrypt(bytes(12), padded, header_raw)
    slot = header.attachments[0]

    def stream() -> Iterator[bytes]:
        zeros = bytes(slot.chunk)
        full, rest = divmod(slot.size, slot.chunk)
        chunks = (zeros if i < full else zeros[:rest] for i in range(full + (1 if rest else 0)))
        yield from seal_attachment_chunks(content_key, header, 0, chunks)

    return SealedEnvelope(header=header_raw, body=body, attachments=()), stream


class HostileIntake(FakeIntake):
    """The fake intake, with attachments that can be streams made on the
    fly, endless, or stalled after their first bytes."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: Attachment bodies by envelope id: a function giving the pieces.
        self.streams: dict[str, Callable[[], Iterator[bytes]]] = {}
        #: Bytes of attachments sent, all envelopes together.
        self.sent = 0
        self.release = threading.Event()

    def add_forged(self, sealed: SealedEnvelope, stream: Callable[[], Iterator[bytes]]) -> Served:
        header = parse_header(sealed.header)
        served = Served(
            seq=len(self.envelopes) + 1,
            sealed=sealed,
            header=sealed.header,
            body=sealed.body,
            attachments=[b""] * len(header.attachments),
        )
        self.envelopes.append(served)
        self.streams[sealed.envelope_id] = stream
        return served

    def _item(self, e: Served) -> dict[str, Any]:
        item = super()._item(e)
        header = parse_header(e.header)
        for listed, slot in zip(item["attachments"], header.attachments, strict=True):
            listed["size"] = slot.ciphertext_size  # as the header says, whatever is sent
        return item

    def _attachment(self, envelope_id: str, index: int) -> Any:
        stream = self.streams.get(envelope_id)
        if stream is None or not self._authorized():
            return super()._attachment(envelope_id, index)

        def counted() -> Iterator[bytes]:
            for piece in stream():
                self.sent += len(piece)
                yield piece

        return Response(counted(), mimetype="application/octet-stream")

    def stall_after(self, data: bytes, first: int) -> Callable[[], Iterator[bytes]]:
        """A stream that sends ``first`` bytes of ``data``, then nothing
        until :attr:`release` is set."""

        def stream() -> Iterator[bytes]:
            yield data[:first]
            self.release.wait(60)
            yield data[first:]

        return stream


@pytest.fixture
def hostile(console_app: Flask, org_key: Any) -> Iterator[HostileIntake]:
    fake = HostileIntake(org_key)
    fake.start()
    console_app.config["INTAKE_URL"] = fake.url
    console_app.config["INTAKE_TOKEN"] = fake.token
    yield fake
    fake.release.set()
    if fake.gate is not None:
        fake.gate.set()
    fake.stop()


class DiskWatch:
    """Samples the bytes under the console's blob folder every few
    milliseconds while a sync runs; :attr:`most` is the largest seen."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.most = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._done.wait(0.005):
            total = 0
            for path in self.folder.glob("*"):
                with contextlib.suppress(FileNotFoundError):
                    total += path.stat().st_size
            self.most = max(self.most, total)

    def __enter__(self) -> DiskWatch:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._done.set()
        self._thread.join(5)


def quarantined(app: Flask) -> list[Quarantine]:
    with app.extensions[DB_EXTENSION].session() as session:
        return list(session.scalars(select(Quarantine).order_by(Quarantine.seq)))


def cases(app: Flask) -> list[Case]:
    with app.extensions[DB_EXTENSION].session() as session:
        return list(session.scalars(select(Case).order_by(Case.seq)))


def blobs(app: Flask) -> Path:
    return Path(app.config["DATA_DIR"]) / "blobs"


# --------------------------------------------------------------------------
# Byte caps


def test_a_one_gib_envelope_is_quarantined_and_never_downloaded(
    console_app: Flask, hostile: HostileIntake, org_key: Any
) -> None:
    sealed, stream = forge(org_key.public_key, GIB)
    big = hostile.add_forged(sealed, stream)
    after = hostile.add({"narrative": "a real report after it"})
    unlock(console_app)
    blobs(console_app).mkdir(parents=True, exist_ok=True)
    with DiskWatch(blobs(console_app)) as disk:
        result = sync_from(console_app, hostile)
    assert result == SyncResult(added=1, quarantined=1)
    assert [c.envelope_id for c in cases(console_app)] == [after.envelope_id]
    [row] = quarantined(console_app)
    assert row.envelope_id == big.envelope_id and row.error_class == "OversizedEnvelopeError"
    assert "SYNC_MAX_ENVELOPE_BYTES" in row.message
    assert hostile.sent == 0 and disk.most == 0


def test_an_intake_sending_more_than_the_header_says_is_cut_off(
    console_app: Flask, hostile: HostileIntake, org_key: Any
) -> None:
    """The header says 1 MiB; the intake sends 1 GiB. The console stops at
    the declared size, before writing more, and quarantines the envelope."""
    sealed, stream = forge(org_key.public_key, MIB)
    declared = parse_header(sealed.header).attachments[0].ciphertext_size
    _, endless = forge(org_key.public_key, GIB)

    def more_than_declared() -> Iterator[bytes]:
        yield from stream()
        yield from endless()

    served = hostile.add_forged(sealed, more_than_declared)
    unlock(console_app)
    blobs(console_app).mkdir(parents=True, exist_ok=True)
    with DiskWatch(blobs(console_app)) as disk:
        result = sync_from(console_app, hostile)
    assert result == SyncResult(quarantined=1)
    assert quarantined(console_app)[0].envelope_id == served.envelope_id
    assert disk.most <= declared
    assert hostile.sent < 64 * MIB  # what the sockets buffered, not the gigabyte
    assert list(blobs(console_app).glob("*")) == []


def test_a_sync_stops_at_its_byte_cap_and_the_next_goes_on(
    console_app: Flask, hostile: HostileIntake
) -> None:
    files = [
        hostile.add(
            {"n": i}, (AttachmentInput("f.bin", "application/octet-stream", secrets.token_bytes(MIB)),)
        )
        for i in range(4)
    ]
    size = parse_header(files[0].header).attachments[0].ciphertext_size
    limits = SyncLimits(sync_bytes=int(2.5 * size), envelope_bytes=2 * size)
    unlock(console_app)
    blobs(console_app).mkdir(parents=True, exist_ok=True)
    result = SyncResult()
    with DiskWatch(blobs(console_app)) as disk, pytest.raises(SyncLimitError, match="SYNC_MAX_BYTES"):
        sync_from(console_app, hostile, limits=limits, into=result)
    assert result.added == 2 and disk.most <= limits.sync_bytes
    assert sync_from(console_app, hostile, limits=limits) == SyncResult(added=2)
    assert [c.envelope_id for c in cases(console_app)] == [f.envelope_id for f in files]


# --------------------------------------------------------------------------
# Deadline, Stop, lock


def test_a_stalled_intake_meets_the_deadline(console_app: Flask, hostile: HostileIntake) -> None:
    hostile.add({"narrative": "waiting"})
    hostile.gate = threading.Event()  # the page never comes
    unlock(console_app)
    started = time.monotonic()
    with pytest.raises(SyncDeadlineError, match="SYNC_DEADLINE"):
        sync_from(console_app, hostile, limits=SyncLimits(deadline=1.0))
    assert time.monotonic() - started < 3


def test_a_download_stalled_midway_meets_the_deadline(
    console_app: Flask, hostile: HostileIntake, org_key: Any
) -> None:
    sealed, stream = forge(org_key.public_key, MIB)
    data = b"".join(stream())
    hostile.add_forged(sealed, hostile.stall_after(data, 100_000))
    unlock(console_app)
    started = time.monotonic()
    with pytest.raises(SyncDeadlineError):
        sync_from(console_app, hostile, limits=SyncLimits(deadline=1.0))
    assert time.monotonic() - started < 3
    assert quarantined(console_app) == [] and cases(console_app) == []
    assert list(blobs(console_app).glob("*")) == []


@pytest.mark.parametrize("how", ["stop", "lock"])
def test_stop_and_lock_end_a_running_download_within_two_seconds(
    console_app: Flask,
    console_client: FlaskClient,
    auth: AuthActions,
    hostile: HostileIntake,
    org_key: Any,
    how: str,
) -> None:
    """A reviewer presses Stop (or a coordinator locks the key) while the
    sync waits on an intake that stalls in the middle of an attachment:
    the sync ends within 2 s, keeps what it stored, and is audited."""
    first = hostile.add({"narrative": "stored before the stall"})
    sealed, stream = forge(org_key.public_key, MIB)
    hostile.add_forged(sealed, hostile.stall_after(b"".join(stream()), 100_000))
    console_app.config.update(SYNC_WAIT=0)
    unlock(console_app)
    auth.login_as("coordinator")
    console_client.post("/sync")
    jobs: SyncJobs = console_app.extensions["admin_syncjob"]
    job = jobs.status()
    assert job is not None
    deadline = time.monotonic() + 20
    while hostile.sent < 100_000 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert hostile.sent >= 100_000, "the download did not start"
    time.sleep(0.3)  # well inside the stalled read
    pressed = time.monotonic()
    if how == "stop":
        assert console_client.post("/sync/stop").status_code == 302
    else:
        assert console_client.post("/keys/lock").status_code == 302
    assert job.done.wait(2), "the sync was still running 2 s later"
    assert time.monotonic() - pressed < 2
    outcome = jobs.status()
    assert outcome is not None and outcome.result is not None
    assert outcome.locked == (how == "lock")
    assert [c.envelope_id for c in cases(console_app)] == [first.envelope_id]
    assert quarantined(console_app) == []  # cut short by Stop or lock: not the envelope's fault
    assert not console_app.extensions[KEYRING_EXTENSION].unlocked or how == "stop"
    error = KeyLockedError if how == "lock" else SyncStoppedError
    assert error.__name__ in _last_sync_audit(console_app)


def _last_sync_audit(app: Flask) -> str:
    from admin.models import AuditEntry

    with app.extensions[DB_EXTENSION].session() as session:
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "sync.failed").order_by(AuditEntry.seq.desc())
        ).first()
        return entry.detail if entry is not None else ""


# --------------------------------------------------------------------------
# Rescan


def test_rescan_retries_quarantined_envelopes(
    console_app: Flask, hostile: HostileIntake, console_runner: FlaskCliRunner
) -> None:
    """Quarantined under a small envelope cap; after the cap is raised, a
    plain sync leaves it where it is and ``sync --rescan`` files it as a
    case (its quarantine row gone), while one that still fails keeps one
    row with the latest reason."""
    served = hostile.add(
        {"narrative": "a file"},
        (AttachmentInput("a.bin", "application/octet-stream", secrets.token_bytes(MIB)),),
    )
    broken = hostile.add({"narrative": "broken"})
    broken.body = b"\x00" * len(broken.body)  # never opens
    console_app.config.update(SYNC_MAX_ENVELOPE_BYTES=256 * 1024)
    unlock(console_app)
    assert sync_from(console_app, hostile, limits=SyncLimits(envelope_bytes=256 * 1024)) == SyncResult(
        quarantined=2
    )
    assert sync_from(console_app, hostile) == SyncResult()  # a plain sync does not retry
    console_app.config.update(SYNC_MAX_ENVELOPE_BYTES=None)  # back to the default
    result = console_runner.invoke(args=["sync", "--rescan"], input=PASSPHRASE + "\n")
    assert result.exit_code == 0, result.output
    assert "added 1, quarantined 1, skipped 0" in result.output
    assert [c.envelope_id for c in cases(console_app)] == [served.envelope_id]
    [row] = quarantined(console_app)
    assert row.envelope_id == broken.envelope_id and row.error_class != "OversizedEnvelopeError"
    # Rescanning again changes nothing.
    again = console_runner.invoke(args=["sync", "--rescan"], input=PASSPHRASE + "\n")
    assert "added 0, quarantined 1, skipped 1" in again.output
    assert len(quarantined(console_app)) == 1


@pytest.mark.parametrize("length", ["5, 5", "five", "-5"])
def test_an_attachment_with_an_odd_content_length_is_read_as_sent(length: str) -> None:
    """``Content-Length: 5, 5`` is a valid header to urllib3 (the same
    length twice) and ``five`` one it ignores; the client must read the
    bytes (their opening decides), not fail on the header with a
    ValueError that quarantines the envelope as if it were forged."""
    import socket

    from admin.sync.client import IntakeClient

    listener = socket.create_server(("127.0.0.1", 0))

    def answer() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(
                f"HTTP/1.1 200 OK\r\nContent-Length: {length}\r\nConnection: close\r\n\r\nhello".encode()
            )

    server = threading.Thread(target=answer, daemon=True)
    server.start()
    client = IntakeClient(f"http://127.0.0.1:{listener.getsockname()[1]}", "token", timeout=5)
    try:
        with client.attachment(secrets.token_hex(16), 0) as pieces:
            assert b"".join(pieces) == b"hello"
    finally:
        client.close()
        listener.close()
        server.join(timeout=5)
