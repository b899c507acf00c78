"""Interview mode: a reviewer files a report on someone's behalf (a phone
call, a community meeting) from the console (docs/console.md, "Interview
mode").

The form offers the public form's fields, read by the same function
(:func:`core.schema.fields.report_from_form`), so the report has the same
shape, plus ``"taken_by": "interview"``. The console makes a receipt,
derives the person's reply key from it, seals the report to its
organization's active keys (``sealed_by: "console"``) and sends the envelope
and the receipt's lookup value (never the receipt) to the intake (``POST /api/v1/envelopes``, through
:meth:`admin.sync.client.IntakeClient.post_envelope`). The receipt is shown once,
on the answer to the POST, for the reviewer to hand over; the console never
stores or logs it. The audit log gets ``interview.file`` with the envelope
id. The case itself arrives with the next sync, like any report.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from flask import Blueprint, current_app, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFError
from werkzeug.datastructures import MultiDict
from wtforms import HiddenField, MultipleFileField, SelectField, TextAreaField
from wtforms.validators import Length, ValidationError

from core.envelope import KeyFileError, RecipientPrivateKey, RecipientPublicKey, seal
from core.envelope.conversation import auth_key, lookup_value
from core.envelope.replykey import reply_seed
from core.i18n import LANGUAGES
from core.limits import DEFAULT_MAX_FILE_SIZE, MIB, REQUEST_MARGIN, UploadLimits, megabytes
from core.receipts import format_receipt, is_submission_token, new_receipt, new_submission_token
from core.schema import fields
from core.schema.fields import MAX_NARRATIVE, ReportFieldError, report_from_form
from core.timing import today_utc
from core.uploads import InMemoryRequest, attachment_inputs, chosen_files, file_size

from ..audit import log as audit
from ..auth.guard import can, live
from ..cases.reportview import INTERVIEW_FILED
from ..errors import IntakeAuthError, IntakeError, SyncNotConfiguredError
from ..extensions import data_dir, db_session, keyring
from ..keys.custody import UnlockedKeyring, key_states
from ..permissions import Permission
from ..sync.client import IntakeClient, client_from_config

bp = Blueprint("interview", __name__, url_prefix="/interview")

ENDPOINT = "interview.form"
#: The audit action of a filed interview (object: the envelope id).
AUDIT_ACTION = INTERVIEW_FILED
#: The largest interview form post, in bytes, unless ``INTERVIEW_MAX_CONTENT_LENGTH``
#: says otherwise: the intake's default request limit, so what the console
#: accepts the intake accepts too (the intake checks again and may refuse).
DEFAULT_MAX_CONTENT_LENGTH = 64 * MIB
#: How many filed forms (their one-time submission tokens) the process
#: remembers, so that Back and send again files nothing twice.
REMEMBERED_SUBMISSIONS = 1000


class InterviewRequest(InMemoryRequest):
    """The console's request class: every multipart file part is held in
    memory (a file chosen in an interview is plaintext, and Werkzeug would
    spool a part over 500 KiB to a temporary file, outside the console's
    encryption at rest), and the interview form may post up to
    :func:`request_limit` bytes while every other view keeps the console's
    ``MAX_CONTENT_LENGTH`` (1 MiB).

    The limit must hold before any view runs, since the CSRF check reads
    the form first; the endpoint is known then (matched when the request
    context is pushed).
    """

    @property
    def max_content_length(self) -> int | None:
        """``request_limit()`` on the interview form, else Flask's rule."""
        if self._max_content_length is None and self.endpoint == ENDPOINT and current_app:
            return request_limit(current_app.config)
        return super().max_content_length

    @max_content_length.setter
    def max_content_length(self, value: int | None) -> None:
        self._max_content_length = value


def request_limit(config: Mapping[str, Any]) -> int:
    """Bytes an interview form post may have (``INTERVIEW_MAX_CONTENT_LENGTH``,
    default :data:`DEFAULT_MAX_CONTENT_LENGTH`)."""
    return int(config.get("INTERVIEW_MAX_CONTENT_LENGTH") or DEFAULT_MAX_CONTENT_LENGTH)


