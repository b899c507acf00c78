"""``POST /api/v1/envelopes`` (interview mode, intake/api/interview.py): a
console files an envelope it sealed with a receipt it made. The receipt
must then work on the public pages exactly like one the form showed; a
token files for its own organization's active keys only; a retry stores
nothing twice; anything garbled is a JSON 400, never a 500.

Keys are generated here; reports, receipts and keys are never printed.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

import intake
from core.envelope import AttachmentInput, RecipientPrivateKey, SealedEnvelope, open_envelope, seal
from core.envelope.conversation import lookup_value
from core.envelope.replykey import reply_private_key, reply_seed
from core.receipts import format_receipt, lookup_hash, new_receipt
from core.timing import today_utc
from intake.store.models import Envelope, ReceiptRecord

from ..helpers import database_bytes, multipart, write_key_file

REPORT = {
    "form_version": 2,
    "kind": "report",
    "language": "en",
    "narrative": "taken by phone",
    "taken_by": "interview",
}


@pytest.fixture
def orgs(tmp_path: Path) -> Iterator[tuple[Flask, RecipientPrivateKey, RecipientPrivateKey]]:
    """An intake with two organizations (one key each), CSRF off for the
    public pages (the API has none)."""
    keys = tmp_path / "keys"
    one = write_key_file(keys, "org-one")
    two = write_key_file(keys, "org-two")
    app = intake.create_app(
        {
            "TESTING": True,
            "DATA_DIR": str(tmp_path / "data"),
            "KEYS_DIR": str(keys),
            "WTF_CSRF_ENABLED": False,
        }
    )
    yield app, one, two
    app.extensions["intake.db"].engine.dispose()


def _token(app: Flask, recipient_id: str) -> str:
    result = app.test_cli_runner().invoke(args=["api-token", "create", recipient_id])
    assert result.exit_code == 0
    return str(result.output.strip().splitlines()[-1])


def _seal(
    keys: list[RecipientPrivateKey], receipt: str, *, files: tuple[bytes, ...] = (), **kwargs: Any
) -> SealedEnvelope:
    options: dict[str, Any] = {
        "day": today_utc(),
        "sealed_by": "console",
        "reply_key": reply_private_key(receipt).public_key.raw,
        "attachments": [
            AttachmentInput(f"f{i}.bin", "application/octet-stream", d) for i, d in enumerate(files)
        ],
    }
    options.update(kwargs)
    return seal(REPORT, [k.public_key for k in keys], **options)


def _post(
    client: FlaskClient,
    token: str | None,
    envelope: SealedEnvelope,
    receipt: str,
    *,
    body: bytes | None = None,
    attachments: tuple[bytes, ...] | None = None,
    drop: tuple[str, ...] = (),
) -> Any:
    fields: dict[str, object] = {
        "receipt": receipt,
        "header": (envelope.header, "header", "application/octet-stream"),
        "body": (envelope.body if body is None else body, "body", "application/octet-stream"),
        "attachment": [
            (a, f"attachment-{i}", "application/octet-stream")
            for i, a in enumerate(envelope.attachments if attachments is None else attachments)
        ],
    }
    for name in drop:
        fields.pop(name)
    data, content_type = multipart(fields)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.post("/api/v1/envelopes", data=data, content_type=content_type, headers=headers)


def _count(app: Flask) -> int:
    with app.extensions["intake.db"].sessions() as session:
        return int(session.scalar(select(func.count(Envelope.seq))) or 0)


def _access(html: str) -> str:
    found = re.search(r'name="access" type="hidden" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


def test_a_filed_envelope_is_served_and_its_receipt_works_on_the_public_pages(
    orgs: tuple[Flask, RecipientPrivateKey, RecipientPrivateKey],
) -> None:
    app, one, _two = orgs
    client = app.test_client()
    token = _token(app, "org-one")
    receipt = new_receipt()
    envelope = _seal([one], receipt, files=(b"%PDF-1.4 a letter",))

    response = _post(client, token, envelope, receipt)
    assert response.status_code == 201
    assert response.get_json() == {"id": envelope.envelope_id, "earlier": False}
    assert receipt.encode() not in response.data  # the console shows it, not the intake

    # Stored like the browser path: the envelope, and only the receipt's keyed hash.
    with app.extensions["intake.db"].sessions() as session:
        row = session.scalar(select(Envelope))
        assert row is not None and row.sealed_by == "console"
        stored = session.scalar(select(ReceiptRecord.receipt_hash))
    # The keyed hash of its lookup value (docs/threat-model.md, "The
    # receipt"), labelled with the envelope's format (v1 from the console).
    assert stored == lookup_hash(app.config["RECEIPT_SECRET"], lookup_value(reply_seed(receipt)), 1)
    assert receipt.encode() not in database_bytes(app)

    # The organization's console pulls it, and it opens.
    page = client.get("/api/v1/envelopes", headers={"Authorization": f"Bearer {token}"}).get_json()
    [item] = page["envelopes"]
    assert item["id"] == envelope.envelope_id and item["follows"] is None
    blob = client.get(item["attachments"][0]["url"], headers={"Authorization": f"Bearer {token}"}).data
    opened = open_envelope(SealedEnvelope(envelope.header, envelope.body, (blob,)), [one])
    assert opened.report == REPORT

    # The person types the receipt on the public site, and adds information.
    status_page = client.post("/en/receipt", data={"receipt": format_receipt(receipt)})
    assert status_page.status_code == 200
    body, content_type = multipart(
        {"access": _access(status_page.get_data(as_text=True)), "narrative": "one more"}
    )
    added = client.post("/en/followup", data=body, content_type=content_type)
    assert added.status_code == 200
    page = client.get("/api/v1/envelopes", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert [e["follows"] for e in page["envelopes"]] == [None, envelope.envelope_id]


@pytest.mark.parametrize("lookup", ["", "ab" * 31, "AB" * 32, "zz" * 32, "ab" * 33])
def test_a_console_sends_the_lookup_value_and_never_the_receipt(
    orgs: tuple[Flask, RecipientPrivateKey, RecipientPrivateKey], lookup: str
) -> None:
    """A console files with the receipt's lookup value, as a reporter's
    browser does: the receipt then opens the report on the public pages. A
    malformed lookup value is a JSON 400, nothing stored."""
    app, one, _two = orgs
    client = app.test_client()
    token = _token(app, "org-one")
    receipt = new_receipt()
    envelope = _seal([one], receipt)
    data, content_type = multipart(
        {
            "lookup": lookup,
            "header": (envelope.header, "header", "application/octet-stream"),
            "body": (envelope.body, "body", "application/octet-stream"),
        }
    )
    headers = {"Authorization": f"Bearer {token}"}
    refused = client.post("/api/v1/envelopes", data=data, content_type=content_type, headers=headers)
    assert refused.status_code == 400 and refused.get_json()["error"] == "lookup"
    assert _count(app) == 0
    data, content_type = multipart(
        {
            "lookup": lookup_value(reply_seed(receipt)),
            "header": (envelope.header, "header", "application/octet-stream"),
            "body": (envelope.body, "body", "application/octet-stream"),
        }
    )
    filed = client.post("/api/v1/envelopes", data=data, content_type=content_type, headers=headers)
    assert filed.status_code == 201, filed.get_json()
    assert client.post("/en/receipt", data={"receipt": format_receipt(receipt)}).status_code == 200


def test_a_retry_after_a_lost_answer_stores_one_envelope(
    orgs: tuple[Flask, RecipientPrivateKey, RecipientPrivateKey],
) -> None:
    app, one, _two = orgs
    client = app.test_client()
    token = _token(app, "org-one")
    receipt = new_receipt()
    envelope = _seal([one], receipt, files=(b"x" * 70_000,))
    assert _post(client, token, envelope, receipt).status_code == 201
    again = _post(client, token, envelope, receipt)
    assert again.status_code == 200
    assert again.get_json() == {"id": envelope.envelope_id, "earlier": True}
    assert _count(app) == 1

    # The same id with other bytes, or under another receipt, is no retry.
    other = new_receipt()
    assert _post(client, token, envelope, other).get_json()["error"] == "reply_key"
    swapped = _post(client, token, envelope, receipt, body=bytes(len(envelope.body)))
    assert swapped.status_code == 409 and swapped.get_json()["error"] == "duplicate"
    # Another organization cannot learn about it by replaying it either.
    token_two = _token(app, "org-two")
    assert _post(client, token_two, envelope, receipt).get_json()["error"] == "recipients"
    assert _count(app) == 1


def test_a_token_files_only_for_its_own_organizations_active_keys(
    orgs: tuple[Flask, RecipientPrivateKey, RecipientPrivateKey], tmp_path: Path
) -> None:
    app, one, two = orgs
    client = app.test_client()
    token_two = _token(app, "org-two")
    receipt = new_receipt()
    for keys in ([one], [one, two]):
        response = _post(client, token_two, _seal(keys, receipt), receipt)
        assert response.status_code == 400
        assert response.get_json()["error"] == "recipients"
    # A key no intake knows.
    stranger = RecipientPrivateKey.generate()
    assert _post(client, token_two, _seal([stranger], receipt), receipt).get_json()["error"] == "recipients"
    assert _count(app) == 0
    # Its own key is fine.
    assert _post(client, token_two, _seal([two], receipt), receipt).status_code == 201


def test_a_retired_key_is_refused(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    old = write_key_file(keys, "org-one", retired=True)
    new = write_key_file(keys, "org-one")
    app = intake.create_app({"TESTING": True, "DATA_DIR": str(tmp_path / "data"), "KEYS_DIR": str(keys)})
    try:
        client = app.test_client()
        token = _token(app, "org-one")
        receipt = new_receipt()
        assert _post(client, token, _seal([old], receipt), receipt).get_json()["error"] == "recipients"
        assert _post(client, token, _seal([old, new], receipt), receipt).get_json()["error"] == "recipients"
        assert _post(client, token, _seal([new], receipt), receipt).status_code == 201
    finally:
        app.extensions["intake.db"].engine.dispose()


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"sealed_by": "browser"}, "sealed_by"),
        ({"sealed_by": "server"}, "sealed_by"),
        ({"reply_key": None}, "reply_key"),
        ({"day": today_utc() - timedelta(days=3)}, "day"),
        ({"day": today_utc() + timedelta(days=2)}, "day"),
    ],
)
def test_the_header_must_be_what_a_console_makes(
    orgs: tuple[Flask, RecipientPrivateKey, RecipientPrivateKey], change: dict[str, Any], error: str
) -> None:
    app, one, _two = orgs
    receipt = new_receipt()
    response = _post(app.test_client(), _token(app, "org-one"), _seal([one], receipt, **change), receipt)
    assert response.status_code == 400
    assert response.get_json()["error"] == error
    assert _count(app) == 0


def test_the_reply_key_must_be_the_receipts(
    orgs: tuple[Flask, RecipientPrivateKey, RecipientPrivateKey],
) -> None:
    app, one, _two = orgs
    receipt = new_receipt()
    envelope = _seal([one], new_receipt())  # the reply key of another receipt
    response = _post(app.test_client(), _token(app, "org-one"), envelope, receipt)
    assert response.status_code == 400 and response.get_json()["error"] == "reply_key"


@pytest.mark.parametrize("receipt", ["", "1234", "12345678901234567890123456789", "x" * 28, "１" * 28])
def test_the_receipt_must_be_well_formed(
    orgs: tuple[Flask, RecipientPrivateKey, RecipientPrivateKey], receipt: str
) -> None:
    app, one, _two = orgs
    envelope = _seal([one], new_receipt())
    response = _post(app.test_client(), _token(app, "org-one"), envelope, receipt)
    assert response.status_code == 400 and response.get_json()["error"] == "receipt"


def test_a_wrong_check_digit_is_refused(orgs: tuple[Flask, RecipientPrivateKey, RecipientPrivateKey]) -> None:
    app, one, _two = orgs
    receipt = new_receipt()
    typo = receipt[:-1] + str((int(receipt[-1]) + 1) % 10)
    response = _post(app.test_client(), _token(app, "org-one"), _seal([one], receipt), typo)
    assert response.status_code == 400 and response.get_json()["error"] == "receipt"


def test_a_receipt_that_another_report_holds_is_refused(
    orgs: tuple[Flask, RecipientPrivateKey, RecipientPrivateKey],
) -> None:
    app, one, _two = orgs
    client = app.test_client()
    token = _token(app, "org-one")
    receipt = new_receipt()
    assert _post(client, token, _seal([one], receipt), receipt).status_code == 201
    response = _post(client, token, _seal([one], receipt), receipt)
    assert response.status_code == 409 and response.get_json()["error"] == "receipt_in_use"
    assert _count(app) == 1


def test_garbled_uploads_get_a_json_400_never_a_500(
    orgs: tuple[Flask, RecipientPrivateKey, RecipientPrivateKey],
) -> None:
    app, one, _two = orgs
    client = app.test_client()
    token = _token(app, "org-one")
    auth = {"Authorization": f"Bearer {token}"}
    receipt = new_receipt()
    envelope = _seal([one], receipt, files=(b"evidence",))
    data, content_type = multipart(
        {
            "receipt": receipt,
            "header": (envelope.header, "header", "application/octet-stream"),
            "body": (envelope.body, "body", "application/octet-stream"),
        }
    )
    boundary = content_type.split("boundary=", 1)[1]
    attempts: list[tuple[str, Any]] = [
        ("json", client.post("/api/v1/envelopes", json={"header": "x"}, headers=auth)),
        ("form", client.post("/api/v1/envelopes", data={"receipt": receipt}, headers=auth)),
        ("empty", client.post("/api/v1/envelopes", headers=auth)),
        ("bytes", client.post("/api/v1/envelopes", data=b"\x00\xff" * 100, headers=auth)),
        (
            "truncated",
            client.post(
                "/api/v1/envelopes", data=data[: len(data) // 2], content_type=content_type, headers=auth
            ),
        ),
        (
            "no boundary",
            client.post("/api/v1/envelopes", data=data, content_type="multipart/form-data", headers=auth),
        ),
        (
            "wrong boundary",
            client.post(
                "/api/v1/envelopes",
                data=data.replace(boundary.encode(), b"other"),
                content_type=content_type,
                headers=auth,
            ),
        ),
        ("no header", _post(client, token, envelope, receipt, drop=("header",))),
        ("no body", _post(client, token, envelope, receipt, drop=("body",))),
        ("garbage header", _post(client, token, SealedEnvelope(b"{not json", envelope.body), receipt)),
        ("short body", _post(client, token, envelope, receipt, body=envelope.body[:-1])),
        ("no attachment", _post(client, token, envelope, receipt, attachments=())),
        (
            "short attachment",
            _post(client, token, envelope, receipt, attachments=(envelope.attachments[0][:-1],)),
        ),
        (
            "extra attachment",
            _post(client, token, envelope, receipt, attachments=(envelope.attachments[0],) * 2),
        ),
    ]
    for name, response in attempts:
        assert response.status_code == 400, (name, response.status_code)
        doc = response.get_json()
        assert isinstance(doc, dict) and isinstance(doc.get("error"), str), name
    assert _count(app) == 0


def test_without_a_valid_token_nothing_is_read(
    orgs: tuple[Flask, RecipientPrivateKey, RecipientPrivateKey],
) -> None:
    app, one, _two = orgs
    receipt = new_receipt()
    for token in (None, "tnr_wrong"):
        response = _post(app.test_client(), token, _seal([one], receipt), receipt)
        assert response.status_code == 401
    assert _count(app) == 0


def test_over_the_limits_is_413(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    one = write_key_file(keys, "org-one")
    app = intake.create_app(
        {
            "TESTING": True,
            "DATA_DIR": str(tmp_path / "data"),
            "KEYS_DIR": str(keys),
            "MAX_CONTENT_LENGTH": 2 * 1024 * 1024,
            "MAX_FILE_SIZE": 200_000,
        }
    )
    try:
        client = app.test_client()
        token = _token(app, "org-one")
        receipt = new_receipt()
        # One file over MAX_FILE_SIZE (its padded slot says so).
        big_file = _post(client, token, _seal([one], receipt, files=(b"x" * 300_000,)), receipt)
        assert big_file.status_code == 413 and big_file.get_json()["error"] == "too_large"
        # A request over MAX_CONTENT_LENGTH.
        huge = _post(client, token, _seal([one], receipt, files=(b"x" * 150_000,) * 20), receipt)
        assert huge.status_code == 413 and huge.get_json()["error"] == "too_large"
        assert _count(app) == 0
    finally:
        app.extensions["intake.db"].engine.dispose()


def test_nothing_about_the_receipt_is_logged(
    orgs: tuple[Flask, RecipientPrivateKey, RecipientPrivateKey], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    app, one, _two = orgs
    client = app.test_client()
    token = _token(app, "org-one")
    receipt = new_receipt()
    envelope = _seal([one], receipt)
    assert _post(client, token, envelope, receipt).status_code == 201
    assert _post(client, token, envelope, receipt).status_code == 200
    assert _post(client, token, _seal([one], receipt), receipt).status_code == 409
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert receipt not in text and format_receipt(receipt) not in text
    assert token not in text
