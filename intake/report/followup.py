"""Coming back with a receipt: check it, see that the report is stored, and
add information or files as a new envelope linked to the same case.

Pages (``/<lang>/…``):

``receipt`` (GET, POST)
    the receipt check. The typed receipt is normalized
    (:func:`core.receipts.normalize_receipt`: full-width digits, spaces,
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

import base64
import hashlib
import json
from dataclasses import dataclass, field
from datetime import timedelta
from secrets import token_hex

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import abort, current_app, jsonify, render_template, request, url_for
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import func, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response
from wtforms import HiddenField, StringField

from core.db import request_session
from core.envelope import EnvelopeError, SealedEnvelope, seal
from core.envelope.conversation import auth_key, followup_proof, lookup_value
from core.envelope.errors import UnauthenticatedError
from core.envelope.format import new_envelope_id
from core.envelope.keys import RecipientPrivateKey, b64encode
from core.envelope.replykey import ReplyText, open_reply, reply_seed
from core.i18n import current_language
from core.limits import MIB
from core.receipts import (
    ReceiptFormatError,
    is_lookup,
    is_submission_token,
    lookup_hash,
    new_submission_token,
    normalize_receipt,
    receipt_hash,
    submission_hash,
)
from core.schema.fields import MAX_NARRATIVE, ReportFieldError, followup_from_form
from core.timing import today_utc
from core.uploads import attachment_inputs, chosen_files, file_size, form_limit
from core.web import csp_allow

from ..blobs import BlobStorage
from ..keyring import current_keyring
from ..models import Envelope, EnvelopeRecipient, ReceiptRecord
from ..store import (
    DuplicateSubmissionError,
    FollowupQuotaError,
    StoreError,
    followup_quota_left,
    store_envelope,
)
from . import proofofwork
from .cookies import missing_cookie_message
from .forms import FollowupForm
from .quota import disk_full_message, disk_has_room, followup_quota, quota_message
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
from .views import (
    Organization,
    _seal_settings,
    arrived_files,
    bp,
    field_message,
    form_limit_message,
    from_own_page,
    organizations,
)

#: How long a status page may be used to add information (seconds;
#: ``FOLLOWUP_ACCESS_MAX_AGE`` overrides). Past it, what was typed is kept
#: and carried through a new receipt check (:func:`followup`).
ACCESS_MAX_AGE = 3600


def _access_max_age() -> int:
    return int(current_app.config.get("FOLLOWUP_ACCESS_MAX_AGE") or ACCESS_MAX_AGE)


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


def _access_cipher() -> Fernet:
    # A key of its own, derived from the app's secret key: the token is
    # encrypted (it may carry the conversation's auth key on the
    # no-JavaScript path), authenticated and dated (Fernet, from
    # ``cryptography``).
    secret = current_app.secret_key or b""
    raw = secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_ACCESS_SALT.encode()).derive(raw)
    return Fernet(base64.urlsafe_b64encode(key))


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


@dataclass(frozen=True)
class Access:
    """What a status page's access token stands for: the receipt's stored
    keyed hash, the report's format (1 or 2), and, on the no-JavaScript
    path only, the conversation's auth key (the server needs it to prove a
    follow-up it seals; with JavaScript the browser proves it)."""

    stored_hash: str
    version: int
    auth_key: bytes | None = None


def access_token(access: Access) -> str:
    """An encrypted token that lets one status page add information for
    ``FOLLOWUP_ACCESS_MAX_AGE`` seconds (default :data:`ACCESS_MAX_AGE`).
    It holds the receipt's keyed hash (and perhaps the auth key), never
    the receipt."""
    doc = {
        "h": access.stored_hash,
        "v": access.version,
        "k": access.auth_key.hex() if access.auth_key is not None else None,
    }
    return _access_cipher().encrypt(json.dumps(doc).encode()).decode("ascii")


def access_of(token: str | None) -> Access | None:
    """The :class:`Access` of a token, or None (bad, expired)."""
    if not token:
        return None
    try:
        doc = json.loads(_access_cipher().decrypt(token.encode("ascii"), ttl=_access_max_age()))
        key = doc["k"]
        return Access(
            stored_hash=str(doc["h"]),
            version=int(doc["v"]),
            auth_key=bytes.fromhex(key) if isinstance(key, str) else None,
        )
    except (InvalidToken, UnicodeError, ValueError, KeyError, TypeError):
        return None


def report_of_access(session: Session, token: str | None) -> Envelope | None:
    """The report an access token was issued for, or None (bad, expired)."""
    access = access_of(token)
    return _report_of_hash(session, access.stored_hash) if access is not None else None


def _report_of_hash(session: Session, stored_hash: str) -> Envelope | None:
    return session.scalar(
        select(Envelope)
        .join(ReceiptRecord, ReceiptRecord.envelope_seq == Envelope.seq)
        .where(ReceiptRecord.receipt_hash == stored_hash)
    )


@dataclass(frozen=True)
class Found:
    """A report found by its receipt: the report, how its receipt is
    stored, its format, and (no-JavaScript path only, this request only)
    the receipt key (core/envelope/replykey.py)."""

    report: Envelope
    access: Access
    receipt_key: bytes | None = field(default=None, repr=False)


def find_report(session: Session, *, lookup: str | None = None, digits: str | None = None) -> Found | None:
    """The report of a receipt, from the browser's lookup value or (no
    JavaScript) the receipt's digits.

    The format comes from the label of the stored hash that answers
    (:func:`core.receipts.lookup_hash`): without the lookup value no one
    can make a record that answers under another label, so an intake's
    database cannot pass a v2 report off as an older one.

    A report stored before lookup values (its record the keyed hash of the
    digits) is found by the digits only; it is then moved to its lookup's
    v1 hash, so that from now on the browser finds it without the receipt
    and the database holds no hash of the digits.

    Raises:
        SQLAlchemyError: the database failed.
    """
    secret = current_app.config["RECEIPT_SECRET"]
    receipt_key: bytes | None = None
    if digits is not None:
        receipt_key = reply_seed(digits)
        lookup = lookup_value(receipt_key)
        legacy = receipt_hash(secret, digits)
        report = _report_of_hash(session, legacy)
        if report is not None:
            moved = lookup_hash(secret, lookup, 1)
            session.execute(
                update(ReceiptRecord).where(ReceiptRecord.receipt_hash == legacy).values(receipt_hash=moved)
            )
            session.commit()
            return Found(report, Access(moved, 1, auth_key(receipt_key)), receipt_key)
    if lookup is None:
        return None
    for version in (2, 1):
        stored = lookup_hash(secret, lookup, version)
        report = _report_of_hash(session, stored)
        if report is not None:
            key = auth_key(receipt_key) if receipt_key is not None else None
            return Found(report, Access(stored, version, key), receipt_key)
    return None


def followup_organizations(session: Session, report: Envelope) -> list[Organization]:
    """The active organizations the report was sealed to: a follow-up goes
    to them, no one else (their current active keys, after a rotation)."""
    recipient_ids = set(
        session.scalars(
            select(EnvelopeRecipient.recipient_id).where(EnvelopeRecipient.envelope_seq == report.seq)
        )
    )
    return [org for org in organizations(current_keyring()) if org.recipient_id in recipient_ids]


def _check_page(
    form: ReceiptForm, error: str | None = None, status: int = 200, *, files_dropped: bool = False
) -> tuple[str, int]:
    form.check.data = new_check_token()  # each page one lookup without JavaScript
    # Text typed on a status page whose access expired rides along with the
    # check, in the body of each post only, until the status page shows it
    # again (followup()).
    kept = request.form.get("narrative", "")[:MAX_NARRATIVE] if request.method == "POST" else ""
    return (
        render_template(
            "intake/check.html",
            form=form,
            error=error,
            title=_("Come back with your receipt"),
            kept_narrative=kept,
            files_dropped=files_dropped,
        ),
        status,
    )


@dataclass(frozen=True)
class ShownReplies:
    """The replies a status page shows: ``opened`` by the server (no
    JavaScript: derived key, this request only), or ``sealed`` as base64
    ``(header, body)`` pairs for the browser to open (``js/replies.js``).
    ``failed`` counts replies that did not open, ``unauthenticated`` those
    that opened but whose proof did not verify (not shown: they could have
    been written by anyone who can write to this server).
    ``version`` is the report's format: replies to a v1 report carry no
    proof and are shown as "not authenticated (older report)"."""

    opened: tuple[ReplyText, ...] = ()
    sealed: tuple[tuple[str, str], ...] = ()
    failed: int = 0
    unauthenticated: int = 0
    version: int = 2


def replies_for_page(report: Envelope, found: Found, *, in_browser: bool) -> ShownReplies:
    """The report's replies for its status page.

    With ``in_browser`` the page carries them sealed and the receipt's key
    is derived on the reporter's device; otherwise the reply key is
    derived here, in memory, for this request only (Argon2id, about 40 ms),
    and each reply of a v2 report must carry a proof under the auth key
    (core/envelope/conversation.py).
    """
    version = found.access.version
    rows = list(report.replies)
    if not rows:
        return ShownReplies(version=version)
    if in_browser or found.receipt_key is None:
        return ShownReplies(
            sealed=tuple((b64encode(r.header), b64encode(r.body)) for r in rows), version=version
        )
    key = RecipientPrivateKey(found.receipt_key)
    expected_auth = found.access.auth_key if version == 2 else None
    opened: list[ReplyText] = []
    failed = unauthenticated = 0
    for row in rows:
        try:
            opened.append(
                open_reply(
                    SealedEnvelope(header=row.header, body=row.body),
                    key,
                    report.envelope_id,
                    auth_key=expected_auth,
                )
            )
        except UnauthenticatedError:
            unauthenticated += 1
        except EnvelopeError:
            failed += 1
    return ShownReplies(opened=tuple(opened), failed=failed, unauthenticated=unauthenticated, version=version)


def _status_page(
    session: Session,
    report: Envelope,
    access: Access,
    form: FollowupForm | None = None,
    error: str | None = None,
    status: int = 200,
    replies: ShownReplies | None = None,
) -> tuple[str, int]:
    followups = session.scalar(select(func.count()).where(Envelope.followup_of == report.seq)) or 0
    followup_form = form or FollowupForm()
    if not is_submission_token(followup_form.submission.data):
        followup_form.submission.data = new_submission_token()
    followup_form.access.data = access_token(access)
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
        # No session cookie came back: say why, rather than loop on "expired".
        message = missing_cookie_message() or _("The page expired. Please press “Continue” again.")
        return _check_page(form, message, 400)
    # With JavaScript the browser sends the receipt's lookup value, never
    # the receipt (js/replies.js; docs/threat-model.md, "The receipt"), and
    # names a typing mistake it found instead of sending what was typed.
    lookup = request.form.get("lookup")
    digits: str | None = None
    problem = request.form.get("receipt_problem")
    if lookup is None and problem is None:
        try:
            digits = normalize_receipt(form.receipt.data or "")
        except ReceiptFormatError as exc:
            problem = "typo" if exc.typo else "format"
    elif lookup is not None and not is_lookup(lookup):
        problem = "format"
    if problem is not None:
        if problem == "typo":
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
    session = request_session("intake.db")
    found = find_report(session, lookup=lookup, digits=digits)
    del digits
    if found is None:
        return _check_page(
            form, _("We found no report with this receipt. Please check each digit and try again."), 404
        )
    # js/replies.js asks for the replies sealed and opens them on the device.
    replies = replies_for_page(found.report, found, in_browser=request.form.get("replies") == "sealed")
    return _status_page(session, found.report, found.access, replies=replies)


def _proof_failed() -> str:
    return str(
        _(
            "Your browser did not finish a short automatic check in time. "
            "Nothing was lost: please press “Continue” again."
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
    access = access_of(form.access.data)
    report = _report_of_hash(session, access.stored_hash) if access is not None else None
    if report is None or access is None:
        if (form.narrative.data or "").strip():
            # The page expired while the reporter wrote: keep the text and
            # ask for the receipt again; the status page then shows it.
            return _check_page(
                ReceiptForm(formdata=None),
                _(
                    "This page expired while you were writing. Nothing was sent. What you wrote is kept: "
                    "enter your receipt again and press “Continue” to go on."
                ),
                400,
                files_dropped=bool(chosen_files(form.attachments.data)),
            )
        return _followup_refused(_expired())
    if (limit := form_limit()) is not None:
        # Text over the form's limits: the beginning was kept (uploads.py).
        return _status_page(session, report, access, form, form_limit_message(limit), 413)
    if not form.validate_on_submit():
        return _status_page(session, report, access, form, status=400)
    try:
        body = followup_from_form(request.form, current_language().tag, report.envelope_id)
    except ReportFieldError as exc:
        return _status_page(session, report, access, form, field_message(exc.code, exc.field), 400)
    files = chosen_files(form.attachments.data)
    if not body["narrative"].strip() and not files:
        message = _("Please write something or choose a file to add.")
        return _status_page(session, report, access, form, message, 400)
    orgs = followup_organizations(session, report)
    if not orgs:
        return _followup_refused(_("The organizations your report went to no longer receive reports here."))
    # Everyone's allowance only after a valid access token, CSRF token,
    # well-formed form and room in the report's quota; then the disk floor
    # before any sealing. The quota is checked again as it is stored.
    size = sum(file_size(f) for f in files) + len(body["narrative"].encode("utf-8")) + MIB
    if not followup_quota_left(session, report.seq, size - MIB, followup_quota()):
        return _status_page(session, report, access, form, quota_message(), 429)
    if not allow_followup(request.remote_addr):
        message = _("Too many attempts in a short time. Please wait a few minutes and try again.")
        return _status_page(session, report, access, form, message, 429)
    if not disk_has_room(size):
        return _status_page(session, report, access, form, disk_full_message(), 507)
    submitted = None
    if is_submission_token(form.submission.data):
        submitted = submission_hash(current_app.config["RECEIPT_SECRET"], form.submission.data)
    arrived = arrived_files(files)
    attachments = attachment_inputs(files)
    # The follow-up proves the receipt (format v2): the console files it on
    # the case only if the proof verifies under the report's auth key. The
    # token carries that key on this path only (the check derived it from
    # the typed receipt); without it (a token from the browser path) the
    # follow-up goes as v1 and the console marks it not authenticated.
    envelope_id = new_envelope_id()
    proof = (
        {"proof": followup_proof(access.auth_key, report.envelope_id, envelope_id)}
        if access.auth_key is not None
        else None
    )
    sealed = seal(
        body,
        [key.public_key for org in orgs for key in org.keys],
        day=today_utc(),
        sealed_by="server",
        attachments=attachments,
        chunk_size=current_app.config["CHUNK_SIZE"],
        auth=proof,
        envelope_id=envelope_id,
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
        return _status_page(session, report, access, form, quota_message(), 429)
    except StoreError:
        current_app.logger.error("could not store a follow-up")
        abort(503)
    return (
        render_template(
            "intake/followup_received.html", title=_("Your information was received"), arrived=arrived
        ),
        200,
    )


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
        proof = require_proof_of_work(followup=True)
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
