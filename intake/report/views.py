"""Views of the report form. They validate, call the sealing and store
services, and render; nothing else."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from flask_wtf.csrf import validate_csrf
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.wrappers import Response
from wtforms import StringField
from wtforms.validators import ValidationError

from core.db import request_session
from core.envelope import SealedEnvelope
from core.envelope.conversation import auth_key, lookup_value
from core.envelope.keys import RecipientPrivateKey, b64encode
from core.envelope.replykey import reply_seed
from core.i18n import best_language, current_language, localize
from core.limits import MIB, current_limits, megabytes, size_text
from core.receipts import (
    ReceiptFormatError,
    format_receipt,
    is_submission_token,
    lookup_hash,
    new_receipt,
    new_submission_token,
    normalize_receipt,
    submission_hash,
)
from core.schema import fields
from core.schema.fields import FORM_VERSION, ReportFieldError, report_from_form
from core.timing import today_utc
from core.uploads import (
    chosen_files,
    file_size,
    form_limit,
)
from core.web import csp_allow

from ..abuse.quota import disk_has_room
from ..abuse.throttle import allow_submission
from ..keyring import PublicKeyring, current_keyring
from ..store.blobs import BlobStore
from ..store.envelopes import DuplicateSubmissionError, StoreError, store_envelope, submission_exists
from .cookies import missing_cookie_message, secure_cookie_over_http
from .forms import ReportForm, csrf_time_limit, note_request_start
from .messages import FORM_LIMITS, field_message, form_limit_message
from .organizations import Organization, chosen_organizations, organizations
from .serverseal import seal_on_server

bp = Blueprint("report", __name__)

localize(bp)
# The CSRF time limit of an upload counts to the start of its request (forms.py).
bp.before_app_request(note_request_start)
# Pages say why a form's session cookie did not come back (cookies.py).
bp.add_app_template_global(missing_cookie_message)


#: Where "Leave quickly" goes (``LEAVE_URL`` overrides): a neutral,
#: common site that gives no hint of what was open before.
DEFAULT_LEAVE_URL = "https://www.wikipedia.org/"
#: Pages whose address is the same in every language (the language chooser
#: links to the same page; anything else links to the form).
SAME_PAGE = frozenset({"report.form", "report.safety", "followup.check"})


@bp.app_context_processor
def _page_context() -> dict[str, object]:
    endpoint = request.endpoint if request.endpoint in SAME_PAGE else "report.form"
    return {
        "leave_url": current_app.config.get("LEAVE_URL") or DEFAULT_LEAVE_URL,
        "same_page": endpoint,
    }


@bp.route("/")
def root() -> Response:
    """Send a first visit to the form in the browser's language."""
    return redirect(url_for("report.form", lang_code=best_language()))


def form_context(keyring: PublicKeyring, values: MultiDict[str, str] | None) -> dict[str, object]:
    """What the form template needs besides the WTForms form: the choices,
    the organizations, and what was posted (to keep it on an error)."""
    return {
        "fields": fields,
        "values": values if values is not None else MultiDict(),
        "posted": values is not None,
        "organizations": organizations(keyring),
        "seal": seal_settings(keyring),
        # The header's language chooser posts this form (base.html).
        "switch_form": REPORT_FORM_ID,
    }


#: The report form's HTML id: the language buttons name it (``form=``).
REPORT_FORM_ID = "report-form"
#: The language buttons' name: a post that carries it only changes language.
SWITCH_LANGUAGE = "switch_language"


#: The honeypot: a text field hidden from sight and from the tab order,
#: labelled "Leave this field empty" for screen readers. Its name matches no
#: autofill category, so browsers leave it alone.
TRAP_FIELD = "extra_note"


def _form_again(
    keyring: PublicKeyring, report_form: ReportForm, *, notice: str, status: int
) -> tuple[str, int]:
    """The form again with everything posted kept (files must be chosen
    again), a ``notice`` (``throttled``, ``disk_full``, ``trap`` or one of
    :data:`FORM_LIMITS`) and nothing stored."""
    return (
        render_template(
            "intake/form.html",
            form=report_form,
            errors={},
            notice=notice,
            limit_message=form_limit_message(notice) if notice in FORM_LIMITS else None,
            files_dropped=_files_were_chosen(request.form),
            **form_context(keyring, request.form),
        ),
        status,
    )


