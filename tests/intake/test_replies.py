"""Replies on the intake side: the reporter's reply key is
derived from the receipt and sealed into the report's header; a console
hands the intake a reply sealed to it (``POST /api/v1/envelopes/<id>/replies``);
the reporter reads it after the receipt check, opened by the server without
JavaScript and left sealed for the browser with it. The intake stores replies
only sealed."""

from __future__ import annotations

import base64
import re
from datetime import timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from core.envelope import RecipientPrivateKey, SealedEnvelope, open_envelope, parse_header, seal
from core.envelope.conversation import auth_key
from core.envelope.errors import EnvelopeError, MalformedEnvelopeError
from core.envelope.replykey import (
    REPLY_KEY_ITERATIONS,
    REPLY_KEY_MEMORY_KIB,
    REPLY_KEY_SALT,
    open_reply,
    reply_private_key,
    reply_seed,
    seal_reply,
)
from core.receipts import new_receipt, normalize_receipt
from core.timing import today_utc
from intake.store.models import Envelope, Reply

from ..helpers import database_bytes, multipart, solved_altcha

CANARY = "reply-canary-雪蓮-7f3c"
RECEIPT = re.compile(r"<output>([\d ]+)</output>")


def _token(app: Flask) -> str:
    result = app.test_cli_runner().invoke(args=["api-token", "create", "test-org"])
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()[-1]


def _report(client: FlaskClient) -> str:
    """Submit without JavaScript; the receipt's 28 digits."""
    html = client.post("/en/", data={"narrative": "the first report"}).get_data(as_text=True)
    found = RECEIPT.search(html)
    assert found is not None
    return normalize_receipt(found.group(1))


def _report_row(app: Flask) -> Envelope:
    with app.extensions["intake.db"].sessions() as session:
        row = session.scalars(select(Envelope).order_by(Envelope.seq)).first()
        assert row is not None
        session.expunge_all()
        return row


def _post_reply(client: FlaskClient, token: str, envelope_id: str, sealed: SealedEnvelope) -> Any:
    return client.post(
        f"/api/v1/envelopes/{envelope_id}/replies",
        json={
            "header": base64.b64encode(sealed.header).decode(),
            "body": base64.b64encode(sealed.body).decode(),
        },
        headers={"Authorization": f"Bearer {token}"},
    )


def _replies(app: Flask) -> int:
    with app.extensions["intake.db"].sessions() as session:
        return session.scalar(select(func.count()).select_from(Reply)) or 0


def test_the_reply_key_is_argon2id_of_the_receipt_as_specified() -> None:
    """The composition of docs/envelope.md "Reply keys", recomputed from
    the library's Argon2id (RFC 9106) with the published parameters."""
    receipt = new_receipt()
    expected = Argon2id(
        salt=b"tnr-intake/reply-key/v1", length=32, iterations=2, lanes=1, memory_cost=19456
    ).derive(receipt.encode())
    assert (REPLY_KEY_SALT, REPLY_KEY_ITERATIONS, REPLY_KEY_MEMORY_KIB) == (
        b"tnr-intake/reply-key/v1",
        2,
        19456,
    )
    assert reply_seed(receipt) == expected
    assert reply_private_key(receipt).seed == expected
    assert reply_seed(new_receipt()) != expected
    with pytest.raises(EnvelopeError):
        reply_seed(receipt[:-1] + str((int(receipt[-1]) + 1) % 10))  # check digit off


def test_argon2id_matches_rfc_9106_test_vector() -> None:
    """RFC 9106 section 5.3 (Argon2id, v=0x13): the library the reply key
    relies on, against the published tag."""
    tag = Argon2id(
        salt=b"\x02" * 16,
        length=32,
        iterations=3,
        lanes=4,
        memory_cost=32,
        ad=b"\x04" * 12,
        secret=b"\x03" * 8,
    ).derive(b"\x01" * 32)
    assert tag.hex() == "0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659"


def test_a_report_without_javascript_carries_the_receipts_reply_key(
    intake_app: Flask, intake_client: FlaskClient
) -> None:
    digits = _report(intake_client)
    header = parse_header(_report_row(intake_app).header)
    assert header.reply_key == reply_private_key(digits).public_key.raw


def test_a_reply_goes_from_the_console_to_the_reporter_sealed(
    intake_app: Flask, intake_client: FlaskClient
) -> None:
    digits = _report(intake_client)
    report = _report_row(intake_app)
    reply_key = parse_header(report.header).reply_key
    assert reply_key is not None
    token = _token(intake_app)
    sealed = seal_reply(
        reply_key,
        report.envelope_id,
        f"We read your report. {CANARY}",
        "Test Org",
        today_utc(),
        auth_key=auth_key(reply_seed(digits)),
    )

    response = _post_reply(intake_client, token, report.envelope_id, sealed)
    assert response.status_code == 201, response.get_json()
    assert _post_reply(intake_client, token, report.envelope_id, sealed).status_code == 200  # a retry
    assert _replies(intake_app) == 1
    assert CANARY.encode() not in database_bytes(intake_app)

    # Without JavaScript the server opens it for this request only.
    page = intake_client.post("/en/receipt", data={"receipt": digits}).get_data(as_text=True)
    assert CANARY in page and "From Test Org" in page
    # With JavaScript the page carries it sealed, for the browser to open.
    page = intake_client.post("/en/receipt", data={"receipt": digits, "replies": "sealed"}).get_data(
        as_text=True
    )
    assert CANARY not in page
    assert base64.b64encode(sealed.body).decode() in page
    assert f'data-report="{report.envelope_id}"' in page
    assert CANARY.encode() not in database_bytes(intake_app)


