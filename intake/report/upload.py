"""The browser path: receive an envelope the reporter's browser sealed, check
it, store it, answer with the receipt.

Contract (``POST /<lang>/sealed``, ``multipart/form-data``; the JavaScript in
``js/form.js`` is its only client):

``csrf_token``
    the form's CSRF token (a text field);
``submission``
    the form's one-time submission token (a text field, see
    :func:`intake.receipts.submission_hash`): a retry of the same form after
    a lost answer stores nothing twice;
``header``, ``body``
    file parts: the canonical header bytes and the body ciphertext;
``attachment``
    one file part per header slot, in slot order (none when there are no
    files): each attachment's STREAM ciphertext.

Every part is ciphertext except the header, which is the cleartext the store
keeps anyway. Answers are JSON, never a page and never a 500:

* ``200 {"receipt": "1234 5678 …"}`` after the envelope is committed
  (invariant 5). The receipt travels only in this response body: never in a
  URL, a cookie or a log.
* ``400 {"error": "csrf", "message", "csrf_token"}``: the token expired; the
  new one lets the page send again without a reload.
* ``400 {"error": "stale" | "incomplete", "message"}``: the header does not
  match what this intake expects (day, recipients, ``sealed_by``) or a part is
  missing or of the wrong length.
* ``409 {"error": "duplicate", "message"}``: this form (submission token)
  or this envelope id is stored already; no second receipt.
* ``413 {"error": "too_large", "message"}``: over the size limits.
* ``503 {"error": "unavailable", "message"}``: the store failed; nothing kept.

What the intake checks (it cannot read the envelope, only its header):

* ``sealed_by`` is ``"browser"``: the header says which path sealed it and
  the server path never uses this endpoint;
* the recipient key ids are exactly the active keys the form showed (as a
  set). The form offers no choice of recipients yet; when it does, this
  becomes "a non-empty subset of the active keys";
* the day is today (UTC) or one day either side, for a page left open over
  midnight or a clock at the edge of a day;
* ``reply_key`` is null: reply keys come with follow-ups;
* the body is ``body.size + 16`` bytes and each attachment exactly its slot's
  ciphertext size, with one part per slot;
* the padded sizes are within the limits of :mod:`.limits`.
"""

from __future__ import annotations

from flask import current_app, jsonify, request
from flask_babel import gettext as _
from flask_wtf.csrf import generate_csrf, validate_csrf
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response
from wtforms.validators import ValidationError

from ..db import request_session
from ..envelope import EnvelopeError, Header, SealedEnvelope, parse_header
from ..envelope.format import TAG_SIZE
from ..keyring import current_keyring
from ..models import Envelope
from ..receipts import format_receipt, is_submission_token, new_receipt, receipt_hash, submission_hash
from ..store import BlobStorage, DuplicateSubmissionError, StoreError, store_envelope, today_utc
from .limits import MAX_BODY_SIZE, UploadLimits, current_limits
from .views import bp

MAX_HEADER_SIZE = 128 * 1024
DAY_TOLERANCE = 1


class UploadRefused(Exception):
    """The upload is not stored: ``error`` is the machine code, ``message``
    the reporter's translated text, ``status`` the HTTP status."""

    def __init__(self, error: str, message: str, status: int = 400) -> None:
        super().__init__(error)
        self.error = error
        self.message = message
        self.status = status


def _stale() -> UploadRefused:
    return UploadRefused(
        "stale",
        _(
            "This page is out of date. Nothing was stored. Copy what you wrote, "
            "reload the page, and send again."
        ),
    )


def _incomplete() -> UploadRefused:
    return UploadRefused(
        "incomplete", _("Your report did not arrive complete. Nothing was stored. Please send again.")
    )


def _too_large() -> UploadRefused:
    return UploadRefused(
        "too_large",
        _("The files are too large.")
        + " "
        + _("Nothing was sent. Please choose smaller or fewer files and try again."),
        413,
    )


def _unavailable() -> UploadRefused:
    return UploadRefused(
        "unavailable",
        _("The service is busy or under maintenance.")
        + " "
        + _("Nothing was sent. Please try again in a few minutes."),
        503,
    )


def _read_part(part: FileStorage | None, limit: int | None = None) -> bytes:
    if part is None:
        raise _incomplete()
    data = part.stream.read() if limit is None else part.stream.read(limit + 1)
    if limit is not None and len(data) > limit:
        raise _incomplete()
    return data


