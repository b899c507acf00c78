"""Coming back with a receipt: check it, see that the report is stored, and
add information or files as a new envelope linked to the same case.

Pages (``/<lang>/…``):

``receipt`` (GET, POST)
    the receipt check. The typed receipt is normalized
    (:func:`intake.receipts.normalize_receipt`: full-width digits, spaces,
    dashes, Chinese punctuation); a failed check digit gets its own message
    and costs nothing; a well-formed receipt is looked up by its keyed hash,
    and each lookup takes a token from :func:`.throttle.guesses` (a global bucket and
    one per keyed address, in memory only, see :mod:`.throttle`).
``followup`` (POST)
    the no-JavaScript follow-up: the server seals it.
``followup/sealed`` (POST)
    the follow-up sealed in the browser (the contract of ``upload.py``).

The receipt never travels in a URL or a cookie. After a successful check
the status page carries a signed, short-lived access token
(:func:`access_token`) instead, so adding information does not need the
receipt again. The follow-up is stored with ``followup_of`` = the report's
``seq``, and its sealed body names the report's envelope id
(``"follows"``); docs/report-fields.md, "Follow-ups".
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta
from secrets import token_hex
from typing import Any

from flask import abort, current_app, jsonify, render_template, request, url_for
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response
from wtforms import HiddenField, StringField

from ..db import request_session
from ..envelope import EnvelopeError, SealedEnvelope, seal
from ..envelope.keys import b64encode
from ..envelope.replykey import ReplyText, open_reply, reply_private_key
from ..i18n import current_language
from ..keyring import current_keyring
from ..models import Envelope, EnvelopeRecipient, ReceiptRecord
from ..receipts import (
    ReceiptFormatError,
    is_submission_token,
    new_submission_token,
    normalize_receipt,
    receipt_hash,
    submission_hash,
)
from ..store import (
    BlobStorage,
    DuplicateSubmissionError,
    FollowupQuotaError,
    StoreError,
    followup_quota_left,
    store_envelope,
    today_utc,
)
from ..web import csp_allow
from . import proofofwork
from .fields import ReportFieldError, followup_from_form
from .forms import FollowupForm, attachment_inputs, chosen_files, file_size
from .limits import MIB, disk_full_message, disk_has_room, followup_quota, quota_message
from .throttle import allow_followup, allow_guess
from .upload import (
    UploadRefused,
    busy,
    receive_browser_envelope,
    refused,
    require_disk_room,
    require_proof_of_work,
    store_browser_envelope,
)
from .views import Organization, _seal_settings, bp, field_message, from_own_page, organizations

#: How long a status page may be used to add information (seconds).
ACCESS_MAX_AGE = 3600
_ACCESS_SALT = "tnr-intake/followup-access"


class ReceiptForm(FlaskForm):  # type: ignore[misc]
    """The receipt a reporter types, and the page's one-time check token
    (:func:`new_check_token`)."""

    #: One lookup without JavaScript per rendered page: see new_check_token.
    check = HiddenField()

    receipt = StringField(
        render_kw={
            "autocomplete": "off",
            "spellcheck": "false",
            "autocapitalize": "off",
            "inputmode": "numeric",
        }
    )


#: How long a receipt-check page's token stays valid (seconds); setting
#: ``RECEIPT_CHECK_MAX_AGE``.
DEFAULT_CHECK_MAX_AGE = 3600
_CHECK_SALT = "tnr-intake/receipt-check"


def new_check_token() -> str:
    """A signed, timed, one-time token for one receipt check without
    JavaScript: a random nonce, signed (itsdangerous, under ``SECRET_KEY``)
    with its time of issue. Every check page carries a fresh one. A check
    without a proof of work must carry an unexpired, unspent token before
    it may take from the guess allowance (:func:`spend_check_token`), so
    one token cannot be replayed to empty that allowance."""
    return str(URLSafeTimedSerializer(current_app.secret_key or b"", salt=_CHECK_SALT).dumps(token_hex(16)))


def csrf_enabled() -> bool:
    """Whether CSRF checks are on (``WTF_CSRF_ENABLED``): the one-time check
    token is part of them (tests that turn CSRF off skip it too)."""
    return bool(current_app.config.get("WTF_CSRF_ENABLED", True))


def spend_check_token(token: str | None) -> bool:
    """Whether ``token`` is one :func:`new_check_token` made, younger than
    ``RECEIPT_CHECK_MAX_AGE``, and not used before by any worker or host;
    records it as spent (SHA-256 of its nonce and a day, in the table of
    spent proof-of-work challenges: :func:`.proofofwork.spend`). False when
    the database fails."""
    if not token or len(token) > 256:
        return False
    max_age = int(current_app.config.get("RECEIPT_CHECK_MAX_AGE") or DEFAULT_CHECK_MAX_AGE)
    try:
        nonce = URLSafeTimedSerializer(current_app.secret_key or b"", salt=_CHECK_SALT).loads(
            token, max_age=max_age
        )
    except BadSignature:
        return False
    if not isinstance(nonce, str):
        return False
    digest = hashlib.sha256(b"tnr-intake/check-token/" + nonce.encode("utf-8")).hexdigest()
    keep = today_utc() + timedelta(days=1 + -(-max_age // 86400))
    try:
        return proofofwork.spend(proofofwork.Proof(digest, keep))
    except SQLAlchemyError as exc:
        request_session("intake.db").rollback()
        current_app.logger.error("database error %s on a check token", exc.__class__.__name__)
        return False


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key or b"", salt=_ACCESS_SALT)


def access_token(stored_hash: str) -> str:
    """A signed token that lets one status page add information for
    :data:`ACCESS_MAX_AGE` seconds. It holds the receipt's keyed hash, never
    the receipt."""
    return str(_serializer().dumps(stored_hash))


def report_of_access(session: Session, token: str | None) -> Envelope | None:
    """The report an access token was issued for, or None (bad, expired)."""
    if not token:
        return None
    try:
        stored_hash = _serializer().loads(token, max_age=ACCESS_MAX_AGE)
    except BadSignature:
        return None
    if not isinstance(stored_hash, str):
        return None
    return _report_of_hash(session, stored_hash)


def _report_of_hash(session: Session, stored_hash: str) -> Envelope | None:
    return session.scalar(
        select(Envelope)
        .join(ReceiptRecord, ReceiptRecord.envelope_seq == Envelope.seq)
        .where(ReceiptRecord.receipt_hash == stored_hash)
    )


def followup_organizations(session: Session, report: Envelope) -> list[Organization]:
    """The active organizations the report was sealed to: a follow-up goes
    to them, no one else (their current active keys, after a rotation)."""
    recipient_ids = set(
        session.scalars(
            select(EnvelopeRecipient.recipient_id).where(EnvelopeRecipient.envelope_seq == report.seq)
        )
    )
    return [org for org in organizations(current_keyring()) if org.recipient_id in recipient_ids]


def _check_page(form: ReceiptForm, error: str | None = None, status: int = 200) -> tuple[str, int]:
    form.check.data = new_check_token()  # each page one lookup without JavaScript
    return (
        render_template("intake/check.html", form=form, error=error, title=_("Come back with your receipt")),
        status,
    )


@dataclass(frozen=True)
class ShownReplies:
    """The replies a status page shows: ``opened`` by the server (no
    JavaScript: derived key, this request only), or ``sealed`` as base64
    ``(header, body)`` pairs for the browser to open (``js/replies.js``).
    ``failed`` counts replies that did not open."""

    opened: tuple[ReplyText, ...] = ()
    sealed: tuple[tuple[str, str], ...] = ()
    failed: int = 0


def replies_for_page(report: Envelope, digits: str, *, in_browser: bool) -> ShownReplies:
    """The report's replies for its status page.

    With ``in_browser`` the page carries them sealed and the receipt's key
    is derived on the reporter's device; otherwise the reply key is
    derived here, in memory, for this request only (Argon2id, about 40 ms;
    only when there is a reply to open).
    """
    rows = list(report.replies)
    if not rows:
        return ShownReplies()
    if in_browser:
        return ShownReplies(sealed=tuple((b64encode(r.header), b64encode(r.body)) for r in rows))
    key = reply_private_key(digits)
    opened: list[ReplyText] = []
    failed = 0
    for row in rows:
        try:
            opened.append(
                open_reply(SealedEnvelope(header=row.header, body=row.body), key, report.envelope_id)
            )
        except EnvelopeError:
            failed += 1
    return ShownReplies(opened=tuple(opened), failed=failed)


def _status_page(
    session: Session,
    report: Envelope,
    stored_hash: str,
    form: FollowupForm | None = None,
    error: str | None = None,
    status: int = 200,
    replies: ShownReplies | None = None,
) -> tuple[str, int]:
    followups = session.scalar(select(func.count()).where(Envelope.followup_of == report.seq)) or 0
    followup_form = form or FollowupForm()
    if not is_submission_token(followup_form.submission.data):
        followup_form.submission.data = new_submission_token()
    followup_form.access.data = access_token(stored_hash)
    orgs = followup_organizations(session, report)
    seal_settings = _seal_settings(current_keyring())
    seal_settings["url"] = url_for("report.followup_sealed")
    return (
        render_template(
            "intake/status.html",
            title=_("Your report"),
            report=report,
            followups=followups,
            form=followup_form,
            organizations=orgs,
            seal=seal_settings,
            error=error,
            replies=replies,
        ),
        status,
    )


@bp.route("/<lang_code>/receipt", methods=["GET", "POST"])
@csp_allow("script-src", "'wasm-unsafe-eval'")  # Argon2id (hash-wasm) derives the reply key
def check() -> tuple[str, int]:
    """The receipt check, then the report's status page."""
    form = ReceiptForm()
    if not form.is_submitted():
        return _check_page(form)
    if not form.validate():
        return _check_page(form, _("The page expired. Please press Continue again."), 400)
    try:
        digits = normalize_receipt(form.receipt.data or "")
    except ReceiptFormatError as exc:
        if exc.typo:
            message = _(
                "There is a typing mistake in this receipt: its last digit does not match the others. "
                "Please check each digit."
            )
        else:
            message = _("A receipt has 28 digits, in seven groups of four. Please check what you typed.")
        return _check_page(form, message, 400)
    # Only well-formed receipts reach the database, and each lookup costs a
    # token: 10 wrong receipts in a row from one address, then one every
    # 30 seconds. The address is used here, in memory, and nowhere else.
    # With JavaScript the check carries an ALTCHA proof of work; one that
    # does not verify (spent, expired, forged) is refused, a missing one
    # meets the per-address bucket like every no-JavaScript check.
    proof = request.form.get("altcha")
    proven = proof is not None and proofofwork.verify(proof)
    if proof is not None and not proven:
        return _check_page(form, _proof_failed(), 400)
    if not proven and csrf_enabled() and not spend_check_token(form.check.data):
        # No proof of work: the page's one-time token stands for it. A
        # replayed, expired or forged one is refused before the guess
        # allowance, which one token replayed in bulk would otherwise empty.
        return _check_page(form, _("The page expired. Please press Continue again."), 400)
    if not allow_guess(request.remote_addr, proven=proven):
        return _check_page(
            form, _("Too many receipts were tried. Please wait a few minutes and try again."), 429
        )
    stored_hash = receipt_hash(current_app.config["RECEIPT_SECRET"], digits)
    session = request_session("intake.db")
    report = _report_of_hash(session, stored_hash)
    if report is None:
        del digits
        return _check_page(
            form, _("We found no report with this receipt. Please check each digit and try again."), 404
        )
    # js/replies.js asks for the replies sealed and opens them on the device.
    replies = replies_for_page(report, digits, in_browser=request.form.get("replies") == "sealed")
    del digits
    return _status_page(session, report, stored_hash, replies=replies)