def from_own_page() -> bool:
    """Whether the current POST comes from this reporter's own page: its
    CSRF token belongs to their session (a cookie that another site's post
    never carries: ``SameSite=Strict``), or the browser says the post was
    sent from a page of this very origin (``Sec-Fetch-Site: same-origin``,
    a header no page can set), which keeps what a reporter typed when only
    their session expired. True when CSRF checking is off (tests)."""
    if not current_app.config.get("WTF_CSRF_ENABLED", True):
        return True
    if request.headers.get("Sec-Fetch-Site") == "same-origin":
        return True
    try:
        validate_csrf(request.form.get("csrf_token"), time_limit=csrf_time_limit())
    except ValidationError:
        return False
    return True


def _cannot_send_here() -> bool:
    """Whether no form can be sent from this address at all: a ``Secure``
    session cookie on plain http (intake/report/cookies.py). Such a post
    cannot be told from another site's (no cookie, and browsers say where
    a post came from only in a secure context), but nothing it carries can
    be stored from here either, so the form comes back with what was typed
    and says why (the CSRF check fails below) rather than an empty form."""
    return secure_cookie_over_http()


def _upload_size(report_form: ReportForm) -> int:
    """Bytes of the chosen files (in memory), for the disk floor."""
    return sum(file_size(f) for f in chosen_files(report_form.attachments.data))


def _files_were_chosen(posted: MultiDict[str, str]) -> bool:
    """Whether a language switch came from a form with files chosen. The
    buttons post ``application/x-www-form-urlencoded``, so a file input
    sends only its file names, never the files (a multipart post from an
    odd browser sends the files, held in memory and dropped)."""
    return any(posted.getlist("attachments")) or bool(chosen_files(request.files.getlist("attachments")))


def seal_settings(keyring: PublicKeyring) -> dict[str, object]:
    """What the page's script needs to seal in the browser: the upload URL,
    the day to write in the header, the chunk size, the limits, the public
    keys (as data attributes: no inline script, CSP stays strict)."""
    limits = current_limits()
    return {
        "url": url_for("report.receive_sealed"),
        # ALTCHA proof of work for the upload (intake/abuse/proofofwork.py).
        "challenge_url": url_for("abuse.challenge") if current_app.config.get("ALTCHA", True) else "",
        "day": today_utc().isoformat(),
        "chunk": current_app.config["CHUNK_SIZE"],
        "max_file": limits.max_file,
        "max_total": limits.max_total,
        "max_files": limits.max_files,
        "max_file_mb": megabytes(limits.max_file),
        "max_total_mb": megabytes(limits.max_total),
        "form_version": FORM_VERSION,
        "public_keys": {k.key_id: b64encode(k.public_key.raw) for k in keyring.active},
    }


@bp.route("/<lang_code>/", methods=["GET", "POST"])
@csp_allow("script-src", "'wasm-unsafe-eval'")  # Argon2id (hash-wasm) derives the reply key
def form() -> str | tuple[str, int]:
    """Show the form; on a valid POST, seal in memory, store, show the
    receipt. A POST from the language chooser (``switch_language``) only
    shows the form again in this language; a POST past the submission
    throttle or the disk floor, or with the honeypot filled, stores
    nothing and shows the form again with everything kept. A POST that is
    not from the reporter's own page (:func:`from_own_page`) gets a fresh,
    empty form."""
    keyring = current_keyring()
    report_form = ReportForm()
    if report_form.is_submitted() and not from_own_page() and not _cannot_send_here():
        return _foreign_post(keyring)
    if not is_submission_token(report_form.submission.data):
        # A first view, or a client that sent none or a malformed one: a
        # fresh token (a POST without one is stored, just not deduplicated).
        report_form.submission.data = new_submission_token()
    if report_form.is_submitted():
        kept = _kept_form_answer(keyring, report_form)
        if kept is not None:
            return kept
    checked = _checked_report(keyring, report_form)
    if not isinstance(checked, _CheckedReport):
        return checked
    # Everyone's allowance only now, once the post has shown what it can
    # cheaply show (a CSRF token of this session, a well-formed form): a
    # flood of empty or junk posts spends none of it (docs/report-fields.md,
    # "Floods"). What a real reporter typed is kept, to send later.
    if not allow_submission(request.remote_addr):
        return _form_again(keyring, report_form, notice="throttled", status=429)
    if not disk_has_room(_upload_size(report_form) + MIB):
        return _form_again(keyring, report_form, notice="disk_full", status=507)

    session = request_session("intake.db")
    submitted = submission_hash(current_app.config["RECEIPT_SECRET"], report_form.submission.data)
    if submission_exists(session, submitted):
        return _already_received()

    arrived = arrived_files(report_form.attachments.data)
    sealed, stored_hash, receipt = _seal_report(checked, report_form)
    del checked  # plaintext leaves scope before any I/O

    blobs: BlobStore = current_app.extensions["intake.blobs"]
    try:
        store_envelope(
            session,
            blobs,
            sealed,
            keyring.recipient_of_key(),
            receipt_hash=stored_hash,
            submission_hash=submitted,
            # Looked up above, before the sealing: not again (a race of the
            # same form with itself still meets the unique column).
            submission_checked=True,
        )
    except DuplicateSubmissionError:
        return _already_received()
    except StoreError:
        current_app.logger.error("could not store an envelope")
        abort(503)
    return _receipt_page(format_receipt(receipt), arrived=arrived, sealed_by_server=True)


