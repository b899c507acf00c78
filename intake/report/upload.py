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
* the recipient key ids are a non-empty subset of the active keys that
  holds every active key of each organization it names: the reporter
  chooses organizations, and an organization with two active keys (during a
  rotation) gets both. A follow-up (``followup.py``) must name exactly the
  active keys of the organizations its report went to;
* the day is today (UTC) or one day either side, for a page left open over
  midnight or a clock at the edge of a day;
* ``reply_key`` is null: reply keys come with follow-ups;
* the body is ``body.size + 16`` bytes and each attachment exactly its slot's
  ciphertext size, with one part per slot;
* the padded sizes are within the limits of :mod:`.limits`.
"""

from __future__ import annotations

from collections.abc import Mapping

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
    active_keys: Mapping[str, str],
    limits: UploadLimits,
    expected_key_ids: frozenset[str] | None = None,
) -> None:
    """Check a browser-sealed envelope against what this intake expects.

    Args:
        header: the parsed header.
        body_length, attachment_lengths: byte lengths of the received parts.
        active_keys: key id → recipient id of every active key.
        limits: the size limits.
        expected_key_ids: for a follow-up, exactly the key ids it must name.

    Raises:
        UploadRefused: ``stale`` (sealed_by, recipients, day, reply key),
            ``too_large`` (limits), ``incomplete`` (part count or lengths).
    """
    if header.sealed_by != "browser" or header.reply_key is not None:
        raise _stale()
    named = frozenset(header.key_ids)
    if not named or not named <= active_keys.keys():
        raise _stale()
    chosen = {active_keys[k] for k in named}
    if named != {k for k, recipient in active_keys.items() if recipient in chosen}:
        raise _stale()
    if expected_key_ids is not None and named != expected_key_ids:
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


def receive_browser_envelope(
    expected_key_ids: frozenset[str] | None = None,
) -> tuple[SealedEnvelope, Header, str | None]:
    """Read and check the parts of a browser upload (see the module
    docstring); returns the envelope, its parsed header, and the keyed hash
    of the form's submission token (or None).

    Raises:
        UploadRefused: anything the checks refuse.
    """
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
        active_keys={k.key_id: k.recipient_id for k in keyring.active},
        limits=current_limits(),
        expected_key_ids=expected_key_ids,
    )
    return SealedEnvelope(header=raw_header, body=body, attachments=attachments), header, submitted


def _refused(refusal: UploadRefused) -> Response:
    payload = {"error": refusal.error, "message": refusal.message}
    if refusal.error == "csrf":
        payload["csrf_token"] = generate_csrf()
    response = jsonify(payload)
    response.status_code = refusal.status
    return response


def store_browser_envelope(
    envelope: SealedEnvelope,
    header: Header,
    submitted: str | None,
    *,
    receipt: str | None,
    followup_of: int | None = None,
) -> None:
    """Store a checked browser upload and commit it.

    Args:
        receipt: the new receipt whose keyed hash is stored with it (None
            for a follow-up, which lives under its report's receipt).
        followup_of: the ``seq`` of the report a follow-up adds to.

    Raises:
        UploadRefused: ``duplicate`` or ``unavailable``; nothing kept.
    """
    session = request_session("intake.db")
    try:
        known = session.scalar(select(Envelope.seq).where(Envelope.envelope_id == header.envelope_id))
    except SQLAlchemyError as exc:
        current_app.logger.error("database error %s before storing", exc.__class__.__name__)
        raise _unavailable() from exc
    if known is not None:
        raise _duplicate()
    blobs: BlobStorage = current_app.extensions["intake.blobs"]
    try:
        store_envelope(
            session,
            blobs,
            envelope,
            current_keyring().recipient_of_key(),
            receipt_hash=(
                receipt_hash(current_app.config["RECEIPT_SECRET"], receipt) if receipt is not None else None
            ),
            submission_hash=submitted,
            followup_of=followup_of,
        )
    except DuplicateSubmissionError as exc:
        raise _duplicate() from exc
    except StoreError as exc:
        current_app.logger.error("could not store a browser-sealed envelope")
        raise _unavailable() from exc


def refused(refusal: UploadRefused) -> Response:
    """The JSON answer of a refused upload."""
    return _refused(refusal)


@bp.route("/<lang_code>/sealed", methods=["POST"])
def sealed() -> Response:
    """Store an envelope sealed in the reporter's browser (see the module
    docstring for the contract)."""
    try:
        envelope, header, submitted = receive_browser_envelope()
        receipt = new_receipt()
        store_browser_envelope(envelope, header, submitted, receipt=receipt)
    except UploadRefused as refusal:
        return _refused(refusal)
    return jsonify(receipt=format_receipt(receipt))