def upload_limits(config: Mapping[str, Any]) -> UploadLimits:
    """Limits on an interview's files, by the intake's rule
    (core/limits.py): what still fits the request once padded, and
    at most 50 MiB a file."""
    fits = max(0, (request_limit(config) - REQUEST_MARGIN) * 8 // 9)
    return UploadLimits(max_file=min(DEFAULT_MAX_FILE_SIZE, fits), max_total=fits)


def _within_limits(_form: Any, field: Any) -> None:
    limits = upload_limits(current_app.config)
    files = chosen_files(field.data)
    if len(files) > limits.max_files:
        raise ValidationError(_("Choose at most %(n)d files.", n=limits.max_files))
    sizes = [file_size(f) for f in files]
    if any(size > limits.max_file for size in sizes):
        raise ValidationError(_("A file is larger than %(size)s MB.", size=megabytes(limits.max_file)))
    if sum(sizes) > limits.max_total:
        raise ValidationError(
            _("The files together are larger than %(size)s MB.", size=megabytes(limits.max_total))
        )


class InterviewForm(FlaskForm):  # type: ignore[misc]
    """The parts of the interview form WTForms holds: CSRF token, narrative,
    files, the person's language and a one-time submission token. The coded
    fields are rendered from :mod:`core.schema.fields` and read by
    :func:`core.schema.fields.report_from_form`."""

    narrative = TextAreaField(
        "What happened?",
        validators=[Length(max=MAX_NARRATIVE, message="Keep the text under 100,000 characters.")],
        render_kw={"rows": 12, "autocomplete": "off", "spellcheck": "false"},
    )
    attachments = MultipleFileField("Evidence files (optional)", validators=[_within_limits])
    #: Choices set by the view (:func:`language_choices`), as for the
    #: console's other select fields.
    language = SelectField(_l("Language the person reads"), choices=[], default="en")
    submission = HiddenField()


def language_choices() -> list[tuple[str, str]]:
    """(BCP 47 tag, own name) of each language of the public pages: the
    report's ``language``, which the receipt's pages and replies follow."""
    return [(lang.tag, lang.name) for lang in LANGUAGES.values()]


#: Messages for :class:`ReportFieldError` codes, for the reviewer.
FIELD_MESSAGES = {
    "narrative_or_tactic": "Write what happened, or tick at least one thing that happened.",
    "when": "Write a date such as 2026-07-14 or a month such as 2026-07, or leave it empty.",
    "too_long": "Keep this under 200 characters.",
    "other_state_not_chosen": "Choose \u201cAnother state\u201d, or clear the name of the other state.",
    "contact_method_not_chosen": (
        "Choose how a reviewer may contact the person, or clear the contact details."
    ),
}


class _Submissions:
    """One-time submission tokens of forms filed by this process (bounded,
    oldest forgotten first). A token grants nothing; it only tells a form
    sent again (Back, reload) from a new one."""

    def __init__(self, size: int) -> None:
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def __contains__(self, token: object) -> bool:
        with self._lock:
            return token in self._seen

    def add(self, token: str) -> None:
        with self._lock:
            self._seen[token] = None
            while len(self._seen) > self._size:
                self._seen.popitem(last=False)


_filed = _Submissions(REMEMBERED_SUBMISSIONS)


class NoActiveKeyError(Exception):
    """The console knows no active public key of its organization."""


def organization_keys(keys: UnlockedKeyring) -> list[RecipientPublicKey]:
    """The organization's active public keys, which an interview is sealed
    to: for each private key file, the console's copy of its public key file
    unless that says ``retired``; for a key without a copy (made before the
    console kept copies), its public half while the key is unlocked.

    Raises:
        NoActiveKeyError: none (no key file, every key retired, or only keys
            without a copy while locked).
        KeyFileError: a private key file cannot be read.
    """
    found: list[RecipientPublicKey] = []
    unlocked: dict[str, RecipientPublicKey] | None = None
    for state in key_states(data_dir()):
        if state.public is not None:
            if not state.retired:
                found.append(state.public.public_key)
            continue
        if unlocked is None:
            unlocked = {k.key_id: k.public_key for k in keys.private_keys()} if keys.unlocked else {}
        if state.info.key_id in unlocked:
            found.append(unlocked[state.info.key_id])
    if not found:
        raise NoActiveKeyError("no active public key of the organization is known to the console")
    return found


def _refusal_message(exc: IntakeClient.EnvelopeRefused) -> str:
    if exc.code == "too_large":
        return "The intake refused the files as too large. Nothing was filed. Choose smaller or fewer files."
    if exc.code == "recipients":
        return (
            "The intake does not accept this organization's keys for this token (a key was rotated?). "
            "Nothing was filed. Check the keys page, or ask a coordinator."
        )
    if exc.code == "day":
        return "The intake refused the day of the report: check this computer's clock. Nothing was filed."
    return f"The intake refused the report ({exc.code}). Nothing was filed. Press File again."


def _page(
    form: InterviewForm,
    *,
    errors: Mapping[str, str] | None = None,
    values: MultiDict[str, str] | None = None,
    notice: str | None = None,
    status: int = 200,
) -> tuple[str, int]:
    """The form, with what was posted kept on an error (files must be chosen
    again: the console does not keep them)."""
    files_dropped = values is not None and bool(chosen_files(request.files.getlist("attachments")))
    limits = upload_limits(current_app.config)
    return (
        render_template(
            "interview/form.html",
            form=form,
            fields=fields,
            errors=errors or {},
            values=values if values is not None else MultiDict(),
            notice=notice,
            files_dropped=files_dropped,
            max_file_mb=megabytes(limits.max_file),
            max_total_mb=megabytes(limits.max_total),
        ),
        status,
    )


@bp.route("", methods=["GET", "POST"])
def form() -> str | tuple[str, int]:
    """Show the interview form; on a valid POST, seal, file with the
    intake, and show the receipt once. Any failure shows the form again
    with everything typed kept and nothing filed."""
    interview = InterviewForm()
    interview.language.choices = language_choices()
    if not is_submission_token(interview.submission.data):
        interview.submission.data = new_submission_token()
    if not interview.is_submitted():
        return _page(interview)

    errors: dict[str, str] = {}
    language = interview.language.data if interview.language.data in _TAGS else "en"
    report: dict[str, Any] | None = None
    try:
        report = report_from_form(request.form, language, today_utc())
    except ReportFieldError as exc:
        errors[exc.field] = (
            "Keep the text under 100,000 characters."
            if exc.field == "narrative" and exc.code == "too_long"
            else FIELD_MESSAGES.get(exc.code, "Check this field.")
        )
    if not interview.validate() or errors or report is None:
        return _page(interview, errors=errors, values=request.form, status=400)
    if interview.submission.data in _filed:
        # Back and File again, or a reload of the receipt page: the
        # receipt is shown once, so this shows no receipt.
        return render_template("interview/filed_already.html"), 200
    report[fields.TAKEN_BY] = fields.TAKEN_BY_INTERVIEW

    try:
        recipients = organization_keys(keyring())
    except (NoActiveKeyError, KeyFileError):
        return _page(
            interview,
            values=request.form,
            notice="No active key of the organization is known to this console. Nothing was filed. "
            "A coordinator can check the keys page (a key without a copy of its public key file "
            "counts only while unlocked).",
            status=503,
        )
    attachments = attachment_inputs(interview.attachments.data)
    # The receipt first: the person's reply key is derived from it
    # (Argon2id, core/envelope/replykey.py) and its public half sealed into
    # the header, so replies open with this receipt only.
    # The conversation's auth key goes inside the sealed report (format v2,
    # core/envelope/conversation.py), so that replies and follow-ups to
    # this case are proved as for any report.
    receipt = new_receipt()
    receipt_key = reply_seed(receipt)
    sealed = seal(
        report,
        recipients,
        day=today_utc(),
        sealed_by="console",
        attachments=attachments,
        reply_key=RecipientPrivateKey(receipt_key).public_key.raw,
        auth={"key": auth_key(receipt_key)},
    )
    # The intake gets the receipt's lookup value only, as from a reporter's
    # browser: with the receipt it could open replies and prove follow-ups.
    lookup = lookup_value(receipt_key)
    del receipt_key
    count = len(attachments)
    del report, attachments  # plaintext leaves scope before any I/O

    notice: str | None = None
    status = 503
    try:
        with client_from_config(current_app.config) as client:
            envelope_id, _earlier = client.post_envelope(
                sealed.header, sealed.body, sealed.attachments, lookup
            )
        if envelope_id != sealed.envelope_id:
            raise IntakeError("the intake confirmed another envelope id")
    except SyncNotConfiguredError:
        notice = "The intake is not configured (ADMIN_INTAKE_URL, ADMIN_INTAKE_TOKEN). Nothing was filed."
    except IntakeAuthError:
        notice = "The intake refused this console's API token. Nothing was filed. Ask an admin to check it."
    except IntakeClient.EnvelopeRefused as exc:
        notice = _refusal_message(exc)
        status = 413 if exc.code == "too_large" else 400
    except IntakeError as exc:
        notice = (
            "The intake cannot be reached right now. Nothing was filed. "
            "What you typed is still here: press File again in a moment."
        )
        # The class only: never the receipt, the token or content.
        current_app.logger.warning("interview not filed: %s", exc.__class__.__name__)
    if notice is not None:
        return _page(interview, values=request.form, notice=notice, status=status)

    _filed.add(interview.submission.data)
    session = db_session()
    audit.record(session, current_user.email, AUDIT_ACTION, envelope_id, f"attachments={count}")
    session.commit()
    public_url = current_app.config.get("INTAKE_PUBLIC_URL")
    return render_template(
        "interview/receipt.html",
        receipt=format_receipt(receipt),
        envelope_id=envelope_id,
        receipt_url=f"{str(public_url).rstrip('/')}/{_url_code(language)}/receipt" if public_url else None,
    )


@bp.errorhandler(CSRFError)
def _expired(_error: CSRFError) -> tuple[str, int]:
    """A post without a valid CSRF token. An interview can take longer than
    the token lives (``WTF_CSRF_TIME_LIMIT``), so for a logged-in account
    that may file, the form comes back with everything typed and a fresh
    token instead of the console's bare error page; nothing is filed.
    Anyone else gets that error page (400)."""
    if not live() or not can(Permission.INTERVIEW.value):
        return render_template(
            "error.html", code=400, message="The form expired. Go back, reload and try again."
        ), 400
    interview = InterviewForm()
    interview.language.choices = language_choices()
    return _page(
        interview,
        values=request.form,
        notice="The form expired while it was open. Nothing was filed. What you typed is still here: "
        "press File again.",
        status=400,
    )


_TAGS = frozenset(lang.tag for lang in LANGUAGES.values())


def _url_code(tag: str) -> str:
    return next((lang.code for lang in LANGUAGES.values() if lang.tag == tag), "en")
