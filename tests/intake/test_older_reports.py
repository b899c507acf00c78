"""Reports and receipts from before format v2 and the lookup value keep
working (docs/threat-model.md, "The receipt"; docs/envelope.md section 14):
a receipt stored as the keyed hash of its digits is found without
JavaScript and moved to its lookup's hash, so the browser finds it from
then on; the replies of an older report are shown marked "not
authenticated (older report)", and a v2 report cannot be passed off as an
older one by rewriting the database."""

from __future__ import annotations

import base64
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from core.envelope import RecipientPrivateKey, parse_header, seal
from core.envelope.conversation import auth_key, lookup_value
from core.envelope.replykey import reply_private_key, reply_seed, seal_reply
from core.receipts import lookup_hash, new_receipt, receipt_hash
from core.timing import today_utc
from intake.store.envelopes import store_envelope
from intake.store.models import Envelope, ReceiptRecord, Reply

OLDER = "Not authenticated (older report)"
UNVERIFIED = "could not be verified as coming from the reviewers"


def _older_report(app: Flask, org_key: RecipientPrivateKey, digits: str) -> Envelope:
    """A v1 report stored as before the lookup value: its receipt record is
    the keyed hash of the digits."""
    sealed = seal(
        {"form_version": 1, "narrative": "an older report"},
        [org_key.public_key],
        day=today_utc(),
        sealed_by="server",
        reply_key=reply_private_key(digits).public_key.raw,
    )
    db = app.extensions["intake.db"]
    with db.sessions() as session:
        store_envelope(
            session,
            app.extensions["intake.blobs"],
            sealed,
            {org_key.public_key.key_id: "test-org"},
            receipt_hash=receipt_hash(app.config["RECEIPT_SECRET"], digits),
        )
        row = session.scalars(select(Envelope)).one()
        session.expunge_all()
    return row


def _add_reply(app: Flask, report: Envelope, text: str, auth_key: bytes | None = None) -> None:
    reply_key = parse_header(report.header).reply_key
    assert reply_key is not None
    sealed = seal_reply(reply_key, report.envelope_id, text, "Test Org", today_utc(), auth_key=auth_key)
    with app.extensions["intake.db"].sessions() as session:
        session.add(
            Reply(
                envelope_seq=report.seq, reply_id=sealed.envelope_id, header=sealed.header, body=sealed.body
            )
        )
        session.commit()


def _new_report(client: FlaskClient) -> str:
    """A report sent without JavaScript (format v2); its receipt's digits."""
    html = client.post("/en/", data={"narrative": "a new report"}).get_data(as_text=True)
    return "".join(html.split("<output>")[1].split("</output>")[0].split())


def _records(app: Flask) -> set[str]:
    with app.extensions["intake.db"].sessions() as session:
        return set(session.scalars(select(ReceiptRecord.receipt_hash)))


def _check(client: FlaskClient, **data: Any) -> tuple[int, str]:
    response = client.post("/en/receipt", data=data)
    return response.status_code, response.get_data(as_text=True)


def test_an_older_receipt_is_found_moved_and_then_found_by_the_browser(
    intake_app: Flask, intake_client: FlaskClient, org_key: RecipientPrivateKey
) -> None:
    digits = new_receipt()
    report = _older_report(intake_app, org_key, digits)
    secret = intake_app.config["RECEIPT_SECRET"]
    lookup = lookup_value(reply_seed(digits))
    _add_reply(intake_app, report, "An older reply")

    # The browser's lookup does not find it yet: the page offers the plain
    # check ("Check an older receipt"), which the reporter chooses.
    status, page = _check(intake_client, lookup=lookup, replies="sealed")
    assert status == 404 and "Check an older receipt" in page
    # Without JavaScript: found, the reply shown and marked.
    status, page = _check(intake_client, receipt=digits)
    assert status == 200 and "An older reply" in page and OLDER in page
    # The record moved: no hash of the digits is left, the lookup's v1 hash is.
    assert _records(intake_app) == {lookup_hash(secret, lookup, 1)}
    # From now on the browser finds it, marked as an older report.
    status, page = _check(intake_client, lookup=lookup, replies="sealed")
    assert status == 200 and 'data-version="1"' in page
    assert digits not in page


def test_a_v2_report_shows_only_replies_that_verify(intake_app: Flask, intake_client: FlaskClient) -> None:
    digits = _new_report(intake_client)
    with intake_app.extensions["intake.db"].sessions() as session:
        report = session.scalars(select(Envelope)).one()
        session.expunge_all()
    _add_reply(intake_app, report, "A genuine reply", auth_key=auth_key(reply_seed(digits)))
    _add_reply(intake_app, report, "A forged reply")
    status, page = _check(intake_client, receipt=digits)
    assert status == 200
    assert "A genuine reply" in page and "A forged reply" not in page
    assert UNVERIFIED in page and OLDER not in page
    # With JavaScript the page carries both sealed, for the browser to check
    # against the v2 report's key (tests/browser/test_conversation.py).
    status, page = _check(intake_client, lookup=lookup_value(reply_seed(digits)), replies="sealed")
    assert status == 200 and 'data-version="2"' in page


def test_the_database_cannot_pass_a_v2_report_off_as_an_older_one(
    intake_app: Flask, intake_client: FlaskClient
) -> None:
    """Whoever writes to the database (even with the receipt secret, from
    the data folder) cannot relabel a v2 report's receipt as v1 without the
    lookup value, which only the receipt gives: the report is then simply
    not found."""
    digits = _new_report(intake_client)
    secret = intake_app.config["RECEIPT_SECRET"]
    [stored] = _records(intake_app)
    # What a writer could compute without the lookup: a hash of the stored
    # hash, of the digits' hash, of random bytes; none answers under v1.
    for guess in (stored, receipt_hash(secret, digits), base64.b16encode(bytes(32)).decode().lower()):
        with intake_app.extensions["intake.db"].sessions() as session:
            session.execute(update(ReceiptRecord).values(receipt_hash=lookup_hash(secret, guess, 1)))
            session.commit()
        status, _page = _check(intake_client, lookup=lookup_value(reply_seed(digits)), replies="sealed")
        assert status == 404
