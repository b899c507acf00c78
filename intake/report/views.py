"""Views of the report form. They validate, call the sealing and store
services, and render; nothing else."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, g, redirect, render_template, url_for
from flask_babel import gettext as _
from werkzeug.datastructures import FileStorage
from werkzeug.wrappers import Response

from ..db import request_session
from ..envelope import AttachmentInput, seal
from ..i18n import LANGUAGES, best_language, current_language
from ..keyring import current_keyring
from ..receipts import format_receipt, new_receipt, receipt_hash
from ..store import BlobStore, StoreError, store_envelope, today_utc
from .forms import ReportForm

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
    result = []
    for file in files:
        if not file or not file.filename:
            continue  # the empty part a browser sends when no file is chosen
        result.append(
            AttachmentInput(
                name=file.filename,
                media_type=file.mimetype or "application/octet-stream",
                data=file.stream.read(),
            )
        )
    return result


@bp.route("/<lang_code>/", methods=["GET", "POST"])
def form() -> str | tuple[str, int]:
    """Show the form; on a valid POST, seal in memory, store, show the
    receipt."""
    keyring = current_keyring()
    report_form = ReportForm()
    if not report_form.validate_on_submit():
        status = 400 if report_form.is_submitted() else 200
        return render_template("intake/form.html", form=report_form, keys=keyring.active), status

    attachments = _attachments(report_form.attachments.data or [])
    report = {
        "form_version": FORM_VERSION,
        "language": current_language().tag,
        "narrative": report_form.narrative.data,
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

    session = request_session("intake.db")
    blobs: BlobStore = current_app.extensions["intake.blobs"]
    receipt = new_receipt()
    try:
        store_envelope(
            session,
            blobs,
            sealed,
            keyring.recipient_of_key(),
            receipt_hash=receipt_hash(current_app.config["RECEIPT_SECRET"], receipt),
        )
    except StoreError:
        current_app.logger.error("could not store an envelope")
        abort(503)
    return render_template(
        "intake/receipt.html",
        receipt=format_receipt(receipt),
        title=_("Your report was received"),
    )
