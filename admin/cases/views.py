"""Case views: the decrypted report, attachment downloads, triage (disposition,
urgency, tags, coding, notes, assignment). Who may do which is in
:mod:`admin.permissions`."""

from __future__ import annotations

import itertools
from typing import Any, cast

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from werkzeug.wrappers import Response

from core.envelope import EnvelopeError

from .. import taxonomy
from ..attachments import sanitize as attachments
from ..audit import log as audit
from ..display import content_disposition
from ..errors import CaseNotFoundError, DataKeyError, IntakeError, KeyLockedError, SyncNotConfiguredError
from ..extensions import data_dir, db_session, keyring
from ..forms import (
    ActionForm,
    AssignForm,
    CodingForm,
    LinkForm,
    NoteForm,
    ReleaseForm,
    ReplyForm,
    TriageForm,
    VignetteForm,
    link_kind_choices,
)
from ..keys import roster
from ..models import DISPOSITIONS, Case
from ..replytemplates.views import audit_note as template_audit_note
from ..sync.client import client_from_config
from . import links, replies, reportview, triage, vignettes
from .service import AttachmentInfo, find_case, open_attachment, open_case

bp = Blueprint("case", __name__, url_prefix="/cases")


def _case_or_404(envelope_id: str) -> Case:
    try:
        return find_case(db_session(), envelope_id)
    except CaseNotFoundError:
        abort(404)


@bp.get("/<envelope_id>")
def show(envelope_id: str) -> str:
    """The case page: report, attachments and notes when unlocked; triage,
    coding and assignment always (they hold codes, not content)."""
    return _show_page(_case_or_404(envelope_id))


#: The case page's forms that keep what was typed when it is refused, by
#: section: the template's form variable is ``<section>_form``.
SECTIONS = ("reply", "note", "vignette", "coding", "triage", "link")


def _show_page(case: Case, *, kept: FlaskForm | None = None, section: str = "", error: str = "") -> str:
    """Render the case page. ``kept`` is a refused form of ``section`` (one
    of :data:`SECTIONS`), shown again with what was typed and ``error``
    beside it, rather than lost behind a redirect."""
    db = db_session()
    opened = open_case(case, keyring()) if keyring().unlocked else None
    interview = opened is not None and reportview.taken_by_interview(
        db, opened.report, case.sealed_by, case.envelope_id
    )
    # The reporter's answers with the form's own labels (admin/cases/reportview.py).
    pinned = roster.pinned(db) if opened is not None else None
    report_view = (
        reportview.report_sections(
            opened.report,
            reportview.recipients_of(
                case.header, data_dir(), pinned.by_key_id() if pinned is not None else None
            ),
            interview=interview,
        )
        if opened is not None
        else None
    )
    notes = triage.notes_of(db, case, keyring()) if opened is not None else None
    vignette = vignettes.state_of(db, case, keyring())
    consent = opened.report.get("consent") if opened is not None else None
    quote_consent = isinstance(consent, dict) and consent.get("quote") is True if opened is not None else None
    audit.record(db, current_user.email, audit.Action.CASE_VIEW, case.envelope_id)
    db.commit()
    coding = triage.coding_of(db, case) or triage.Coding()
    tags = triage.tags_of(db, case)
    users = triage.assignable_users(db)
    assignee = next((u for u in users if u.id == case.assignee_id), None)
    triage_form = TriageForm(status=case.status, urgent=case.urgent, tags=" ".join(tags))
    triage_form.status.choices = [(d, taxonomy.disposition_label(d)) for d in DISPOSITIONS]
    coding_form = CodingForm(
        tactics=list(coding.tactics),
        communities=list(coding.communities),
        province=coding.province or "",
        state=coding.state or "",
        attribution=coding.attribution or "",
        confidence=coding.confidence or "",
        incident_month=coding.incident_month or "",
    )
    _coding_choices(coding_form)
    followups = [
        (f, open_case(f, keyring()) if opened is not None else None)
        for f in db.scalars(select(Case).where(Case.follows == case.envelope_id).order_by(Case.seq))
    ]
    parent = db.scalar(select(Case).where(Case.envelope_id == case.follows)) if case.follows else None
    sent = replies.replies_of(db, case, keyring()) if opened is not None else []
    # One timeline: the reporter's follow-ups and our replies, by day.
    timeline = sorted(
        [("followup", f.day, f.seq, (f, f_opened)) for f, f_opened in followups]
        + [("reply", r.day, i, r) for i, r in enumerate(sent)],
        key=lambda entry: (entry[1], entry[0] == "reply", entry[2]),
    )
    assign_form = AssignForm(assignee=str(case.assignee_id or ""))
    assign_form.assignee.choices = [("", _("nobody"))] + [(str(u.id), u.email) for u in users]
    forms: dict[str, Any] = {}
    if kept is not None and section in SECTIONS:
        forms[f"{section}_form"] = kept
    context: dict[str, Any] = dict(
        case=case,
        opened=opened,
        interview=interview,
        report_view=report_view,
        followups=followups,
        timeline=timeline,
        can_reply=replies.can_reply(case),
        reply_form=ReplyForm(),
        errors={section: error} if error else {},
        parent=parent,
        notes=notes,
        tags=tags,
        assignee=assignee,
        triage_form=triage_form,
        coding_form=coding_form,
        note_form=NoteForm(),
        assign_form=assign_form,
        take_form=ActionForm(),
        links=links.links_of(db, case),
        link_form=_link_form(),
        vignette=vignette,
        quote_consent=quote_consent,
        vignette_form=VignetteForm(
            text_en=vignette.text.en if vignette and vignette.text else "",
            text_fr=vignette.text.fr if vignette and vignette.text else "",
        ),
        release_form=ReleaseForm(rev=str(vignette.rev) if vignette else ""),
    )
    context.update(forms)
    return render_template("case/show.html", **context)


