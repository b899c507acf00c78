"""Case views: the case page, attachment downloads and safe looks. The
page is built in :mod:`admin.cases.page`, its actions (triage, coding,
notes, assignment, links, vignette, reply) are in :mod:`admin.cases.actions`.
Who may do which is in :mod:`admin.permissions`."""

from __future__ import annotations

import itertools
from typing import cast

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from core.envelope import EnvelopeError

from ..attachments import sanitize as attachments
from ..audit import log as audit
from ..display import content_disposition
from ..errors import CaseNotFoundError, DataKeyError
from ..extensions import data_dir, db_session, keyring
from ..models import Case
from .page import render_case
from .service import AttachmentInfo, find_case, open_attachment

bp = Blueprint("case", __name__, url_prefix="/cases")


def _case_or_404(envelope_id: str) -> Case:
    try:
        return find_case(db_session(), envelope_id)
    except CaseNotFoundError:
        abort(404)


@bp.get("/<envelope_id>")
def show(envelope_id: str) -> str:
    """The case page: report, attachments and notes when unlocked; triage,
    coding and assignment always (they hold codes, not content). The view
    is audited and committed before the page is rendered."""
    case = _case_or_404(envelope_id)
    _record_view(case)
    return render_case(case)


def _record_view(case: Case) -> None:
    """Audit that the case page is shown (again, after a refusal)."""
    db = db_session()
    audit.record(db, current_user.email, audit.Action.CASE_VIEW, case.envelope_id)
    db.commit()


def _back(case: Case) -> Response:
    return redirect(url_for("case.show", envelope_id=case.envelope_id))


@bp.get("/<envelope_id>/attachments/<int(max=2147483647):position>")
def attachment(envelope_id: str, position: int) -> Response:
    """Download one attachment, decrypted from its sealed blob.

    Always a download, never rendered: the file came from anyone and may be
    HTML, SVG or a PDF built to attack the reviewer, so it is sent as
    ``application/octet-stream`` with ``Content-Disposition: attachment``,
    ``nosniff`` and a sandboxing CSP (invariant 7).
    """
    case = _case_or_404(envelope_id)
    if not keyring().unlocked:
        flash(_("Unlock the organization key to open attachments."), "error")
        return redirect(url_for("case.show", envelope_id=case.envelope_id))
    try:
        info, data = open_attachment(case, position, keyring(), data_dir())
        # Decrypt the first chunk before answering, so a missing or damaged
        # blob gives an error page rather than a broken download.
        first = next(data, b"")
    except CaseNotFoundError:
        abort(404)
    except (EnvelopeError, DataKeyError, OSError) as exc:
        current_app.logger.error(
            "attachment %d of case %s cannot be opened: %s",
            position,
            case.envelope_id,
            exc.__class__.__name__,
        )
        abort(500, _("This attachment cannot be opened: its stored copy is missing or damaged."))
    audit.record(
        db_session(),
        current_user.email,
        audit.Action.ATTACHMENT_DOWNLOAD,
        case.envelope_id,
        f"attachment {position}",
    )
    db_session().commit()
    response = Response(itertools.chain([first], data), mimetype="application/octet-stream")
    response.headers["Content-Length"] = str(info.size)
    response.headers["Content-Disposition"] = content_disposition(info.name, f"attachment-{position}")
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
    return response


# --------------------------------------------------------------------------
# Safe looks at images and PDFs (admin/attachments/sanitize.py)

#: Key of the console's image decode budget in ``app.extensions``.
DECODE_BUDGET_EXTENSION = "admin_decode_budget"


def _budget() -> attachments.DecodeBudget:
    """This process's decode budget, made from the settings on first use
    (``IMAGE_MEMORY_BUDGET``, ``IMAGE_DECODES``, ``IMAGE_DECODE_WAIT``)."""
    found = current_app.extensions.get(DECODE_BUDGET_EXTENSION)
    if found is None:
        # dict.setdefault is atomic: two first requests share one budget.
        found = current_app.extensions.setdefault(
            DECODE_BUDGET_EXTENSION, attachments.DecodeBudget.from_config(current_app.config)
        )
    return cast(attachments.DecodeBudget, found)


def _over_budget(exc: attachments.UnsafeImageError) -> None:
    """Answer an image over the decode budget with a page that says so:
    413 for one that alone exceeds it (it never fits: download it), 503
    with Retry-After while others hold it. Other errors return."""
    if isinstance(exc, attachments.ImageTooLargeError):
        abort(
            413,
            _(
                "This image is too large to decode within the console's memory limit; "
                "download it and open it on an isolated machine."
            ),
        )
    if isinstance(exc, attachments.DecoderBusyError):
        busy = Response(
            render_template(
                "error.html",
                code=503,
                message=_("The console is busy decoding other large images. Try again in a minute."),
            ),
            status=503,
        )
        busy.headers["Retry-After"] = "60"
        abort(busy)


def _attachment_bytes(case: Case, position: int) -> tuple[AttachmentInfo, bytes]:
    try:
        info, data = open_attachment(case, position, keyring(), data_dir())
        if info.size > attachments.MAX_IMAGE_BYTES:
            abort(413, _("This file is too large to preview; download it instead."))
        return info, b"".join(data)
    except CaseNotFoundError:
        abort(404)
    except (EnvelopeError, DataKeyError, OSError) as exc:
        current_app.logger.error(
            "attachment of case %s cannot be opened: %s", case.envelope_id, exc.__class__.__name__
        )
        abort(500, _("This attachment cannot be opened: its stored copy is missing or damaged."))