def _foreign_post(keyring: PublicKeyring) -> tuple[str, int]:
    """The answer to a post that did not come from the reporter's own page."""
    # A post from another site (or from a page whose session is gone,
    # in a browser that does not say where it was sent from): nothing
    # it carries reaches the page, so it can neither plant a spent
    # submission token ("received already" on the next Send) nor tick
    # consents or untick recipients. A fresh, empty form; nothing done.
    fresh = ReportForm(formdata=None)
    fresh.submission.data = new_submission_token()
    notice = None if SWITCH_LANGUAGE in request.form else "foreign"
    return (
        render_template(
            "intake/form.html", form=fresh, errors={}, notice=notice, **form_context(keyring, None)
        ),
        200 if notice is None else 400,
    )


def _kept_form_answer(keyring: PublicKeyring, report_form: ReportForm) -> str | tuple[str, int] | None:
    """The form shown again with everything kept and nothing stored (text
    over the limits, a language switch, the honeypot filled), or None to
    go on with a posted form."""
    if (limit := form_limit()) is not None:
        # Text over the form's limits (core/uploads.py): the beginning of
        # each field was kept, the rest dropped as it arrived. Show what was
        # kept and say which limit, rather than refuse the whole post.
        return _form_again(keyring, report_form, notice=limit, status=413)
    if SWITCH_LANGUAGE in request.form:
        # The language chooser on this reporter's own form (checked above)
        # posted what was typed to the form of another language: show it
        # there, keep every value, store nothing. Files cannot be kept by a
        # server that must not hold them (and a file input cannot be
        # filled in), so the page asks for them again.
        return render_template(
            "intake/form.html",
            form=report_form,
            errors={},
            switched=True,
            files_dropped=_files_were_chosen(request.form),
            **form_context(keyring, request.form),
        )
    if request.form.get(TRAP_FIELD, "").strip():
        # The hidden "leave this field empty" field has text: a script that
        # fills every field, or (rarely) a browser's autofill or a person.
        # Nothing is stored. The answer is a plain 200, which is all a
        # generic script looks at, but its words are honest: a fake receipt
        # would tell a real reporter that a report reached the coalition
        # when it was dropped, the worst failure here. The form comes back
        # with everything kept and the field emptied, so one more press of
        # Send goes through (docs/report-fields.md, "Floods").
        return _form_again(keyring, report_form, notice="trap", status=200)
    return None


@dataclass(frozen=True)
class _CheckedReport:
    """A valid posted report: its JSON and the organizations chosen."""

    report: dict[str, Any]
    organizations: list[Organization]


def _checked_report(keyring: PublicKeyring, report_form: ReportForm) -> _CheckedReport | tuple[str, int]:
    """The posted report, or the form shown (again) with its errors: a
    first view, an invalid field, no organization chosen, a bad CSRF token."""
    errors: dict[str, str] = {}
    report = None
    chosen: list[Organization] = []
    if report_form.is_submitted():
        try:
            report = report_from_form(request.form, current_language().tag, today_utc())
        except ReportFieldError as exc:
            errors[exc.field] = field_message(exc.code, exc.field)
        chosen = chosen_organizations(keyring, request.form)
        if not chosen:
            errors["recipients"] = field_message("recipients")
    if not report_form.validate_on_submit() or errors:
        status = 400 if report_form.is_submitted() else 200
        values = request.form if report_form.is_submitted() else None
        return (
            render_template(
                "intake/form.html",
                form=report_form,
                errors=errors,
                **form_context(keyring, values),
            ),
            status,
        )
    if report is None:  # not reachable: set whenever the form was submitted
        abort(400)
    return _CheckedReport(report, chosen)


