"""Views of the report form. They validate, call the sealing and store
services, and render; nothing else."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, g, redirect, render_template, url_for
from flask_babel import gettext as _
from werkzeug.datastructures import FileStorage
from werkzeug.wrappers import Response

from ..db import request_session
from ..envelope import AttachmentInput, seal
from ..envelope.keys import b64encode
from ..i18n import LANGUAGES, best_language, current_language
from ..keyring import Keyring, current_keyring
from ..receipts import (
    format_receipt,
    is_submission_token,
    new_receipt,
    new_submission_token,
    receipt_hash,
    submission_hash,
)
from ..store import (
    BlobStorage,
    DuplicateSubmissionError,
    StoreError,
    store_envelope,
    submission_exists,
    today_utc,
)
from .forms import ReportForm, chosen_files
from .limits import current_limits, megabytes

bp = Blueprint("report", __name__)

FORM_VERSION = 1


@bp.url_value_preprocessor
def _pull_lang(_endpoint: str | None, values: dict[str, object] | None) -> None:
    if values is None or "lang_code" not in values:
        return
    code = values.pop("lang_code")
    if code not in LANGUAGES:
        abort(404)
    g.lang_code = code


@bp.url_defaults
def _add_lang(_endpoint: str, values: dict[str, object]) -> None:
    values.setdefault("lang_code", g.get("lang_code") or best_language())


@bp.route("/")
def root() -> Response:
    """Send a first visit to the form in the browser's language."""
    return redirect(url_for("report.form", lang_code=best_language()))


def _attachments(files: list[FileStorage]) -> list[AttachmentInput]:
    return [
        AttachmentInput(
            name=file.filename or "",
            media_type=file.mimetype or "application/octet-stream",
            data=file.stream.read(),
        )
        for file in chosen_files(files)
    ]


def _seal_settings(keyring: Keyring) -> dict[str, object]:
    """What the page's script needs to seal in the browser: the upload URL,
    the day to write in the header, the chunk size, the limits, the public
    keys (as data attributes: no inline script, CSP stays strict)."""
    limits = current_limits()
    return {
        "url": url_for("report.sealed"),
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
def form() -> str | tuple[str, int]:
    """Show the form; on a valid POST, seal in memory, store, show the
    receipt."""
    keyring = current_keyring()
    report_form = ReportForm()
    if not is_submission_token(report_form.submission.data):
        # A first view, or a client that sent none or a malformed one: a
        # fresh token (a POST without one is stored, just not deduplicated).
        report_form.submission.data = new_submission_token()
    if not report_form.validate_on_submit():
        status = 400 if report_form.is_submitted() else 200
        return (
            render_template(
                "intake/form.html", form=report_form, keys=keyring.active, seal=_seal_settings(keyring)
            ),
            status,
        )

    session = request_session("intake.db")
    submitted = submission_hash(current_app.config["RECEIPT_SECRET"], report_form.submission.data)
    if submission_exists(session, submitted):
        return _already_received()

    attachments = _attachments(report_form.attachments.data or [])
    report = {
        "form_version": FORM_VERSION,
        "language": current_language().tag,
        # A plain form post sends line breaks as CRLF (HTML spec); the
        # browser path reads the textarea's value, with LF. One form in the
        # console for both paths: LF.
        "narrative": report_form.narrative.data.replace("\r\n", "\n").replace("\r", "\n"),
    }
    sealed = seal(
        report,
        keyring.seal_targets(),
        day=today_utc(),
        sealed_by="server",
        attachments=attachments,
        chunk_size=current_app.config["CHUNK_SIZE"],
    )
    del report, attachments  # plaintext leaves scope before any I/O

    blobs: BlobStorage = current_app.extensions["intake.blobs"]
    receipt = new_receipt()
    try:
        store_envelope(
            session,
            blobs,
            sealed,
            keyring.recipient_of_key(),
            receipt_hash=receipt_hash(current_app.config["RECEIPT_SECRET"], receipt),
            submission_hash=submitted,
        )
    except DuplicateSubmissionError:
        return _already_received()
    except StoreError:
        current_app.logger.error("could not store an envelope")
        abort(503)
    return render_template(
        "intake/receipt.html",
        receipt=format_receipt(receipt),
        title=_("Your report was received"),
    )


def _already_received() -> str:
    # The same form again (double click, Back and resend, reload): one
    # envelope, and no receipt here, since a receipt is shown only once.
    return render_template(
        "intake/error.html",
        title=_("This report was received already"),
        detail=_(
            "We stored it the first time you sent it. For your safety the receipt is shown only "
            "once. If you did not keep it, you can send the report again from a new form."
        ),
        code=200,
    )