def _refused(case: Case, form: FlaskForm, section: str, error: str, status: int = 400) -> tuple[str, int]:
    """The case page again with ``form`` as typed and ``error`` in its
    ``section``: a refused note, coding or vignette loses nothing."""
    return _show_page(case, kept=form, section=section, error=error), status


@bp.post("/<envelope_id>/reply")
def reply(envelope_id: str) -> Response | tuple[str, int]:
    """Send a reply to the reporter, sealed to the reply key of the report.
    When it cannot be sent, the page comes back with the text kept."""
    case = _case_or_404(envelope_id)
    form = ReplyForm()
    db = db_session()
    if not form.validate_on_submit():
        return _refused(case, form, "reply", _("Write the reply first (at most 8,000 characters)."))
    try:
        language = open_case(case, keyring()).report.get("language")
        sender = replies.reply_sender(current_app.config["REPLY_FROM"], language)
        with client_from_config(current_app.config) as client:
            sent = replies.send_reply(db, client, case, keyring(), current_user, form.body.data, sender)
    except replies.ReplyError as exc:
        message = {
            "empty": _("Write the reply first (at most 8,000 characters)."),
            "too_long": _("Write the reply first (at most 8,000 characters)."),
            "placeholder": _("Replace each […] of the template with what you mean before sending."),
        }.get(exc.reason, _("This reporter cannot be answered: the report came without a reply key."))
        return _refused(case, form, "reply", message)
    except KeyLockedError:
        return _refused(case, form, "reply", _("Unlock the organization key to send replies."), 409)
    except (IntakeError, SyncNotConfiguredError) as exc:
        current_app.logger.warning("reply not sent: %s", exc.__class__.__name__)
        return _refused(
            case, form, "reply", _("The intake did not take the reply; nothing was sent. Try again."), 503
        )
    detail = f"reply {sent.reply_id}" + template_audit_note(request.form)
    audit.record(db, current_user.email, audit.Action.CASE_REPLY, case.envelope_id, detail)
    db.commit()
    flash(_("Reply sent. The reporter reads it after entering the receipt."), "info")
    return _back(case)


def _coding_choices(form: CodingForm) -> None:
    none = [("", "—")]
    form.tactics.choices = [(c, f"{c} {label}") for c, (_family, label) in taxonomy.TACTICS.items()]
    form.communities.choices = list(taxonomy.COMMUNITIES.items())
    form.province.choices = none + list(taxonomy.PROVINCES.items())
    form.state.choices = none + list(taxonomy.STATES.items())
    form.attribution.choices = none + list(taxonomy.ATTRIBUTIONS.items())
    form.confidence.choices = none + list(taxonomy.CONFIDENCES.items())


def _back(case: Case) -> Response:
    return redirect(url_for("case.show", envelope_id=case.envelope_id))


