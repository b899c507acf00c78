"""The browser path's upload endpoint (``POST /<lang>/sealed``), without a
browser: envelopes sealed here with ``sealed_by="browser"`` are the same
bytes the bundle makes (tests/browser/ checks that in Chromium). Every
refusal is JSON with a translated message, never a page or a 500.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

import intake
from core.envelope import AttachmentInput, RecipientPrivateKey, SealedEnvelope, open_envelope, seal
from core.envelope.conversation import lookup_value
from core.envelope.replykey import reply_seed
from core.receipts import format_receipt, lookup_hash, new_receipt, normalize_receipt
from core.timing import today_utc
from intake.store.models import Envelope, ReceiptRecord

from ..helpers import asset_tag, multipart, solved_altcha, write_key_file


def receipt_hash(secret: bytes, digits: str, version: int = 1) -> str:
    """What the intake stores for a receipt a page sent (the keyed hash of
    its lookup value, labelled with the envelope's format)."""
    return lookup_hash(secret, lookup_value(reply_seed(digits)), version)


RECEIPT = re.compile(r"^\d{4}( \d{4}){6}$")


def _seal(keys: list[RecipientPrivateKey], **kwargs: Any) -> SealedEnvelope:
    options: dict[str, Any] = {"day": today_utc(), "sealed_by": "browser"}
    options.update(kwargs)
    return seal(
        {"form_version": 1, "language": "en", "narrative": "sealed in a browser"},
        [k.public_key for k in keys],
        **options,
    )


def _post(
    client: FlaskClient,
    envelope: SealedEnvelope,
    *,
    lang: str = "en",
    extra: dict[str, object] | None = None,
    body: bytes | None = None,
    attachments: tuple[bytes, ...] | None = None,
) -> Any:
    fields: dict[str, object] = {
        "receipt": new_receipt(),
        "altcha": solved_altcha(client, lang),
        "header": (envelope.header, "header", "application/json"),
        "body": (envelope.body if body is None else body, "body", "application/octet-stream"),
        "attachment": [
            (a, f"attachment-{i}", "application/octet-stream")
            for i, a in enumerate(envelope.attachments if attachments is None else attachments)
        ],
    }
    fields.update(extra or {})
    data, content_type = multipart(fields)
    return client.post(f"/{lang}/sealed", data=data, content_type=content_type)


def _rows(app: Flask) -> list[Envelope]:
    with app.extensions["intake.db"].sessions() as session:
        rows = list(session.scalars(select(Envelope)))
        session.expunge_all()
        return rows


def test_a_browser_sealed_envelope_is_stored_and_answered_with_a_receipt(
    intake_app: Flask, intake_client: FlaskClient, org_key: RecipientPrivateKey
) -> None:
    files = [AttachmentInput("a.txt", "text/plain", b"x" * 70000), AttachmentInput("e", "text/plain", b"")]
    envelope = _seal([org_key], attachments=files)
    response = _post(intake_client, envelope)
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    receipt = response.get_json()["receipt"]
    assert RECEIPT.match(receipt)
    assert receipt.replace(" ", "") not in response.headers.get("Set-Cookie", "")
    (row,) = _rows(intake_app)
    assert row.sealed_by == "browser"
    assert row.header == envelope.header and row.body == envelope.body
    blobs = intake_app.extensions["intake.blobs"]
    stored = tuple(b"".join(blobs.read_chunks(row.envelope_id, i)) for i in range(len(files)))
    assert stored == envelope.attachments
    opened = open_envelope(SealedEnvelope(row.header, row.body, stored), [org_key])
    assert [a.data for a in opened.attachments] == [b"x" * 70000, b""]
    with intake_app.extensions["intake.db"].sessions() as session:
        hashes = set(session.scalars(select(ReceiptRecord.receipt_hash)))
    assert receipt_hash(intake_app.config["RECEIPT_SECRET"], normalize_receipt(receipt)) in hashes


@pytest.mark.parametrize("lang", ["en", "zh-hant"])
def test_refusals_are_json_in_the_reporters_language(
    intake_app: Flask, intake_client: FlaskClient, org_key: RecipientPrivateKey, lang: str
) -> None:
    response = _post(intake_client, _seal([org_key], sealed_by="server"), lang=lang)
    assert response.status_code == 400
    payload = response.get_json()
    assert payload["error"] == "stale"
    assert ("out of date" in payload["message"]) == (lang == "en")
    assert ("過期" in payload["message"]) == (lang == "zh-hant")
    assert _rows(intake_app) == []


@pytest.mark.parametrize(
    ("case", "error"),
    [
        ("sealed-by-server", "stale"),
        ("unknown-recipient", "stale"),
        ("half-an-organization", "stale"),
        ("unknown-key-only", "stale"),
        ("day-too-old", "stale"),
        ("day-in-future", "stale"),
        ("body-short", "incomplete"),
        ("attachment-missing", "incomplete"),
        ("attachment-extra", "incomplete"),
        ("attachment-short", "incomplete"),
        ("header-not-canonical", "incomplete"),
    ],
)
def test_what_the_intake_does_not_expect_is_refused(
    intake_app: Flask,
    intake_client: FlaskClient,
    keys_dir: Path,
    org_key: RecipientPrivateKey,
    case: str,
    error: str,
) -> None:
    other = RecipientPrivateKey.generate()
    one_file = [AttachmentInput("a", "text/plain", b"abc")]
    envelope = _seal([org_key], attachments=one_file)
    kwargs: dict[str, Any] = {}
    if case == "sealed-by-server":
        envelope = _seal([org_key], sealed_by="server")
    elif case == "unknown-recipient":
        envelope = _seal([org_key, other])
    elif case == "half-an-organization":
        # The organization has two active keys (a rotation): a report to it
        # must be sealed to both. Keys are read at start: a fresh app.
        write_key_file(keys_dir, "test-org", filename="test-org-second.json")
        intake_app = intake.create_app({**intake_app.config, "TESTING": True})
        intake_client = intake_app.test_client()
        envelope = _seal([org_key])
    elif case == "unknown-key-only":
        envelope = _seal([org_key])
        raw = envelope.header.replace(org_key.key_id.encode(), b"0" * 64)
        envelope = SealedEnvelope(raw, envelope.body, envelope.attachments)
    elif case == "day-too-old":
        envelope = _seal([org_key], day=today_utc() - timedelta(days=2))
    elif case == "day-in-future":
        envelope = _seal([org_key], day=today_utc() + timedelta(days=2))
    elif case == "body-short":
        kwargs["body"] = envelope.body[:-1]
    elif case == "attachment-missing":
        kwargs["attachments"] = ()
    elif case == "attachment-extra":
        kwargs["attachments"] = (*envelope.attachments, envelope.attachments[0])
    elif case == "attachment-short":
        kwargs["attachments"] = (envelope.attachments[0][:-1],)
    elif case == "header-not-canonical":
        envelope = SealedEnvelope(envelope.header + b" ", envelope.body, envelope.attachments)
    response = _post(intake_client, envelope, **kwargs)
    assert response.status_code == 400
    assert response.get_json()["error"] == error
    assert response.get_json()["message"]
    assert _rows(intake_app) == []
    if case == "half-an-organization":
        intake_app.extensions["intake.db"].engine.dispose()


def test_a_non_empty_subset_of_organizations_is_accepted(tmp_path: Path) -> None:
    """The reporter chooses organizations: a browser upload sealed to one of
    two is stored, and the header shows the choice (an accepted leak)."""
    keys = tmp_path / "keys"
    first = write_key_file(keys, "org-one")
    second = write_key_file(keys, "org-two")
    app = intake.create_app(
        {"TESTING": True, "DATA_DIR": str(tmp_path / "d"), "KEYS_DIR": str(keys), "WTF_CSRF_ENABLED": False}
    )
    client = app.test_client()
    assert _post(client, _seal([second])).status_code == 200
    assert _post(client, _seal([first, second])).status_code == 200
    rows = _rows(app)
    with app.extensions["intake.db"].sessions() as session:
        from intake.store.models import EnvelopeRecipient

        named = [
            sorted(
                session.scalars(
                    select(EnvelopeRecipient.recipient_id).where(EnvelopeRecipient.envelope_seq == r.seq)
                )
            )
            for r in rows
        ]
    assert named == [["org-two"], ["org-one", "org-two"]]
    app.extensions["intake.db"].engine.dispose()


@pytest.mark.parametrize("offset", [-1, 1])
def test_a_day_either_side_is_accepted(
    intake_client: FlaskClient, org_key: RecipientPrivateKey, offset: int
) -> None:
    envelope = _seal([org_key], day=today_utc() + timedelta(days=offset))
    assert _post(intake_client, envelope).status_code == 200


def test_missing_parts_are_refused(intake_client: FlaskClient, org_key: RecipientPrivateKey) -> None:
    data, content_type = multipart({"csrf_token": "x"})
    response = intake_client.post("/en/sealed", data=data, content_type=content_type)
    assert response.status_code == 400
    assert response.get_json()["error"] == "incomplete"


def test_size_limits_are_held_on_padded_sizes(
    tmp_path: Path, keys_dir: Path, org_key: RecipientPrivateKey
) -> None:
    app = intake.create_app(
        {
            "TESTING": True,
            "DATA_DIR": str(tmp_path / "small"),
            "KEYS_DIR": str(keys_dir),
            "WTF_CSRF_ENABLED": False,
            "MAX_FILE_SIZE": 1000,
            "MAX_TOTAL_FILE_SIZE": 1500,
        }
    )
    try:
        client = app.test_client()
        ok = _seal([org_key], attachments=[AttachmentInput("a", "x/y", bytes(1000))])
        assert _post(client, ok).status_code == 200
        big = _seal([org_key], attachments=[AttachmentInput("a", "x/y", bytes(1100))])
        response = _post(client, big)
        assert response.status_code == 413
        assert response.get_json()["error"] == "too_large"
        total = _seal([org_key], attachments=[AttachmentInput(str(i), "x/y", bytes(900)) for i in range(2)])
        assert _post(client, total).status_code == 413
        # The same limits on the no-JavaScript path, in the reporter's words.
        data, content_type = multipart(
            {"narrative": "text", "attachments": [(bytes(1100), "big.bin", "application/octet-stream")]}
        )
        response = client.post("/en/", data=data, content_type=content_type)
        assert response.status_code == 400
        assert "big.bin" in response.get_data(as_text=True)
        html = client.get("/zh-hant/").get_data(as_text=True)
        assert 'data-max-file="1000"' in html and 'data-max-total="1500"' in html
        assert "每個檔案最大 1 MB" in html
    finally:
        app.extensions["intake.db"].engine.dispose()


def test_a_request_over_the_request_limit_is_json_413(
    tmp_path: Path, keys_dir: Path, org_key: RecipientPrivateKey
) -> None:
    app = intake.create_app(
        {
            "TESTING": True,
            "DATA_DIR": str(tmp_path / "tiny"),
            "KEYS_DIR": str(keys_dir),
            "WTF_CSRF_ENABLED": False,
            "MAX_CONTENT_LENGTH": 64 * 1024,
        }
    )
    try:
        envelope = _seal([org_key], attachments=[AttachmentInput("a", "x/y", bytes(100_000))])
        response = _post(app.test_client(), envelope)
        assert response.status_code == 413
        assert response.get_json()["error"] == "too_large"
    finally:
        app.extensions["intake.db"].engine.dispose()


def test_csrf_is_checked_and_a_fresh_token_is_handed_back(
    tmp_path: Path, keys_dir: Path, org_key: RecipientPrivateKey
) -> None:
    app = intake.create_app({"TESTING": True, "DATA_DIR": str(tmp_path / "csrf"), "KEYS_DIR": str(keys_dir)})
    try:
        client = app.test_client()
        envelope = _seal([org_key])
        response = _post(client, envelope, extra={"csrf_token": "forged"})
        assert response.status_code == 400
        payload = response.get_json()
        assert payload["error"] == "csrf"
        response = _post(client, envelope, extra={"csrf_token": payload["csrf_token"]})
        assert response.status_code == 200
    finally:
        app.extensions["intake.db"].engine.dispose()


def test_the_same_form_or_envelope_twice_stores_one(
    intake_app: Flask, intake_client: FlaskClient, org_key: RecipientPrivateKey
) -> None:
    token = {"submission": "A" * 22}
    assert _post(intake_client, _seal([org_key]), extra=token).status_code == 200
    # A retry re-seals (new envelope), same form, but a receipt of its own:
    # not the page that sent the first, so no receipt.
    again = _post(intake_client, _seal([org_key]), extra=token)
    assert again.status_code == 409
    assert again.get_json()["error"] == "duplicate"
    assert "receipt" not in again.get_json()
    replay = _seal([org_key])
    assert _post(intake_client, replay).status_code == 200
    assert _post(intake_client, replay).status_code == 409
    assert len(_rows(intake_app)) == 2


def _receipt_hashes(app: Flask) -> dict[str, int]:
    with app.extensions["intake.db"].sessions() as session:
        return {r.receipt_hash: r.envelope_seq for r in session.scalars(select(ReceiptRecord))}


def test_a_retry_after_a_lost_answer_gets_the_same_receipt(
    intake_app: Flask, intake_client: FlaskClient, org_key: RecipientPrivateKey
) -> None:
    """The first upload is committed but its answer never reaches the page;
    the page retries (re-sealed, same form, same receipt) and is shown the
    receipt that holds, and nothing is stored twice."""
    receipt = new_receipt()
    fields = {"submission": "B" * 22, "receipt": receipt}
    first = _post(intake_client, _seal([org_key]), extra=fields)
    assert first.status_code == 200
    assert first.get_json() == {"stored": True, "receipt": format_receipt(receipt), "earlier": False}
    retry = _post(intake_client, _seal([org_key]), extra=fields)
    assert retry.status_code == 200
    assert retry.get_json() == {"stored": True, "receipt": format_receipt(receipt), "earlier": True}
    (row,) = _rows(intake_app)
    assert _receipt_hashes(intake_app) == {
        receipt_hash(intake_app.config["RECEIPT_SECRET"], receipt): row.seq
    }
    # The same form with any other receipt, even a valid one: refused.
    other = _post(intake_client, _seal([org_key]), extra={**fields, "receipt": new_receipt()})
    assert other.status_code == 409
    assert "receipt" not in other.get_json()
    assert len(_rows(intake_app)) == 1


@pytest.mark.parametrize(
    "receipt",
    [None, "", "1234", "１" * 28, "1234 5678 9012 3456 7890 1234 5678", "wrong-check-digit"],
)
def test_a_missing_or_malformed_receipt_is_refused(
    intake_app: Flask, intake_client: FlaskClient, org_key: RecipientPrivateKey, receipt: str | None
) -> None:
    if receipt == "wrong-check-digit":
        good = new_receipt()
        receipt = good[:-1] + str((int(good[-1]) + 1) % 10)
    envelope = _seal([org_key])
    fields: dict[str, object] = {
        "altcha": solved_altcha(intake_client),
        "header": (envelope.header, "header", "application/json"),
        "body": (envelope.body, "body", "application/octet-stream"),
    }
    if receipt is not None:
        fields["receipt"] = receipt
    data, content_type = multipart(fields)
    response = intake_client.post("/en/sealed", data=data, content_type=content_type)
    assert response.status_code == 400
    assert response.get_json()["error"] == "stale"
    assert _rows(intake_app) == []


def test_a_receipt_in_use_is_not_an_oracle(
    intake_app: Flask, intake_client: FlaskClient, org_key: RecipientPrivateKey
) -> None:
    """A client that names another report's receipt gets the usual answer
    (no "this receipt exists"), and that receipt still opens only the first
    report."""
    receipt = new_receipt()
    assert _post(intake_client, _seal([org_key]), extra={"receipt": receipt}).status_code == 200
    second = _post(intake_client, _seal([org_key]), extra={"receipt": receipt})
    assert second.status_code == 200
    assert second.get_json() == {"stored": True, "receipt": format_receipt(receipt), "earlier": False}
    first_row, second_row = _rows(intake_app)
    assert _receipt_hashes(intake_app) == {
        receipt_hash(intake_app.config["RECEIPT_SECRET"], receipt): first_row.seq
    }


def test_retries_naming_a_receipt_cost_receipt_guesses(
    tmp_path: Path, keys_dir: Path, org_key: RecipientPrivateKey
) -> None:
    app = intake.create_app(
        {
            "TESTING": True,
            "DATA_DIR": str(tmp_path / "guess"),
            "KEYS_DIR": str(keys_dir),
            "WTF_CSRF_ENABLED": False,
            "RECEIPT_GUESS_BURST": 2,
            # The test client comes from 127.0.0.1, a shared (proxy) address by
            # default: make it one client here to test the per-client bucket.
            "SHARED_CLIENT_ADDRESSES": [],
        }
    )
    try:
        client = app.test_client()
        fields = {"submission": "C" * 22, "receipt": new_receipt()}
        assert _post(client, _seal([org_key]), extra=fields).status_code == 200
        wrong = {**fields, "receipt": new_receipt()}
        assert _post(client, _seal([org_key]), extra=wrong).status_code == 409
        assert _post(client, _seal([org_key]), extra=fields).status_code == 200
        refused = _post(client, _seal([org_key]), extra=fields)
        assert refused.status_code == 429
        assert refused.get_json()["error"] == "busy"
        assert len(_rows(app)) == 1
    finally:
        app.extensions["intake.db"].engine.dispose()


def test_the_form_gives_the_script_what_it_needs_without_inline_script(
    intake_client: FlaskClient, org_key: RecipientPrivateKey
) -> None:
    html = intake_client.get("/en/").get_data(as_text=True)
    assert f'data-kid="{org_key.key_id}"' in html
    assert 'data-seal-url="/en/sealed"' in html
    assert f'data-day="{today_utc().isoformat()}"' in html
    assert 'data-chunk="65536"' in html
    scripts = re.findall(r"<script[^>]*>", html)
    app = intake_client.application
    assert scripts == [asset_tag(app, "js/page.js"), asset_tag(app, "js/intake.js")]
    assert "</script>" in html and "<script>" not in html
    assert 'role="progressbar"' in html
    assert "Each file can be up to 50 MB, and all files together up to 56 MB." in html
