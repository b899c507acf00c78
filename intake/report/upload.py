"""The browser path: receive an envelope the reporter's browser sealed, check
it, store it, answer with the receipt.

Contract (``POST /<lang>/sealed``, ``multipart/form-data``; the JavaScript in
``js/form.js`` is its only client):

``csrf_token``
    the form's CSRF token (a text field);
``submission``
    the form's one-time submission token (a text field, see
    :func:`core.receipts.submission_hash`): a retry of the same form after
    a lost answer stores nothing twice;
``lookup``
    the receipt's lookup value (a text field, 64 lowercase hex digits),
    derived in the browser from the receipt it made (``js/receipt.js``,
    ``js/replykey.js``; core/envelope/conversation.py). The receipt
    itself never leaves the browser (docs/threat-model.md, "The
    receipt"). The intake keeps only the lookup's keyed hash
    (:func:`core.receipts.lookup_hash`, labelled with the header's
    format version), committed with the envelope. The browser sends the
    same value on every retry of one form, which is how a retry after a
    lost answer is told so (below). A page from before this field sends
    ``receipt`` (28 digits) instead: the intake then derives the lookup in
    memory, for that request only, and answers with the receipt as before;
``header``, ``body``
    file parts: the canonical header bytes and the body ciphertext;
``attachment``
    one file part per header slot, in slot order (none when there are no
    files): each attachment's STREAM ciphertext;
``altcha``
    the ALTCHA proof of work (a text field, :mod:`intake.abuse.proofofwork`): a
    challenge from ``GET /<lang>/challenge`` and its solution.

Every part is ciphertext except the header, which is the cleartext the store
keeps anyway. Answers are JSON, never a page and never a 500:

* ``200 {"stored": true, "earlier": false}`` after the envelope is
  committed (invariant 5); the browser then shows the receipt it made.
  (``"receipt": "1234 5678 …"`` as well when the request carried one.)
* ``200 {"stored": true, "earlier": true}``: this form (submission token)
  was stored already under this very receipt (its keyed lookup hash is the
  one stored with that envelope): the first answer was lost.
  Nothing new is stored (what the retry carries is dropped, which the page
  says); the reporter sees the receipt that holds. Each such comparison
  costs a receipt guess (``throttle.guesses``).
* ``400 {"error": "csrf", "message", "csrf_token"}``: the token expired; the
  new one lets the page send again without a reload.
* ``400 {"error": "stale" | "incomplete", "message"}``: the header does not
  match what this intake expects (day, recipients, ``sealed_by``), the
  receipt is missing or malformed, or a part is missing or of the wrong
  length.
* ``400 {"error": "altcha", "message"}``: the proof of work is missing,
  forged, expired or spent (on any worker or host: spent challenges are
  rows of the database); nothing was stored.
* ``409 {"error": "duplicate", "message"}``: this form (submission token)
  is stored already under another receipt, or this envelope id is stored
  already; no receipt is shown.
* ``429 {"error": "busy", "message"}``: too many attempts (receipt guesses
  on a retry, or the submission throttle).
* ``413 {"error": "too_large", "message"}``: over the size limits.
* ``429 {"error": "quota", "message"}``: a follow-up over its report's
  daily quota (:mod:`intake.abuse.quota`).
* ``507 {"error": "disk_full", "message"}``: storing it would go below the
  free-disk floor (``MIN_FREE_DISK``); the page keeps what was typed.
* ``503 {"error": "unavailable", "message"}``: the store failed; nothing kept.

What the intake checks (:mod:`.received`; it cannot read the envelope, only
its header):

* ``sealed_by`` is ``"browser"``: the header says which path sealed it and
  the server path never uses this endpoint;
* the recipient key ids are a non-empty subset of the active keys that
  holds every active key of each organization it names: the reporter
  chooses organizations, and an organization with two active keys (during a
  rotation) gets both. A follow-up (:mod:`intake.followup.views`) must name exactly the
  active keys of the organizations its report went to;
* the day is today (UTC) or one day either side, for a page left open over
  midnight or a clock at the edge of a day;
* ``reply_key`` is the reporter's reply public key (derived in the browser
  from the receipt, docs/envelope.md "Reply keys") or null; a follow-up
  carries none, since replies go to the report's key;
* the receipt is well formed; one that another report holds already is not
  refused (that answer would tell a client that the receipt exists): the
  envelope is stored without a receipt and answered as usual;
* the body is ``body.size + 16`` bytes and each attachment exactly its slot's
  ciphertext size, with one part per slot;
* the padded sizes are within the limits of :mod:`core.limits`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import current_app, jsonify, request
from flask_babel import gettext as _
from flask_wtf.csrf import generate_csrf
from sqlalchemy import Select, bindparam, select
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.wrappers import Response

from core.db import request_session
from core.envelope import Header, SealedEnvelope
from core.envelope.conversation import lookup_value
from core.envelope.replykey import reply_seed
from core.receipts import (
    format_receipt,
    is_lookup,
    is_receipt,
    lookup_hash,
)
from core.timing import equal

from ..abuse import proofofwork
from ..abuse.quota import disk_full_message, disk_has_room, followup_quota, quota_message
from ..abuse.throttle import allow_guess, allow_submission
from ..keyring import current_keyring
from ..store.blobs import BlobStore
from ..store.envelopes import (
    ChallengeSpentError,
    DuplicateSubmissionError,
    FollowupQuotaError,
    StoreError,
    store_envelope,
)
from ..store.models import Envelope, ReceiptRecord, SpentChallenge
from .received import UploadRefused, busy, receive_browser_envelope, stale, unavailable
from .views import bp


def _duplicate() -> UploadRefused:
    return UploadRefused(
        "duplicate",
        _(
            "This report was received already. We stored it the first time you sent it. For your "
            "safety the receipt is shown only once. If you did not keep it, you can send the report "
            "again from a new form."
        ),
        409,
    )


def _proof_refused(*, followup: bool = False) -> UploadRefused:
    """The refusal of a missing, forged, expired or spent proof of work,
    naming the button of the page that sent ("Send" on the follow-up page,
    "Send report" on the form)."""
    if followup:
        message = _(
            "Your browser did not finish a short automatic check in time. "
            "Nothing was stored. Please press “Send” again."
        )
    else:
        message = _(
            "Your browser did not finish a short automatic check in time. "
            "Nothing was stored. Please press “Send report” again."
        )
    return UploadRefused("altcha", str(message))


def require_proof_of_work(*, followup: bool = False, look_up: bool = True) -> proofofwork.Proof | None:
    """Check the upload's ``altcha`` field (:mod:`intake.abuse.proofofwork`), after the
    parts were read and before anything everyone shares is spent. Returns
    the challenge to record with the envelope (None when proof of work is
    off).

    With ``look_up=False`` whether it was spent is left to the caller
    (:func:`look_up_prior`).

    Args:
        followup: the upload comes from the follow-up page (its button is
            "Send", the form's is "Send report": the message names it).

    Raises:
        UploadRefused: ``altcha`` when it is missing, forged, expired or
            spent (the page's script renews it and sends again once);
            ``unavailable`` (database).
    """
    if not proofofwork.required():
        return None
    try:
        proof = proofofwork.check(request.form.get("altcha"), look_up=look_up)
    except SQLAlchemyError as exc:
        request_session("intake.db").rollback()
        current_app.logger.error("database error %s on a proof of work", exc.__class__.__name__)
        raise unavailable() from exc
    if proof is None:
        raise _proof_refused(followup=followup)
    return proof


def _disk_full() -> UploadRefused:
    return UploadRefused("disk_full", disk_full_message(), 507)


def require_disk_room(envelope: SealedEnvelope) -> None:
    """Refuse an upload that would bring the data folder's free space under
    ``MIN_FREE_DISK`` (:func:`intake.abuse.quota.disk_has_room`).

    Raises:
        UploadRefused: ``disk_full`` (507).
    """
    size = len(envelope.header) + len(envelope.body) + sum(len(a) for a in envelope.attachments)
    if not disk_has_room(size):
        raise _disk_full()


def _refused(refusal: UploadRefused) -> Response:
    payload = {"error": refusal.error, "message": refusal.message}
    if refusal.error == "csrf":
        payload["csrf_token"] = generate_csrf()
    response = jsonify(payload)
    response.status_code = refusal.status
    return response


@dataclass(frozen=True)
class Prior:
    """What the database holds already that bears on one upload, found in
    one query (:func:`look_up_prior`) instead of one per question.

    Attributes:
        submission_seq: the envelope stored with this form's submission
            token, or None.
        submission_receipt_hash: that envelope's keyed receipt hash (None
            if it has none, or there is no such envelope).
        envelope_known: an envelope with this envelope id is stored.
        receipt_taken: another envelope holds this receipt's keyed hash.
        challenge_spent: the upload's proof-of-work challenge is recorded
            as spent.
    """

    submission_seq: int | None
    submission_receipt_hash: str | None
    envelope_known: bool
    receipt_taken: bool
    challenge_spent: bool = False


def _prior_query() -> Select[Any]:
    by_submission = Envelope.submission_hash == bindparam("submitted")
    return select(
        select(Envelope.seq).where(by_submission).limit(1).scalar_subquery(),
        select(ReceiptRecord.receipt_hash)
        .join(Envelope, ReceiptRecord.envelope_seq == Envelope.seq)
        .where(by_submission)
        .limit(1)
        .scalar_subquery(),
        select(Envelope.seq)
        .where(Envelope.envelope_id == bindparam("envelope_id"))
        .limit(1)
        .scalar_subquery(),
        select(ReceiptRecord.envelope_seq)
        .where(ReceiptRecord.receipt_hash == bindparam("stored_hash"))
        .limit(1)
        .scalar_subquery(),
        select(SpentChallenge.challenge_hash)
        .where(SpentChallenge.challenge_hash == bindparam("spent"))
        .limit(1)
        .scalar_subquery(),
    )


#: Built once: making a statement costs more than running it on SQLite.
PRIOR_QUERY = _prior_query()


def look_up_prior(
    submitted: str | None, envelope_id: str, stored_hash: str | None, spent: str | None = None
) -> Prior:
    """Answer every question :func:`receive_sealed` asks the database before it
    stores, in one round trip: ``SELECT`` of five scalar subqueries, each on
    a unique or indexed column (``spent``: the hash of the upload's
    proof-of-work challenge, :class:`.proofofwork.Proof`).

    Raises:
        UploadRefused: ``unavailable`` (database).
    """
    session = request_session("intake.db")
    params = {"submitted": submitted, "envelope_id": envelope_id, "stored_hash": stored_hash, "spent": spent}
    try:
        # On the session's connection (its transaction) rather than through
        # session.execute: the query returns plain values, so the ORM's
        # result processing would be cost and nothing else.
        seq, held_hash, known, holder, spent_row = session.connection().execute(PRIOR_QUERY, params).one()
    except SQLAlchemyError as exc:
        current_app.logger.error("database error %s before storing", exc.__class__.__name__)
        raise unavailable() from exc
    return Prior(
        submission_seq=seq if submitted is not None else None,
        submission_receipt_hash=held_hash if submitted is not None else None,
        envelope_known=known is not None,
        receipt_taken=stored_hash is not None and holder is not None,
        challenge_spent=spent is not None and spent_row is not None,
    )


def store_browser_envelope(
    envelope: SealedEnvelope,
    header: Header,
    submitted: str | None,
    *,
    receipt: str | None,
    followup_of: int | None = None,
    prior: Prior | None = None,
    proof: proofofwork.Proof | None = None,
) -> None:
    """Store a checked browser upload and commit it.

    Args:
        receipt: the receipt's lookup value (64 hex digits, derived by the
            browser) whose keyed hash is stored with it, in the envelope's
            transaction (None for a follow-up, which lives under its
            report's receipt).
        followup_of: the ``seq`` of the report a follow-up adds to.
        prior: :func:`look_up_prior` of this upload, made by the caller
            (which found no envelope with its submission token); None to
            look up here.
        proof: the upload's proof-of-work challenge, recorded as spent in
            the envelope's transaction.

    Raises:
        UploadRefused: ``duplicate``, ``altcha`` (the challenge was spent
            by a racing request), ``quota`` (a follow-up over its report's
            daily quota) or ``unavailable``; nothing kept.
    """
    session = request_session("intake.db")
    secret = current_app.config["RECEIPT_SECRET"]
    stored_hash = lookup_hash(secret, receipt, header.version) if receipt is not None else None
    checked = prior is not None
    if prior is None:
        prior = look_up_prior(None, header.envelope_id, stored_hash)
    if prior.envelope_known:
        raise _duplicate()
    if prior.receipt_taken:
        # The browser chose a receipt that another report holds already. An
        # honest browser does that with probability 10^-27; a client that
        # does it knew that receipt. Answering anything but the usual 200
        # would make this endpoint an unthrottled "does this receipt
        # exist?" oracle, so the envelope is stored without a receipt of its
        # own and the answer is the same as for any other report.
        current_app.logger.warning("a browser upload named a receipt that is in use; stored without it")
        stored_hash = None
    blobs: BlobStore = current_app.extensions["intake.blobs"]
    try:
        store_envelope(
            session,
            blobs,
            envelope,
            current_keyring().recipient_of_key(),
            receipt_hash=stored_hash,
            submission_hash=submitted,
            followup_of=followup_of,
            submission_checked=checked and prior.submission_seq is None,
            header=header,
            spent=(proof.challenge_hash, proof.keep_until) if proof is not None else None,
            followup_quota=followup_quota() if followup_of is not None else None,
        )
    except DuplicateSubmissionError as exc:
        raise _duplicate() from exc
    except ChallengeSpentError as exc:
        raise _proof_refused() from exc
    except FollowupQuotaError as exc:
        raise UploadRefused("quota", quota_message(), 429) from exc
    except StoreError as exc:
        current_app.logger.error("could not store a browser-sealed envelope")
        raise unavailable() from exc


def stored_earlier(submitted: str, receipt: str, version: int) -> bool:
    """Whether this form was stored already under this very receipt: the
    same page's retry after its first answer was lost.

    Returns False when no envelope carries the submission token (store it
    now). The receipt is compared with the keyed hash stored with *that*
    envelope only, in constant time, and each comparison costs a token of
    the receipt-guess buckets (:func:`intake.abuse.throttle.guesses`), so this is no
    better a guessing oracle than the receipt check.

    Raises:
        UploadRefused: ``duplicate`` (stored under another receipt, or
            without one: no receipt is shown a second time), ``busy`` (out
            of guesses), ``unavailable`` (database).
    """
    session = request_session("intake.db")
    try:
        row = session.execute(
            select(Envelope.seq, ReceiptRecord.receipt_hash)
            .outerjoin(ReceiptRecord, ReceiptRecord.envelope_seq == Envelope.seq)
            .where(Envelope.submission_hash == submitted)
        ).first()
        session.rollback()  # read only; store_envelope wants a clean session
    except SQLAlchemyError as exc:
        current_app.logger.error("database error %s before storing", exc.__class__.__name__)
        raise unavailable() from exc
    if row is None:
        return False
    return _same_receipt(row.receipt_hash, receipt, version)


def _same_receipt(stored: str | None, receipt: str, version: int) -> bool:
    """The decision of :func:`stored_earlier` once an envelope with the
    form's submission token is found, its keyed receipt hash ``stored``:
    True, or raises as :func:`stored_earlier`."""
    if stored is None:
        raise _duplicate()
    if not allow_guess(request.remote_addr):
        raise busy()
    if not equal(stored, lookup_hash(current_app.config["RECEIPT_SECRET"], receipt, version)):
        raise _duplicate()
    return True


def refused(refusal: UploadRefused) -> Response:
    """The JSON answer of a refused upload."""
    return _refused(refusal)


@bp.route("/<lang_code>/sealed", methods=["POST"])
def receive_sealed() -> Response:
    """Store an envelope sealed in the reporter's browser (see the module
    docstring for the contract)."""
    try:
        # One address's flood is refused before the body is read; what
        # everyone shares is spent only on uploads that did the work.
        if not allow_submission(request.remote_addr, use_global=not proofofwork.required()):
            raise busy()
        envelope, header, submitted = receive_browser_envelope()
        # The proof's signature here (one HMAC); whether it was spent is
        # one more question of look_up_prior's single query.
        proof = require_proof_of_work(look_up=False)
        digits: str | None = None
        lookup = request.form.get("lookup")
        if lookup is None:
            # A page from before the lookup value: it sent the receipt. The
            # lookup is derived here, in memory, for this request only.
            digits = request.form.get("receipt")
            if digits is None or not is_receipt(digits):
                # Every page this intake serves makes one (js/receipt.js): a
                # missing or malformed one is an old or foreign page.
                raise stale()
            lookup = lookup_value(reply_seed(digits))
        elif not is_lookup(lookup):
            raise stale()
        # One query answers "this form again?", "this envelope again?",
        # "this receipt in use?" and "this challenge spent?"
        # (look_up_prior), rather than four, plus the store's own look-up
        # of the token.
        stored_hash = lookup_hash(current_app.config["RECEIPT_SECRET"], lookup, header.version)
        prior = look_up_prior(
            submitted, header.envelope_id, stored_hash, proof.challenge_hash if proof is not None else None
        )
        if prior.challenge_spent:
            raise _proof_refused()
        # Everyone's allowance only now: the form's CSRF token, a
        # well-formed envelope and an unspent proof of work are shown.
        if proofofwork.required() and not allow_submission(request.remote_addr, per_client=False):
            raise busy()
        require_disk_room(envelope)
        if prior.submission_seq is not None and _same_receipt(
            prior.submission_receipt_hash, lookup, header.version
        ):
            return _receipt_answer(digits, earlier=True)
        try:
            store_browser_envelope(envelope, header, submitted, receipt=lookup, prior=prior, proof=proof)
        except UploadRefused as refusal:
            # The same form racing itself: the other request stored it.
            if (
                refusal.error == "duplicate"
                and submitted is not None
                and stored_earlier(submitted, lookup, header.version)
            ):
                return _receipt_answer(digits, earlier=True)
            raise
    except UploadRefused as refusal:
        return _refused(refusal)
    return _receipt_answer(digits, earlier=False)


def _receipt_answer(receipt: str | None, *, earlier: bool) -> Response:
    # The browser shows the receipt it made. Only a page from before the
    # lookup value sent the receipt, and gets it back in this body: never a
    # URL, a cookie or a log.
    if receipt is None:
        return jsonify(stored=True, earlier=earlier)
    return jsonify(stored=True, receipt=format_receipt(receipt), earlier=earlier)