@bp.post("/<envelope_id>/triage")
def update(envelope_id: str) -> Response | tuple[str, int]:
    """Disposition, urgency flag and tags."""
    case = _case_or_404(envelope_id)
    form = TriageForm()
    form.status.choices = [(d, taxonomy.disposition_label(d)) for d in DISPOSITIONS]
    db = db_session()
    if not form.validate_on_submit():
        message = (
            _("Tags: at most 400 characters.")
            if form.tags.errors and not form.status.errors
            else _("Choose a disposition.")
        )
        return _refused(case, form, "triage", message)
    try:
        changed = triage.update_case(
            db,
            case,
            status=form.status.data,
            urgent=bool(form.urgent.data),
            tags=triage.parse_tags(form.tags.data or ""),
        )
    except triage.TriageError as exc:
        db.rollback()
        return _refused(case, form, "triage", str(exc))
    if changed:
        audit.record(db, current_user.email, audit.Action.CASE_UPDATE, case.envelope_id, changed)
    db.commit()
    flash(_("Saved."), "info")
    return _back(case)


@bp.post("/<envelope_id>/coding")
def code(envelope_id: str) -> Response | tuple[str, int]:
    """The reviewer's TNR coding."""
    case = _case_or_404(envelope_id)
    form = CodingForm()
    _coding_choices(form)
    db = db_session()
    coding = triage.Coding(
        tactics=tuple(form.tactics.data or ()),
        communities=tuple(form.communities.data or ()),
        province=form.province.data or None,
        state=form.state.data or None,
        attribution=form.attribution.data or None,
        confidence=form.confidence.data or None,
        incident_month=(form.incident_month.data or "").strip() or None,
    )
    if not form.validate_on_submit():
        return _refused(case, form, "coding", _("The coding has an unknown value."))
    try:
        stored = triage.set_coding(db, case, coding, current_user)
    except triage.TriageError as exc:
        db.rollback()
        return _refused(case, form, "coding", str(exc))
    audit.record(db, current_user.email, audit.Action.CASE_CODE, case.envelope_id, stored.describe())
    db.commit()
    flash(_("Coding saved."), "info")
    return _back(case)


@bp.post("/<envelope_id>/notes")
def add_note(envelope_id: str) -> Response | tuple[str, int]:
    """Add an internal note, sealed under the data key."""
    case = _case_or_404(envelope_id)
    form = NoteForm()
    db = db_session()
    if not form.validate_on_submit():
        return _refused(case, form, "note", _("Write the note first (at most 20,000 characters)."))
    try:
        note = triage.add_note(db, case, keyring(), current_user, form.body.data)
    except KeyLockedError:
        return _refused(case, form, "note", _("Unlock the organization key to write notes."), 409)
    except triage.TriageError as exc:
        db.rollback()
        return _refused(case, form, "note", str(exc))
    audit.record(db, current_user.email, audit.Action.CASE_NOTE, case.envelope_id, f"note {note.uid}")
    db.commit()
    flash(_("Note added."), "info")
    return _back(case)


@bp.post("/<envelope_id>/take")
def take(envelope_id: str) -> Response:
    """Assign the case to oneself (any reviewer)."""
    case = _case_or_404(envelope_id)
    db = db_session()
    triage.assign(db, case, current_user)
    audit.record(db, current_user.email, audit.Action.CASE_ASSIGN, case.envelope_id, f"to={current_user.id}")
    db.commit()
    flash(_("The case is assigned to you."), "info")
    return _back(case)


@bp.post("/<envelope_id>/assign")
def assign(envelope_id: str) -> Response:
    """Assign the case to anyone, or nobody (coordinators and admins)."""
    case = _case_or_404(envelope_id)
    db = db_session()
    users = triage.assignable_users(db)
    form = AssignForm()
    form.assignee.choices = [("", "")] + [(str(u.id), u.email) for u in users]
    if not form.validate_on_submit():
        flash(_("Choose an account."), "error")
        return _back(case)
    target = next((u for u in users if str(u.id) == form.assignee.data), None)
    triage.assign(db, case, target)
    audit.record(
        db,
        current_user.email,
        audit.Action.CASE_ASSIGN,
        case.envelope_id,
        f"to={target.id if target else '-'}",
    )
    db.commit()
    flash(_("Assignment saved."), "info")
    return _back(case)


def _link_form() -> LinkForm:
    form = LinkForm()
    form.kind.choices = link_kind_choices()
    return form