def test_a_report_without_replies_says_none_came_yet(intake_app: Flask, intake_client: FlaskClient) -> None:
    digits = _report(intake_client)
    page = intake_client.post("/zh-hant/receipt", data={"receipt": digits}).get_data(as_text=True)
    assert "reply-list" not in page
    assert "回覆" in page


def test_the_api_takes_only_replies_sealed_to_the_reports_reply_key(
    intake_app: Flask, intake_client: FlaskClient
) -> None:
    _report(intake_client)
    report = _report_row(intake_app)
    reply_key = parse_header(report.header).reply_key
    assert reply_key is not None
    token = _token(intake_app)
    day = today_utc()
    other = RecipientPrivateKey.generate()
    body = {"kind": "reply", "report": report.envelope_id, "text": "x", "from": "Test Org"}
    cases = {
        "wrong key": seal_reply(other.public_key.raw, report.envelope_id, "x", "Test Org", day),
        "also to another key": seal(
            body, [other.public_key, RecipientPrivateKey(reply_seed(new_receipt())).public_key], day=day
        ),
        "sealed by the server": seal(body, [RecipientPrivateKey.generate().public_key], day=day),
        "old day": seal_reply(reply_key, report.envelope_id, "x", "Test Org", day - timedelta(days=3)),
    }
    for what, sealed in cases.items():
        assert _post_reply(intake_client, token, report.envelope_id, sealed).status_code == 400, what
    good = seal_reply(reply_key, report.envelope_id, "x", "Test Org", day)
    garbled = [
        {"header": "not base64!", "body": ""},
        {"header": base64.b64encode(b"{}").decode(), "body": ""},
        {"header": base64.b64encode(good.header).decode()},
        {"header": base64.b64encode(good.header).decode(), "body": base64.b64encode(good.body[:-1]).decode()},
        [],
    ]
    for doc in garbled:
        response = intake_client.post(
            f"/api/v1/envelopes/{report.envelope_id}/replies",
            json=doc,
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 400
    assert intake_client.post(f"/api/v1/envelopes/{report.envelope_id}/replies", json={}).status_code == 401
    assert _post_reply(intake_client, token, "0" * 32, good).status_code == 404
    assert _replies(intake_app) == 0


def test_no_reply_to_a_report_without_a_reply_key(
    intake_app: Flask, intake_client: FlaskClient, org_key: RecipientPrivateKey
) -> None:
    """A report sealed before reply keys existed (or by a browser that
    could not derive one) cannot be answered through the intake."""
    data, content_type = multipart(
        {
            "receipt": new_receipt(),
            "altcha": solved_altcha(intake_client),
            "header": (
                (
                    sealed := seal(
                        {"narrative": "n"}, [org_key.public_key], day=today_utc(), sealed_by="browser"
                    )
                ).header,
                "header",
                "application/json",
            ),
            "body": (sealed.body, "body", "application/octet-stream"),
        }
    )
    assert intake_client.post("/en/sealed", data=data, content_type=content_type).status_code == 200
    report = _report_row(intake_app)
    reply = seal_reply(
        RecipientPrivateKey.generate().public_key.raw, report.envelope_id, "x", "O", today_utc()
    )
    response = _post_reply(intake_client, _token(intake_app), report.envelope_id, reply)
    assert response.status_code == 409 and response.get_json() == {"error": "no_reply_key"}


def test_a_follow_up_carries_no_reply_key(
    intake_app: Flask, intake_client: FlaskClient, org_key: RecipientPrivateKey
) -> None:
    digits = _report(intake_client)
    page = intake_client.post("/en/receipt", data={"receipt": digits}).get_data(as_text=True)
    access = re.search(r'name="access" type="hidden" value="([^"]+)"', page)
    assert access is not None
    report = _report_row(intake_app)
    followup = seal(
        {"form_version": 1, "language": "en", "narrative": "more", "follows": report.envelope_id},
        [org_key.public_key],
        day=today_utc(),
        sealed_by="browser",
        reply_key=RecipientPrivateKey.generate().public_key.raw,
    )
    data, content_type = multipart(
        {
            "access": access.group(1),
            "altcha": solved_altcha(intake_client),
            "header": (followup.header, "header", "application/json"),
            "body": (followup.body, "body", "application/octet-stream"),
        }
    )
    response = intake_client.post("/en/followup/sealed", data=data, content_type=content_type)
    assert response.status_code == 400 and response.get_json()["error"] == "stale"


def test_a_reply_opens_only_for_its_report() -> None:
    receipt = new_receipt()
    key = reply_private_key(receipt)
    sealed = seal_reply(key.public_key.raw, "a" * 32, "text", "Org", today_utc())
    assert open_reply(sealed, key, "a" * 32).text == "text"
    with pytest.raises(MalformedEnvelopeError):
        open_reply(sealed, key, "b" * 32)
    assert open_envelope(sealed, [key]).header.sealed_by == "console"
    with pytest.raises(EnvelopeError):
        seal_reply(key.public_key.raw, "a" * 32, " ", "Org", today_utc())


def test_deleting_the_report_deletes_its_replies(intake_app: Flask, intake_client: FlaskClient) -> None:
    _report(intake_client)
    report = _report_row(intake_app)
    reply_key = parse_header(report.header).reply_key
    assert reply_key is not None
    token = _token(intake_app)
    sealed = seal_reply(reply_key, report.envelope_id, "bye", "Test Org", today_utc())
    assert _post_reply(intake_client, token, report.envelope_id, sealed).status_code == 201
    response = intake_client.delete(
        f"/api/v1/envelopes/{report.envelope_id}", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.get_json()["deleted"] is True
    assert _replies(intake_app) == 0
