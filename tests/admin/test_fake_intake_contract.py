"""One contract, two intakes: the assertions the console's client
(admin/sync/client.py) relies on, run against the tests' FakeIntake
(admin_testlib.py) and against the real intake app, both over HTTP on
loopback. So the fake the sync tests use cannot drift from the API it
stands in for: pages and the cursor, attachments, the token, delete, and
a reply to the reporter."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Protocol

import pytest

from admin.errors import IntakeAuthError, IntakeError
from admin.sync.client import IntakeClient
from core.envelope import AttachmentInput, RecipientPrivateKey, SealedEnvelope, parse_header, seal
from core.envelope.replykey import reply_private_key, seal_reply
from core.receipts import new_receipt
from intake.store.envelopes import store_envelope
from tests.admin.admin_testlib import FakeIntake
from tests.admin.served_intake import ServedIntake

RECEIPT = new_receipt()  # the reporter's, whose reply key a report carries
DAY = date(2026, 11, 2)


class Backend(Protocol):
    url: str
    token: str

    def store(self, sealed: SealedEnvelope) -> None: ...

    def replies(self, envelope_id: str) -> int: ...


@dataclass
class FakeBackend:
    fake: FakeIntake

    @property
    def url(self) -> str:
        return self.fake.url

    @property
    def token(self) -> str:
        return self.fake.token

    def store(self, sealed: SealedEnvelope) -> None:
        self.fake.serve(sealed)

    def replies(self, envelope_id: str) -> int:
        return sum(1 for r in self.fake.replies if r[0] == envelope_id)


class RealBackend(ServedIntake):
    """The intake app (intake.create_app) on a loopback werkzeug server,
    with an API token for the organization, as the e2e tests run it."""

    def store(self, sealed: SealedEnvelope) -> None:
        with self.app.app_context(), self.app.extensions["intake.db"].sessions() as session:
            store_envelope(
                session,
                self.app.extensions["intake.blobs"],
                sealed,
                self.app.extensions["intake.keyring"].recipient_of_key(),
                receipt_hash=sealed.envelope_id * 2,
            )

    def replies(self, envelope_id: str) -> int:
        from sqlalchemy import func, select

        from intake.store.models import Envelope, Reply

        with self.app.app_context(), self.app.extensions["intake.db"].sessions() as session:
            seq = session.scalar(select(Envelope.seq).where(Envelope.envelope_id == envelope_id))
            return int(session.scalar(select(func.count(Reply.seq)).where(Reply.envelope_seq == seq)) or 0)


@pytest.fixture(params=["fake", "real"])
def backend(
    request: pytest.FixtureRequest, tmp_path: Path, org_key: RecipientPrivateKey
) -> Iterator[Backend]:
    if request.param == "fake":
        fake = FakeIntake(org_key)
        fake.start()
        yield FakeBackend(fake)
        fake.stop()
    else:
        real = RealBackend(tmp_path / "intake", org_key)
        yield real
        real.close()


def _sealed(key: RecipientPrivateKey, *files: bytes, reply: bool = False, day: date = DAY) -> SealedEnvelope:
    return seal(
        {"narrative": "contract"},
        [key.public_key],
        day=day,
        attachments=[
            AttachmentInput(f"f{i}.bin", "application/octet-stream", d) for i, d in enumerate(files)
        ],
        reply_key=reply_private_key(RECEIPT).public_key.raw if reply else None,
    )


def _client(backend: Backend, token: str | None = None) -> IntakeClient:
    return IntakeClient(backend.url, token or backend.token, timeout=10, page_deadline=30)


def test_pages_follow_the_cursor(backend: Backend, org_key: RecipientPrivateKey) -> None:
    """``after`` and ``limit`` page through envelopes in seq order; ``more``
    says whether to read on; each item describes its envelope exactly."""
    big = bytes(range(256)) * 300
    first = _sealed(org_key, big, b"second file", day=date(2026, 10, 30))
    rest = [_sealed(org_key) for _ in range(2)]
    for sealed in (first, *rest):
        backend.store(sealed)
    with _client(backend) as client:
        page, more = client.envelopes(0, 2)
        assert more is True
        assert [item["id"] for item in page] == [first.envelope_id, rest[0].envelope_id]
        seqs = [item["seq"] for item in page]
        assert all(isinstance(s, int) for s in seqs) and seqs == sorted(set(seqs))
        item = page[0]
        assert set(item) == {"seq", "id", "day", "header", "body", "attachments", "follows"}
        assert item["day"] == "2026-10-30"
        assert item["follows"] is None
        header = parse_header(base64.b64decode(item["header"]))
        assert header.envelope_id == first.envelope_id
        assert [(a["index"], a["size"]) for a in item["attachments"]] == [
            (i, slot.ciphertext_size) for i, slot in enumerate(header.attachments)
        ]
        assert all(a["url"].endswith(f"/attachments/{a['index']}") for a in item["attachments"])

        tail, more = client.envelopes(seqs[-1], 2)
        assert ([i["id"] for i in tail], more) == ([rest[1].envelope_id], False)
        assert client.envelopes(tail[0]["seq"], 2) == ([], False)


@pytest.mark.parametrize("limit", [0, 501])
def test_a_limit_out_of_range_is_refused(backend: Backend, limit: int) -> None:
    """400, which the console reads as an older intake's smaller maximum."""
    with _client(backend) as client, pytest.raises(IntakeError) as refused:
        client.envelope_page(0, limit)
    assert refused.value.status == 400