@bp.post("/<envelope_id>/links")
def link(envelope_id: str) -> Response | tuple[str, int]:
    """Link this case to another (case number or envelope id): related, or
    this case is a duplicate of the other (disposition duplicate)."""
    case = _case_or_404(envelope_id)
    form = _link_form()
    db = db_session()
    if not form.validate_on_submit():
        kind_wrong = bool(form.kind.errors) and not form.other.errors
        message = (
            _("Choose the kind of link.") if kind_wrong else _("Give the other case's number or envelope id.")
        )
        return _refused(case, form, "link", message)
    try:
        made, other = links.add_link(db, case, form.other.data, form.kind.data, current_user)
    except links.LinkError as exc:
        db.rollback()
        return _refused(case, form, "link", str(exc))
    detail = f"kind={made.kind} other={other.envelope_id}"
    if made.kind == "duplicate":
        detail += " status=duplicate"
    audit.record(db, current_user.email, audit.Action.CASE_LINK, case.envelope_id, detail)
    db.commit()
    flash(_("Linked."), "info")
    return _back(case)


@bp.post("/<envelope_id>/links/<int(max=2147483647):link_id>/remove")
def unlink(envelope_id: str, link_id: int) -> Response:
    """Remove a link of this case (either direction). The disposition stays."""
    case = _case_or_404(envelope_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    db = db_session()
    try:
        gone, other = links.remove_link(db, case, link_id)
    except links.LinkError:
        abort(404)
    audit.record(
        db,
        current_user.email,
        audit.Action.CASE_UNLINK,
        case.envelope_id,
        f"kind={gone.kind} other={other.envelope_id}",
    )
    db.commit()
    flash(_("Link removed."), "info")
    return _back(case)


@bp.post("/<envelope_id>/vignette")
def save_vignette(envelope_id: str) -> Response | tuple[str, int]:
    """Write or edit the case's briefing vignette (sealed under the data
    key). An edit is a new revision: released again only by a coordinator."""
    case = _case_or_404(envelope_id)
    form = VignetteForm()
    db = db_session()
    if not form.validate_on_submit():
        return _refused(case, form, "vignette", _("A vignette has at most 1200 characters per language."))
    try:
        row = vignettes.save(db, case, keyring(), current_user, form.text_en.data, form.text_fr.data)
    except KeyLockedError:
        return _refused(case, form, "vignette", _("Unlock the organization key to write a vignette."), 409)
    except vignettes.VignetteError as exc:
        db.rollback()
        return _refused(case, form, "vignette", str(exc))
    audit.record(db, current_user.email, audit.Action.VIGNETTE_SAVE, case.envelope_id, f"rev={row.rev}")
    db.commit()
    flash(_("Vignette saved. It is not released until a coordinator releases it."), "info")
    return _back(case)


@bp.post("/<envelope_id>/vignette/release")
def release_vignette(envelope_id: str) -> Response:
    """Release the vignette revision shown to the coordinator, when the
    reporter consented to quoting (coordinators and admins)."""
    case = _case_or_404(envelope_id)
    form = ReleaseForm()
    db = db_session()
    if not form.validate_on_submit() or not str(form.rev.data).isdigit():
        abort(400)
    try:
        row = vignettes.release(db, case, keyring(), current_user, int(form.rev.data))
    except KeyLockedError:
        flash(_("Unlock the organization key to read the vignette before releasing it."), "error")
        return _back(case)
    except vignettes.VignetteError as exc:
        db.rollback()
        flash(str(exc), "error")
        return _back(case)
    audit.record(db, current_user.email, audit.Action.VIGNETTE_RELEASE, case.envelope_id, f"rev={row.rev}")
    db.commit()
    flash(_("Vignette released for briefings."), "info")
    return _back(case)


@bp.post("/<envelope_id>/vignette/withdraw")
def withdraw_vignette(envelope_id: str) -> Response:
    """Take a release back (coordinators and admins)."""
    case = _case_or_404(envelope_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    db = db_session()
    try:
        row = vignettes.withdraw(db, case)
    except vignettes.VignetteError as exc:
        flash(str(exc), "error")
        return _back(case)
    audit.record(db, current_user.email, audit.Action.VIGNETTE_WITHDRAW, case.envelope_id, f"rev={row.rev}")
    db.commit()
    flash(_("Release withdrawn."), "info")
    return _back(case)


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
