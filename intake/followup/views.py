"""Coming back with a receipt: check it, see that the report is stored, and
add information or files as a new envelope linked to the same case.

Pages (``/<lang>/…``):

``receipt`` (GET, POST)
    the receipt check. The typed receipt is normalized
    (:func:`core.receipts.normalize_receipt`: full-width digits, spaces,
    dashes, Chinese punctuation); a failed check digit gets its own message
    and costs nothing; a well-formed receipt is looked up by its keyed hash,
    and each lookup takes a token from :func:`intake.abuse.throttle.guesses`
    (a global bucket and one per keyed address, in memory only, see
    :mod:`intake.abuse.throttle`). Endpoint ``followup.check``.
``followup`` (POST)
    the no-JavaScript follow-up: the server seals it. Endpoint
    ``followup.add``.
``followup/sealed`` (POST)
    the follow-up sealed in the browser (the contract of
    ``intake/report/upload.py``). Endpoint ``followup.receive_sealed``.

The receipt never travels in a URL or a cookie. After a successful check
the status page carries a signed, short-lived access token
(:func:`.access.access_token`) instead, so adding information does not need the
receipt again. The follow-up is stored with ``followup_of`` = the report's
``seq``, and its sealed body names the report's envelope id
(``"follows"``); docs/report-fields.md, "Follow-ups".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Blueprint, abort, current_app, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response

from core.db import request_session
from core.envelope import SealedEnvelope
from core.envelope.conversation import followup_proof
from core.envelope.format import new_envelope_id
from core.i18n import current_language, localize
from core.limits import MIB
from core.receipts import (
    ReceiptFormatError,
    is_lookup,
    is_submission_token,
    new_submission_token,
    normalize_receipt,
    submission_hash,
)
from core.schema.fields import MAX_NARRATIVE, ReportFieldError, followup_from_form
from core.uploads import chosen_files, file_size, form_limit
from core.web import csp_allow

from ..abuse import proofofwork
from ..abuse.quota import disk_full_message, disk_has_room, followup_quota, quota_message
from ..abuse.throttle import allow_followup, allow_guess, guess_allowed
from ..keyring import current_keyring
from ..report.cookies import missing_cookie_message
from ..report.messages import field_message, form_limit_message
from ..report.organizations import Organization
from ..report.received import UploadRefused, busy, receive_browser_envelope
from ..report.serverseal import seal_on_server
from ..report.upload import (
    refused,
    require_disk_room,
    require_proof_of_work,
    store_browser_envelope,
)
from ..report.views import arrived_files, from_own_page, seal_settings
from ..store.blobs import BlobStore
from ..store.envelopes import (
    DuplicateSubmissionError,
    FollowupQuotaError,
    StoreError,
    followup_quota_left,
    store_envelope,
)
from ..store.models import Envelope
from .access import (
    Access,
    access_of,
    access_token,
    csrf_enabled,
    new_check_token,
    spend_check_token,
    unspent_check_token,
)
from .forms import FollowupForm, ReceiptForm
from .lookup import (
    ShownReplies,
    find_report,
    followup_organizations,
    replies_for_page,
    report_of_access,
    report_of_hash,
)

bp = Blueprint("followup", __name__)
localize(bp)


def _check_page(
    form: ReceiptForm, error: str | None = None, status: int = 200, *, files_dropped: bool = False
) -> tuple[str, int]:
    form.check.data = new_check_token()  # each page one lookup without JavaScript
    # Text typed on a status page whose access expired rides along with the
    # check, in the body of each post only, until the status page shows it
    # again (add()).
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
    seal = seal_settings(current_keyring())
    seal["url"] = url_for("followup.receive_sealed")
    return (
        render_template(
            "intake/status.html",
            title=_("Your report"),
            report=report,
            followups=followups,
            form=followup_form,
            organizations=orgs,
            seal=seal,
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
    lookup, digits, problem = _typed_receipt(form)
    if problem is not None:
        return _check_page(form, _receipt_problem_message(problem), 400)
    refusal = _guess_refusal(form)
    if refusal is not None:
        return refusal
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


def _typed_receipt(form: ReceiptForm) -> tuple[str | None, str | None, str | None]:
    """``(lookup, digits, problem)`` of a posted check: the browser's
    lookup value or the normalized digits typed without JavaScript, or the
    problem found with them (``"typo"``, ``"format"``)."""
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
    return lookup, digits, problem


def _receipt_problem_message(problem: str) -> str:
    if problem == "typo":
        return str(
            _(
                "There is a typing mistake in this receipt: its last digit does not match the others. "
                "Please check each digit."
            )
        )
    return str(_("A receipt has 28 digits, in seven groups of four. Please check what you typed."))


def _guess_refusal(form: ReceiptForm) -> tuple[str, int] | None:
    """The check page that refuses this lookup, or None when it may take
    a guess."""
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
    if not proven and csrf_enabled():
        # No proof of work: the page's one-time token stands for it. A
        # replayed, expired or forged one is refused before the guess
        # allowance, which one token replayed in bulk would otherwise empty:
        # recorded as spent first (one of many racing copies wins), but only
        # when the buckets have room, so that the checks they refuse write
        # nothing (a fresh page, and so a fresh token, is free to load).
        token = unspent_check_token(form.check.data)
        if token is None:
            return _check_page(form, _("The page expired. Please press Continue again."), 400)
        if guess_allowed(request.remote_addr) and not spend_check_token(token):
            return _check_page(form, _("The page expired. Please press Continue again."), 400)
    if not allow_guess(request.remote_addr, proven=proven):
        return _check_page(
            form, _("Too many receipts were tried. Please wait a few minutes and try again."), 429
        )
    return None


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
            link=url_for("followup.check"),
            link_text=_("Enter your receipt again"),
        ),
        status,
    )


def _expired() -> str:
    return str(_("This page has expired. Nothing was sent. Please enter your receipt again."))


@bp.get("/<lang_code>/followup")
def reopened() -> Response:
    """The follow-up address opened again (a bookmark, a shared link, a
    reload that became a GET): it carries no access token, so it leads to
    the receipt check in the same language rather than to "page not found",
    which a frightened reporter could read as "the report is gone"."""
    return redirect(url_for("followup.check"), 303)


@bp.route("/<lang_code>/followup", methods=["POST"])
def add() -> tuple[str, int]:
    """Add information to a report without JavaScript: the server seals."""
    form = FollowupForm()
    if not from_own_page():
        # Another site's post (or a lost session in a browser that does not
        # say where it posted from) must not open a status page: with its
        # own access token it would put the reporter on someone else's case.
        return _followup_refused(_expired())
    session = request_session("intake.db")
    access = access_of(form.access.data)
    report = report_of_hash(session, access.stored_hash) if access is not None else None
    if report is None or access is None:
        return _access_expired(form)
    page = _StatusPage(session, report, access, form)
    checked = _checked_followup(page)
    if not isinstance(checked, _Followup):
        return checked
    refusal = _allowance_refusal(page, checked)
    if refusal is not None:
        return refusal
    sealed, arrived = _seal_followup(page, checked)
    del checked  # plaintext leaves scope before any I/O
    return _store_followup(page, sealed, arrived)


@dataclass(frozen=True)
class _StatusPage:
    """The status page a no-JavaScript follow-up was posted from, to show
    again with a message when it is refused."""

    session: Session
    report: Envelope
    access: Access
    form: FollowupForm

    def refuse(self, message: str | None, status: int) -> tuple[str, int]:
        return _status_page(self.session, self.report, self.access, self.form, message, status)


@dataclass(frozen=True)
class _Followup:
    """A checked follow-up: its body, files and the organizations it goes to."""

    body: dict[str, Any]
    files: list[FileStorage]
    organizations: list[Organization]


def _access_expired(form: FollowupForm) -> tuple[str, int]:
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


def _checked_followup(page: _StatusPage) -> _Followup | tuple[str, int]:
    """The posted follow-up, or the page that refuses it (over the form's
    limits, invalid, empty, or no organization left to send it to)."""
    form = page.form
    if (limit := form_limit()) is not None:
        # Text over the form's limits: the beginning was kept (uploads.py).
        return page.refuse(form_limit_message(limit), 413)
    if not form.validate_on_submit():
        return page.refuse(None, 400)
    try:
        body = followup_from_form(request.form, current_language().tag, page.report.envelope_id)
    except ReportFieldError as exc:
        return page.refuse(field_message(exc.code, exc.field), 400)
    files = chosen_files(form.attachments.data)
    if not body["narrative"].strip() and not files:
        return page.refuse(_("Please write something or choose a file to add."), 400)
    orgs = followup_organizations(page.session, page.report)
    if not orgs:
        return _followup_refused(_("The organizations your report went to no longer receive reports here."))
    return _Followup(body, files, orgs)


def _allowance_refusal(page: _StatusPage, checked: _Followup) -> tuple[str, int] | None:
    """The page that refuses the follow-up for lack of room (the report's
    quota, everyone's allowance, the disk floor), or None."""
    # Everyone's allowance only after a valid access token, CSRF token,
    # well-formed form and room in the report's quota; then the disk floor
    # before any sealing. The quota is checked again as it is stored.
    size = sum(file_size(f) for f in checked.files) + len(checked.body["narrative"].encode("utf-8")) + MIB
    if not followup_quota_left(page.session, page.report.seq, size - MIB, followup_quota()):
        return page.refuse(quota_message(), 429)
    if not allow_followup(request.remote_addr):
        return page.refuse(
            _("Too many attempts in a short time. Please wait a few minutes and try again."), 429
        )
    if not disk_has_room(size):
        return page.refuse(disk_full_message(), 507)
    return None


def _seal_followup(page: _StatusPage, checked: _Followup) -> tuple[SealedEnvelope, list[tuple[str, str]]]:
    """The follow-up sealed to its organizations, and what to list as arrived."""
    access, report = page.access, page.report
    arrived = arrived_files(checked.files)
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
    sealed = seal_on_server(
        checked.body,
        checked.organizations,
        checked.files,
        auth=proof,
        envelope_id=envelope_id,
    )
    return sealed, arrived


def _store_followup(
    page: _StatusPage, sealed: SealedEnvelope, arrived: list[tuple[str, str]]
) -> tuple[str, int]:
    """Store a sealed follow-up and say it was received."""
    form, report = page.form, page.report
    submitted = None
    if is_submission_token(form.submission.data):
        submitted = submission_hash(current_app.config["RECEIPT_SECRET"], form.submission.data)
    blobs: BlobStore = current_app.extensions["intake.blobs"]
    try:
        store_envelope(
            page.session,
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
        return page.refuse(quota_message(), 429)
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
def receive_sealed() -> Response:
    """A follow-up sealed in the browser (contract of
    ``intake/report/upload.py``, plus
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