def test_attachments_stream_their_ciphertext(backend: Backend, org_key: RecipientPrivateKey) -> None:
    big = bytes(range(256)) * 1000
    sealed = _sealed(org_key, big, b"small")
    backend.store(sealed)
    with _client(backend) as client:
        for index, ciphertext in enumerate(sealed.attachments):
            with client.attachment(sealed.envelope_id, index) as pieces:
                assert b"".join(pieces) == ciphertext
        with pytest.raises(IntakeError) as missing:
            client.attachment(sealed.envelope_id, 2).__enter__()
        assert missing.value.status == 404


def test_attachment_answers_carry_their_length(backend: Backend, org_key: RecipientPrivateKey) -> None:
    """The console paces a download by Content-Length (MIN_RATE)."""
    sealed = _sealed(org_key, b"x" * 5000)
    backend.store(sealed)
    with _client(backend) as client:
        response = client._request("GET", f"/api/v1/envelopes/{sealed.envelope_id}/attachments/0")
        with response:
            assert response.headers.get("Content-Length") == str(len(sealed.attachments[0]))


def test_a_wrong_token_is_refused_everywhere(backend: Backend, org_key: RecipientPrivateKey) -> None:
    sealed = _sealed(org_key, b"file", reply=True)
    backend.store(sealed)
    calls: list[Any] = [
        lambda c: c.envelopes(0, 10),
        lambda c: c.attachment(sealed.envelope_id, 0).__enter__(),
        lambda c: c.delete_envelope(sealed.envelope_id),
        lambda c: c.post_reply(sealed.envelope_id, b"h", b"b"),
    ]
    with _client(backend, "not-the-token") as client:
        for call in calls:
            with pytest.raises(IntakeAuthError):
                call(client)


def test_delete_then_gone(backend: Backend, org_key: RecipientPrivateKey) -> None:
    """Deleted for the only organization: gone from pages and attachments;
    a second delete is a 404 (None)."""
    sealed, kept = _sealed(org_key, b"file"), _sealed(org_key)
    backend.store(sealed)
    backend.store(kept)
    with _client(backend) as client:
        assert client.delete_envelope(sealed.envelope_id) == (True, 0)
        assert client.delete_envelope(sealed.envelope_id) is None
        page, _more = client.envelopes(0, 10)
        assert [item["id"] for item in page] == [kept.envelope_id]
        with pytest.raises(IntakeError) as gone:
            client.attachment(sealed.envelope_id, 0).__enter__()
        assert gone.value.status == 404


def test_a_reply_is_stored_once(backend: Backend, org_key: RecipientPrivateKey) -> None:
    """201 when stored, False (200) when the same reply comes again, 409
    for a report without a reply key, 404 for an envelope that is not ours."""
    report, silent = _sealed(org_key, reply=True), _sealed(org_key)
    backend.store(report)
    backend.store(silent)
    reply_key = parse_header(report.header).reply_key
    assert reply_key is not None
    reply = seal_reply(reply_key, report.envelope_id, "we read it", "Org", datetime.now(UTC).date())
    with _client(backend) as client:
        assert client.post_reply(report.envelope_id, reply.header, reply.body) is True
        assert client.post_reply(report.envelope_id, reply.header, reply.body) is False
        assert backend.replies(report.envelope_id) == 1
        with pytest.raises(IntakeError) as no_key:
            client.post_reply(silent.envelope_id, reply.header, reply.body)
        assert no_key.value.status == 409
        with pytest.raises(IntakeError) as unknown:
            client.post_reply("0" * 32, reply.header, reply.body)
        assert unknown.value.status == 404
