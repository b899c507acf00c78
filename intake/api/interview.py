"""``POST /api/v1/envelopes``: a console files a report it sealed itself.

Interview mode (docs/console.md, "Interview mode"): a reviewer takes a
report on someone's behalf (a phone call, a community meeting), the console
seals it to its organization's keys with ``sealed_by: "console"`` and the
reply key of a receipt it made, and sends it here with that receipt's
lookup value, never the receipt. The intake stores it exactly like a
browser upload (the envelope, the keyed hash of the lookup value, in one
transaction), so the next sync brings it into the console and the receipt
works on the public follow-up page. A seized intake that saw the receipt
would hold the conversation's auth key and the reply key
(docs/threat-model.md, "The receipt").

Contract (``multipart/form-data``, bearer token as for the rest of the API):

``lookup``
    a text field: the receipt's lookup value, 64 lowercase hex digits
    (:func:`core.envelope.conversation.lookup_value`), derived on the
    console. Only its keyed hash is stored. A console from before the
    lookup value sends ``receipt`` instead (the 28 digits, no separators,
    :func:`core.receipts.is_receipt`): the intake derives the lookup in
    memory and checks the header's reply key against it.
``header``, ``body``
    file parts: the canonical header bytes and the body ciphertext.
``attachment``
    one file part per header slot, in slot order (none without files).

Answers are JSON, never a page and never a 500:

* ``201 {"id": "<envelope id>", "earlier": false}``: stored and committed.
* ``200 {"id": "<envelope id>", "earlier": true}``: this very envelope
  (same id, header and body, same receipt) is stored already: a retry after
  a lost answer. Nothing new is stored.
* ``400 {"error": code, "message"}`` with ``code`` one of ``malformed`` (not
  a multipart form, or a part missing or of the wrong length), ``header``
  (not a valid v1 or v2 header), ``sealed_by`` (not ``"console"``), ``reply_key``
  (missing, or not the reply key of this receipt), ``lookup`` (not 64
  lowercase hex digits), ``receipt`` (neither a lookup value nor 28 digits
  with a valid check digit), ``recipients`` (a key that is not an
  active key of the token's organization), ``day`` (not today, give or take
  a day).
* ``401``: no valid token (:mod:`.views`).
* ``409 {"error": "duplicate" | "receipt_in_use"}``: another envelope has
  this id, or this receipt.
* ``413 {"error": "too_large"}``: over the limits of
  :mod:`core.limits` (or the request limit).
* ``503 {"error": "unavailable"}``: the store failed; nothing kept.

Messages are English, for the console's log and its reviewer, never the
reporter's; they carry no content, receipt or token.
"""

from __future__ import annotations

from flask import current_app, g, jsonify, request
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge
from werkzeug.wrappers import Response

from core.db import request_session
from core.envelope import Header, RecipientPrivateKey, SealedEnvelope
from core.envelope.conversation import lookup_value
from core.envelope.replykey import reply_seed
from core.limits import UploadLimits, current_limits
from core.receipts import is_lookup, is_receipt, lookup_hash
from core.timing import equal, today_utc

from ..envelope_parts import PartsRefused, check_sizes, read_parts
from ..keyring import current_keyring
from ..store.blobs import BlobStore
from ..store.envelopes import StoreError, store_envelope
from ..store.models import Envelope, EnvelopeRecipient, ReceiptRecord
from .views import bp

#: Days the header's day may be off today (UTC): a console clock at the
#: edge of a day, as for a browser upload.
DAY_TOLERANCE = 1