def _proof_failed() -> str:
    return str(
        _(
            "This browser's check that a person is sending did not finish in time. "
            "Nothing was lost: please press the button again."
        )
    )


def _followup_refused(message: str, status: int = 400) -> tuple[str, int]:
    return (
        render_template(
            "intake/error.html",
            title=_("Your information was not sent"),
            detail=message,
            link=url_for("report.check"),
            link_text=_("Enter your receipt again"),
        ),
        status,
    )


def _expired() -> str:
    return str(_("This page has expired. Nothing was sent. Please enter your receipt again."))


@bp.route("/<lang_code>/followup", methods=["POST"])
def followup() -> tuple[str, int]:
    """Add information to a report without JavaScript: the server seals."""
    form = FollowupForm()
    if not from_own_page():
        # Another site's post (or a lost session in a browser that does not
        # say where it posted from) must not open a status page: with its
        # own access token it would put the reporter on someone else's case.
        return _followup_refused(_expired())
    session = request_session("intake.db")
    report = report_of_access(session, form.access.data)
    if report is None:
        return _followup_refused(_expired())
    stored_hash = _hash_of_access(form.access.data)
    if not form.validate_on_submit():
        return _status_page(session, report, stored_hash, form, status=400)
    try:
        body = followup_from_form(request.form, current_language().tag, report.envelope_id)
    except ReportFieldError as exc:
        return _status_page(session, report, stored_hash, form, field_message(exc.code, exc.field), 400)
    files = chosen_files(form.attachments.data)
    if not body["narrative"].strip() and not files:
        message = _("Please write something or choose a file to add.")
        return _status_page(session, report, stored_hash, form, message, 400)
    orgs = followup_organizations(session, report)
    if not orgs:
        return _followup_refused(_("The organizations your report went to no longer receive reports here."))
    # Everyone's allowance only after a valid access token, CSRF token,
    # well-formed form and room in the report's quota; then the disk floor
    # before any sealing. The quota is checked again as it is stored.
    size = sum(file_size(f) for f in files) + len(body["narrative"].encode("utf-8")) + MIB
    if not followup_quota_left(session, report.seq, size - MIB, followup_quota()):
        return _status_page(session, report, stored_hash, form, quota_message(), 429)
    if not allow_followup(request.remote_addr):
        message = _("Too many attempts in a short time. Please wait a few minutes and try again.")
        return _status_page(session, report, stored_hash, form, message, 429)
    if not disk_has_room(size):
        return _status_page(session, report, stored_hash, form, disk_full_message(), 507)
    submitted = None
    if is_submission_token(form.submission.data):
        submitted = submission_hash(current_app.config["RECEIPT_SECRET"], form.submission.data)
    attachments = attachment_inputs(files)
    sealed = seal(
        body,
        [key.public_key for org in orgs for key in org.keys],
        day=today_utc(),
        sealed_by="server",
        attachments=attachments,
        chunk_size=current_app.config["CHUNK_SIZE"],
    )
    del body, attachments  # plaintext leaves scope before any I/O
    blobs: BlobStorage = current_app.extensions["intake.blobs"]
    try:
        store_envelope(
            session,
            blobs,
            sealed,
            current_keyring().recipient_of_key(),
            submission_hash=submitted,
            followup_of=report.seq,
            followup_quota=followup_quota(),
        )
    except DuplicateSubmissionError:
        pass  # the same page sent twice: stored once, and that is what we say
    except FollowupQuotaError:
        return _status_page(session, report, stored_hash, form, quota_message(), 429)
    except StoreError:
        current_app.logger.error("could not store a follow-up")
        abort(503)
    return render_template("intake/followup_received.html", title=_("Your information was received")), 200