def _seal_report(checked: _CheckedReport, report_form: ReportForm) -> tuple[SealedEnvelope, str, str]:
    """``(sealed, stored receipt hash, receipt)``: the report sealed to the
    chosen organizations under a new receipt."""
    # The receipt comes first: the reporter's reply key is derived from it
    # (Argon2id, core/envelope/replykey.py) and its public half sealed
    # into the header, so reviewers can answer what only this receipt opens.
    # The conversation's auth key (core/envelope/conversation.py) goes
    # inside the sealed body (format v2): replies and follow-ups must prove
    # it. Both, and the receipt, leave scope with this request.
    receipt = new_receipt()
    receipt_key = reply_seed(receipt)
    sealed = seal_on_server(
        checked.report,
        checked.organizations,
        report_form.attachments.data,
        reply_key=RecipientPrivateKey(receipt_key).public_key.raw,
        auth={"key": auth_key(receipt_key)},
    )
    stored_hash = lookup_hash(current_app.config["RECEIPT_SECRET"], lookup_value(receipt_key), 2)
    return sealed, stored_hash, receipt


#: The hidden form of the receipt page that the language buttons post: the
#: receipt goes to the same page in the other language, in the request body
#: only (never a URL), since it cannot be shown again otherwise.
RECEIPT_LANGUAGE_FORM_ID = "receipt-language"


class ReceiptShownForm(FlaskForm):  # type: ignore[misc]
    """The receipt page's language change: the receipt it shows, posted back."""

    receipt = StringField()


def arrived_files(files: list[FileStorage] | None) -> list[tuple[str, str]]:
    """The chosen files as the receipt page lists them: (name, size text)."""
    return [(f.filename or "", size_text(file_size(f))) for f in chosen_files(files)]


def _receipt_page(
    receipt: str,
    status: int = 200,
    arrived: list[tuple[str, str]] | None = None,
    *,
    sealed_by_server: bool = False,
) -> tuple[str, int]:
    return (
        render_template(
            "intake/receipt.html",
            receipt=receipt,
            arrived=arrived or [],
            sealed_by_server=sealed_by_server,
            title=_("Your report was received"),
            switch_form=RECEIPT_LANGUAGE_FORM_ID,
            switch_endpoint="report.receipt_shown",
            language_form=ReceiptShownForm(formdata=None, receipt=receipt),
        ),
        status,
    )


@bp.route("/<lang_code>/receipt/shown", methods=["POST"])
def receipt_shown() -> tuple[str, int]:
    """The receipt page again, in the language chosen on it: a reporter who
    landed on the wrong language must not lose the receipt by switching.
    The receipt comes from the page itself (the body of this POST); it is
    only checked for form and shown, never looked up, stored or logged."""
    form = ReceiptShownForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        digits = normalize_receipt(form.receipt.data or "")
    except ReceiptFormatError:
        abort(400)
    return _receipt_page(format_receipt(digits))


@bp.route("/<lang_code>/safety")
def safety() -> str:
    """How to report safely."""
    return render_template("intake/safety.html", title=_("Staying safe when you report"))


def _already_received() -> str:
    # The same form again (double click, Back and resend, reload): one
    # envelope, and no receipt here, since a receipt is shown only once.
    # Unlike the browser path (upload.py, where the page's script made the
    # receipt and a retry proves it knows it), a resent plain form carries
    # nothing but its one-time token, which sits in the page and in the
    # browser's history: showing the receipt again on it would hand the
    # receipt to whoever can press Back on that device. The receipt page
    # says this before it happens (templates/intake/receipt.html).
    return render_template(
        "intake/error.html",
        title=_("This report was received already"),
        detail=_(
            "We stored it the first time you sent it. For your safety the receipt is shown only "
            "once. If you did not keep it, you can send the report again from a new form."
        ),
        code=200,
    )