class EnvelopeRefused(Exception):
    """The envelope is not stored: ``error`` is the JSON code, ``status``
    the HTTP status, the message says why in words."""

    def __init__(self, error: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.error = error
        self.status = status


#: The answer to each problem of the parts (intake/envelope_parts.py).
_PART_PROBLEMS: dict[str, tuple[str, str, int]] = {
    "missing": ("malformed", "a part of the envelope is missing", 400),
    "oversize": ("malformed", "a part of the envelope is too large", 400),
    "header": ("header", "the header is not a valid envelope header", 400),
    "too_large": ("too_large", "the envelope is over the intake's size limits", 413),
    "parts": ("malformed", "the parts do not match the header", 400),
    "slot": ("malformed", "an attachment does not match its slot", 400),
}


def _refused(exc: PartsRefused) -> EnvelopeRefused:
    return EnvelopeRefused(*_PART_PROBLEMS[exc.problem])


def check_console_envelope(
    header: Header,
    body_length: int,
    attachment_lengths: list[int],
    *,
    own_active_keys: frozenset[str],
    limits: UploadLimits,
) -> None:
    """Check the header and the part lengths of an envelope a console filed.

    Args:
        header: the parsed header.
        body_length, attachment_lengths: byte lengths of the received parts.
        own_active_keys: key ids of the active keys of the token's
            organization: the envelope may name these only (at least one).
        limits: the size limits of the intake.

    Raises:
        EnvelopeRefused: ``sealed_by``, ``reply_key`` (missing), ``recipients``,
            ``day``, ``too_large`` or ``malformed`` (part count or lengths).
    """
    if header.sealed_by != "console":
        raise EnvelopeRefused("sealed_by", "the header's sealed_by must be 'console'")
    if header.reply_key is None:
        raise EnvelopeRefused("reply_key", "the header carries no reply key")
    named = frozenset(header.key_ids)
    if not named or not named <= own_active_keys:
        # Another organization's key, a retired or unknown key: a token files
        # for its own organization only.
        raise EnvelopeRefused("recipients", "every recipient must be an active key of this organization")
    if abs((header.day - today_utc()).days) > DAY_TOLERANCE:
        raise EnvelopeRefused("day", "the header's day is not today")
    try:
        check_sizes(header, body_length, attachment_lengths, limits)
    except PartsRefused as exc:
        raise _refused(exc) from exc


def _receive() -> tuple[SealedEnvelope, Header, str]:
    """Read and check the posted envelope and its receipt's lookup value
    (derived here from the receipt a console from before it sends).

    Raises:
        EnvelopeRefused: see the module docstring.
    """
    try:
        form, files = request.form, request.files
    except RequestEntityTooLarge as exc:
        raise EnvelopeRefused("too_large", "the request is over the intake's size limit", 413) from exc
    except (BadRequest, ValueError) as exc:
        raise EnvelopeRefused("malformed", "the request is not a readable multipart form") from exc
    lookup = form.get("lookup")
    receipt = None if lookup is not None else form.get("receipt")
    if lookup is not None and not is_lookup(lookup):
        raise EnvelopeRefused("lookup", "the lookup value must be 64 lowercase hex digits")
    if lookup is None and (receipt is None or not is_receipt(receipt)):
        raise EnvelopeRefused("receipt", "the receipt must be 28 digits with a valid check digit")
    try:
        raw_header, header, body, attachments = read_parts(files)
    except PartsRefused as exc:
        raise _refused(exc) from exc
    keyring = current_keyring()
    check_console_envelope(
        header,
        len(body),
        [len(a) for a in attachments],
        own_active_keys=frozenset(k.key_id for k in keyring.active if k.recipient_id == g.api_recipient),
        limits=current_limits(),
    )
    sealed = SealedEnvelope(header=raw_header, body=body, attachments=attachments)
    if lookup is not None:
        # The header's reply key cannot be checked against a lookup value;
        # the console that derived both from one receipt makes sure of it.
        return sealed, header, lookup
    # Last, because it costs an Argon2id (19 MiB, ~50 ms): the header's
    # reply key must be the one this receipt opens, or the reporter could
    # never read a reply (core/envelope/replykey.py).
    seed = reply_seed(str(receipt))
    if not equal(header.reply_key or b"", RecipientPrivateKey(seed).public_key.raw):
        raise EnvelopeRefused("reply_key", "the reply key is not the one derived from this receipt")
    return sealed, header, lookup_value(seed)


def _stored_earlier(envelope: SealedEnvelope, header: Header, stored_hash: str) -> bool:
    """Whether this very envelope is stored already for the caller's
    organization under this receipt (a retry after a lost answer).

    Raises:
        EnvelopeRefused: ``duplicate``: the id is taken by something else.
        SQLAlchemyError: the database failed.
    """
    session = request_session("intake.db")
    row = session.scalar(select(Envelope).where(Envelope.envelope_id == header.envelope_id))
    if row is None:
        return False
    held = session.scalar(select(ReceiptRecord.receipt_hash).where(ReceiptRecord.envelope_seq == row.seq))
    ours = session.scalar(
        select(EnvelopeRecipient.envelope_seq).where(
            EnvelopeRecipient.envelope_seq == row.seq, EnvelopeRecipient.recipient_id == g.api_recipient
        )
    )
    same = (
        ours is not None
        and equal(row.header, envelope.header)
        and equal(row.body, envelope.body)
        and row.sizes == [len(a) for a in envelope.attachments]
        and held is not None
        and equal(held, stored_hash)
    )
    session.rollback()  # read only; store_envelope wants a clean session
    if not same:
        raise EnvelopeRefused("duplicate", "another envelope with this id is stored already", 409)
    return True


def _store(envelope: SealedEnvelope, header: Header, lookup: str) -> bool:
    """Store the envelope with the keyed hash of its receipt's lookup
    value; True when it was stored earlier (nothing new stored).

    Raises:
        EnvelopeRefused: ``duplicate``, ``receipt_in_use`` or ``unavailable``.
    """
    session = request_session("intake.db")
    # Stored as a browser's report is: the keyed hash of the receipt's
    # lookup value (docs/threat-model.md, "The receipt"), labelled with the
    # envelope's format, so the reporter's browser finds it without ever
    # sending the receipt.
    stored_hash = lookup_hash(current_app.config["RECEIPT_SECRET"], lookup, header.version)
    try:
        if _stored_earlier(envelope, header, stored_hash):
            return True
        holder = session.scalar(
            select(ReceiptRecord.envelope_seq).where(ReceiptRecord.receipt_hash == stored_hash)
        )
        session.rollback()
    except SQLAlchemyError as exc:
        session.rollback()
        current_app.logger.error("database error %s before storing", exc.__class__.__name__)
        raise EnvelopeRefused("unavailable", "the intake cannot store envelopes right now", 503) from exc
    if holder is not None:
        # A fresh 89-bit receipt that is taken already: the console made it
        # badly or knew it. Unlike the browser path there is no oracle to
        # avoid (the caller holds an organization's token and made the
        # receipt), and storing without it would hand out a receipt that
        # opens nothing.
        raise EnvelopeRefused("receipt_in_use", "this receipt belongs to another report; make a new one", 409)
    blobs: BlobStore = current_app.extensions["intake.blobs"]
    try:
        store_envelope(
            session, blobs, envelope, current_keyring().recipient_of_key(), receipt_hash=stored_hash
        )
    except StoreError as exc:
        # The same envelope racing itself (a retry while the first request
        # was still storing) loses on the unique id: answer as a retry.
        try:
            if _stored_earlier(envelope, header, stored_hash):
                return True
        except SQLAlchemyError:
            session.rollback()
        current_app.logger.error("could not store a console-sealed envelope")
        raise EnvelopeRefused("unavailable", "the intake cannot store envelopes right now", 503) from exc
    return False


def _answer(payload: dict[str, object], status: int) -> Response:
    response = jsonify(payload)
    response.status_code = status
    return response


@bp.post("/envelopes")
def file_envelope() -> Response:
    """Store an envelope a console sealed (interview mode); see the module
    docstring for the contract."""
    try:
        envelope, header, lookup = _receive()
        earlier = _store(envelope, header, lookup)
    except EnvelopeRefused as refusal:
        return _answer({"error": refusal.error, "message": str(refusal)}, refusal.status)
    # The receipt is not echoed: the console made it and shows it itself.
    return _answer({"id": header.envelope_id, "earlier": earlier}, 200 if earlier else 201)