def _hash_of_access(token: str | None) -> str:
    stored: Any = _serializer().loads(token or "", max_age=ACCESS_MAX_AGE)
    return str(stored)


@bp.route("/<lang_code>/followup/sealed", methods=["POST"])
def followup_sealed() -> Response:
    """A follow-up sealed in the browser (contract of ``upload.py``, plus
    the ``access`` field of the status page). Answer: ``200
    {"followup": "received"}``."""
    try:
        # One address's flood is refused before the body is read.
        if not allow_followup(request.remote_addr, use_global=False):
            raise busy()
        try:
            token = request.form.get("access")
        except RequestEntityTooLarge as exc:
            raise UploadRefused("too_large", _("The files are too large."), 413) from exc
        session = request_session("intake.db")
        report = report_of_access(session, token)
        if report is None:
            raise UploadRefused("expired", _expired())
        orgs = followup_organizations(session, report)
        expected = frozenset(key.key_id for org in orgs for key in org.keys)
        if not expected:
            raise UploadRefused(
                "stale", _("The organizations your report went to no longer receive reports here.")
            )
        envelope, header, submitted = receive_browser_envelope(expected_key_ids=expected)
        proof = require_proof_of_work()
        size = len(envelope.header) + len(envelope.body) + sum(len(a) for a in envelope.attachments)
        if not followup_quota_left(session, report.seq, size, followup_quota()):
            raise UploadRefused("quota", quota_message(), 429)
        # Everyone's allowance only now (a valid access token, CSRF token,
        # envelope, unspent proof of work and room in the report's quota
        # are shown); then the disk floor. The quota is checked again as
        # the envelope is stored.
        if not allow_followup(request.remote_addr, per_client=False):
            raise busy()
        require_disk_room(envelope)
        store_browser_envelope(envelope, header, submitted, receipt=None, followup_of=report.seq, proof=proof)
    except UploadRefused as refusal:
        return refused(refusal)
    return jsonify(followup="received")