def check_browser_envelope(
    header: Header,
    body_length: int,
    attachment_lengths: list[int],
    *,
    active_key_ids: frozenset[str],
    limits: UploadLimits,
) -> None:
    """Check a browser-sealed envelope against what this intake expects.

    Args:
        header: the parsed header.
        body_length, attachment_lengths: byte lengths of the received parts.
        active_key_ids: key ids of the active recipient keys.
        limits: the size limits.

    Raises:
        UploadRefused: ``stale`` (sealed_by, recipients, day, reply key),
            ``too_large`` (limits), ``incomplete`` (part count or lengths).
    """
    if header.sealed_by != "browser" or header.reply_key is not None:
        raise _stale()
    if frozenset(header.key_ids) != active_key_ids:
        raise _stale()
    if abs((header.day - today_utc()).days) > DAY_TOLERANCE:
        raise _stale()
    slots = header.attachments
    if (
        len(slots) > limits.max_files
        or header.body_size > MAX_BODY_SIZE
        or any(slot.size > limits.max_padded_file for slot in slots)
        or sum(slot.size for slot in slots) > limits.max_padded_total
    ):
        raise _too_large()
    if len(attachment_lengths) != len(slots) or body_length != header.body_size + TAG_SIZE:
        raise _incomplete()
    if any(length != slot.ciphertext_size for length, slot in zip(attachment_lengths, slots, strict=True)):
        raise _incomplete()


def _duplicate() -> UploadRefused:
    return UploadRefused(
        "duplicate",
        _("This report was received already")
        + ". "
        + _(
            "We stored it the first time you sent it. For your safety the receipt is shown only "
            "once. If you did not keep it, you can send the report again from a new form."
        ),
        409,
    )


def _receive() -> tuple[SealedEnvelope, Header, str | None]:
    try:
        form, files = request.form, request.files
    except RequestEntityTooLarge as exc:
        raise _too_large() from exc
    if current_app.config.get("WTF_CSRF_ENABLED", True):
        try:
            validate_csrf(form.get("csrf_token"))
        except ValidationError as exc:
            raise UploadRefused("csrf", _("The page expired. Please press Send again.")) from exc
    token = form.get("submission")
    submitted = None
    if token is not None and is_submission_token(token):
        submitted = submission_hash(current_app.config["RECEIPT_SECRET"], token)
    raw_header = _read_part(files.get("header"), MAX_HEADER_SIZE)
    try:
        header = parse_header(raw_header)
    except EnvelopeError as exc:
        raise _incomplete() from exc
    body = _read_part(files.get("body"))
    attachments = tuple(_read_part(part) for part in files.getlist("attachment"))
    keyring = current_keyring()
    check_browser_envelope(
        header,
        len(body),
        [len(a) for a in attachments],
        active_key_ids=frozenset(k.key_id for k in keyring.active),
        limits=current_limits(),
    )
    return SealedEnvelope(header=raw_header, body=body, attachments=attachments), header, submitted


def _refused(refusal: UploadRefused) -> Response:
    payload = {"error": refusal.error, "message": refusal.message}
    if refusal.error == "csrf":
        payload["csrf_token"] = generate_csrf()
    response = jsonify(payload)
    response.status_code = refusal.status
    return response


@bp.route("/<lang_code>/sealed", methods=["POST"])
def sealed() -> Response:
    """Store an envelope sealed in the reporter's browser (see the module
    docstring for the contract)."""
    try:
        envelope, header, submitted = _receive()
        session = request_session("intake.db")
        try:
            known = session.scalar(select(Envelope.seq).where(Envelope.envelope_id == header.envelope_id))
        except SQLAlchemyError as exc:
            current_app.logger.error("database error %s before storing", exc.__class__.__name__)
            raise _unavailable() from exc
        if known is not None:
            raise _duplicate()
        blobs: BlobStorage = current_app.extensions["intake.blobs"]
        receipt = new_receipt()
        try:
            store_envelope(
                session,
                blobs,
                envelope,
                current_keyring().recipient_of_key(),
                receipt_hash=receipt_hash(current_app.config["RECEIPT_SECRET"], receipt),
                submission_hash=submitted,
            )
        except DuplicateSubmissionError as exc:
            raise _duplicate() from exc
        except StoreError as exc:
            current_app.logger.error("could not store a browser-sealed envelope")
            raise _unavailable() from exc
    except UploadRefused as refusal:
        return _refused(refusal)
    return jsonify(receipt=format_receipt(receipt))