@bp.get("/<envelope_id>/attachments/<int(max=2147483647):position>/inspect")
def inspect(envelope_id: str, position: int) -> Response | str:
    """An image's metadata (GPS, device, time, owner, XMP, ICC device,
    readable text) and a re-encoded preview; a PDF's document information
    and active content; for any attachment its SHA-256 (chain of custody).
    Images are recognised by their bytes (a HEIC photo named ``.txt`` is
    still a photo)."""
    case = _case_or_404(envelope_id)
    if not keyring().unlocked:
        flash(_("Unlock the organization key to open attachments."), "error")
        return _back(case)
    info, data = _attachment_bytes(case, position)
    facts: attachments.ImageFacts | None = None
    pdf: attachments.PdfFacts | None = None
    reason: str | None = None
    busy = False
    try:
        facts = attachments.inspect_image(data, budget=_budget())
    except attachments.UnsafeImageError as exc:
        reason = str(exc)
        busy = isinstance(exc, attachments.DecoderBusyError)
    if attachments.is_pdf(data):
        # Also for an image that is a PDF too (a polyglot: "%PDF-" within
        # its first kilobyte): a PDF reader would open it, so show both.
        if facts is None:
            reason = _("a PDF is never rendered here")
        try:
            pdf = attachments.inspect_pdf(data)
        except attachments.UnsafePdfError as exc:
            reason = reason if facts is not None else str(exc)
    audit.record(
        db_session(),
        current_user.email,
        audit.Action.ATTACHMENT_PREVIEW,
        case.envelope_id,
        f"attachment {position}",
    )
    db_session().commit()
    return render_template(
        "case/inspect.html",
        case=case,
        info=info,
        facts=facts,
        pdf=pdf,
        reason=reason,
        busy=busy,
        # Offered only for what was just read whole: a PDF, or an image
        # whose pixels decoded.
        redactable="image" if facts is not None else ("pdf" if pdf is not None else None),
    )


@bp.get("/<envelope_id>/attachments/<int(max=2147483647):position>/redacted")
def redacted(envelope_id: str, position: int) -> Response:
    """A copy without metadata, for passing on: images re-encoded from their
    pixels (no EXIF, XMP, ICC, text), PDFs cleaned (no JavaScript or
    actions, embedded files, annotations, form fields, document information
    or XMP; pages kept) or, with ``?as=flattened``, flattened (each page
    drawn as an image). Other types: 404 (never offered). A download, never
    rendered, with the sandbox CSP like the original."""
    case = _case_or_404(envelope_id)
    if not keyring().unlocked:
        flash(_("Unlock the organization key to open attachments."), "error")
        return _back(case)
    info, data = _attachment_bytes(case, position)
    kind = attachments.redactable(data)
    flattened = request.args.get("as") == attachments.PDF_FLATTENED
    try:
        if kind == "image":
            copy = attachments.redact_image(data, budget=_budget())
        elif kind == "pdf" and flattened:
            copy = attachments.flatten_pdf(data, budget=_budget())
        elif kind == "pdf":
            copy = attachments.redact_pdf(data)
        else:
            abort(404)
    except attachments.UnsafeImageError as exc:
        _over_budget(exc)
        abort(415, _("This file cannot be rewritten without its metadata; it is not offered."))
    except attachments.UnsafePdfError as exc:
        abort(415, _("No redacted copy of this PDF: %(reason)s.", reason=str(exc)))
    what = f"{kind} {attachments.PDF_FLATTENED}" if kind == "pdf" and flattened else str(kind)
    audit.record(
        db_session(),
        current_user.email,
        audit.Action.ATTACHMENT_REDACTED,
        case.envelope_id,
        f"attachment {position} {what}",
    )
    db_session().commit()
    response = Response(copy.data, mimetype="application/octet-stream")
    # The name says which copy it is: "-flattened" (pages as images) or
    # "-redacted" (cleaned, or an image re-encoded).
    suffix = "-flattened" if kind == "pdf" and flattened else "-redacted"
    response.headers["Content-Disposition"] = content_disposition(
        info.name, f"attachment-{position}", suffix=suffix, extension=copy.extension
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
    return response


@bp.get("/<envelope_id>/attachments/<int(max=2147483647):position>/preview.png")
def preview(envelope_id: str, position: int) -> Response:
    """The image re-encoded to a metadata-free PNG, for ``<img>`` on the
    inspect page. The original bytes are never sent inline. Decoded within
    the console's memory budget: 413 for an image that alone exceeds it,
    503 (Retry-After) while other decodes hold it, 415 for what is not an
    image."""
    case = _case_or_404(envelope_id)
    if not keyring().unlocked:
        abort(403)
    _info, data = _attachment_bytes(case, position)
    try:
        png = attachments.reencode_image(data, budget=_budget())
    except attachments.UnsafeImageError as exc:
        _over_budget(exc)
        abort(415)
    response = Response(png, mimetype="image/png")
    response.headers["Content-Disposition"] = "inline; filename=preview.png"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
    return response
