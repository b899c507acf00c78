"""The case page's actions: reply, triage, coding, notes, assignment,
links and the vignette. Each is one POST of one shape
(:func:`_form_action`, :func:`_done`): who may post it is checked before
by endpoint (admin/permissions.py); what it changes is audited per case
and committed; a refused form comes back with what was typed."""

from __future__ import annotations

from collections.abc import Callable

from flask import abort, current_app, flash, request
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from .. import taxonomy
from ..audit import log as audit
from ..errors import IntakeError, KeyLockedError, SyncNotConfiguredError
from ..extensions import db_session, keyring
from ..forms import (
    ActionForm,
    AssignForm,
    CodingForm,
    NoteForm,
    ReleaseForm,
    ReplyForm,
    TriageForm,
    VignetteForm,
)
from ..models import DISPOSITIONS, Case
from ..replytemplates.views import audit_note as template_audit_note
from ..sync.client import client_from_config
from . import links, replies, triage, vignettes
from .page import coding_choices, link_form, render_case
from .service import open_case
from .views import _back, _case_or_404, _record_view, bp


def _refused(case: Case, form: FlaskForm, section: str, error: str, status: int = 400) -> tuple[str, int]:
    """The case page again with ``form`` as typed and ``error`` in its
    ``section``: a refused note, coding or vignette loses nothing."""
    _record_view(case)
    return render_case(case, kept=form, section=section, error=error), status


def _done(case: Case, action: str, detail: str | None, message: str) -> Response:
    """The end every case action shares: audit ``action`` with ``detail``
    (None: nothing changed, nothing to audit), commit, say ``message``,
    back to the case page."""
    db = db_session()
    if detail is not None:
        audit.record(db, current_user.email, action, case.envelope_id, detail)
    db.commit()
    flash(message, "info")
    return _back(case)


#: What a case action does once its form is valid: returns the audit
#: detail (None: nothing changed), or raises one of :data:`_REFUSALS`.
Act = Callable[[], str | None]


class _Refusal(ValueError):
    """A case action refused, with the text to show beside its form."""


#: Errors a case action refuses with, their text shown beside the form.
_REFUSALS = (triage.TriageError, links.LinkError, vignettes.VignetteError, _Refusal)


def _form_action(
    case: Case,
    form: FlaskForm,
    section: str,
    act: Act,
    *,
    invalid: str | Callable[[], str],
    action: str,
    done: str,
    locked: str = "",
) -> Response | tuple[str, int]:
    """The shape of the case page's form posts: an invalid form, a refused
    value or a locked key brings the page back with what was typed and why
    (``invalid``, or what it returns once the form is validated; the
    error's text; ``locked``); otherwise ``act`` runs and
    :func:`_done` audits ``action`` and commits. Who may post is checked
    before (admin/permissions.py, by endpoint)."""
    if not form.validate_on_submit():
        return _refused(case, form, section, invalid if isinstance(invalid, str) else invalid())
    try:
        detail = act()
    except KeyLockedError:
        db_session().rollback()
        return _refused(case, form, section, locked, 409)
    except _REFUSALS as exc:
        db_session().rollback()
        return _refused(case, form, section, str(exc))
    return _done(case, action, detail, done)


@bp.post("/<envelope_id>/reply")
def reply(envelope_id: str) -> Response | tuple[str, int]:
    """Send a reply to the reporter, sealed to the reply key of the report.
    When it cannot be sent, the page comes back with the text kept."""
    case = _case_or_404(envelope_id)
    form = ReplyForm()
    invalid = _("Write the reply first (at most 8,000 characters).")

    def act() -> str:
        language = open_case(case, keyring()).report.get("language")
        sender = replies.reply_sender(current_app.config["REPLY_FROM"], language)
        try:
            with client_from_config(current_app.config) as client:
                sent = replies.send_reply(
                    db_session(), client, case, keyring(), current_user, form.body.data, sender
                )
        except replies.ReplyError as exc:
            reason = {
                "empty": invalid,
                "too_long": invalid,
                "placeholder": _("Replace each […] of the template with what you mean before sending."),
            }.get(exc.reason, _("This reporter cannot be answered: the report came without a reply key."))
            raise _Refusal(reason) from exc
        return f"reply {sent.reply_id}" + template_audit_note(request.form)

    try:
        return _form_action(
            case,
            form,
            "reply",
            act,
            invalid=invalid,
            action=audit.Action.CASE_REPLY,
            done=_("Reply sent. The reporter reads it after entering the receipt."),
            locked=_("Unlock the organization key to send replies."),
        )
    except (IntakeError, SyncNotConfiguredError) as exc:
        current_app.logger.warning("reply not sent: %s", exc.__class__.__name__)
        message = _("The intake did not take the reply; nothing was sent. Try again.")
        return _refused(case, form, "reply", message, 503)


@bp.post("/<envelope_id>/triage")
def set_triage(envelope_id: str) -> Response | tuple[str, int]:
    """Disposition, urgency flag and tags."""
    case = _case_or_404(envelope_id)
    form = TriageForm()
    form.status.choices = [(d, taxonomy.disposition_label(d)) for d in DISPOSITIONS]

    def act() -> str | None:
        changed = triage.update_case(
            db_session(),
            case,
            status=form.status.data,
            urgent=bool(form.urgent.data),
            tags=triage.parse_tags(form.tags.data or ""),
        )
        return changed or None

    def invalid() -> str:
        if form.tags.errors and not form.status.errors:
            return str(_("Tags: at most 400 characters."))
        return str(_("Choose a disposition."))

    return _form_action(
        case, form, "triage", act, invalid=invalid, action=audit.Action.CASE_UPDATE, done=_("Saved.")
    )


@bp.post("/<envelope_id>/coding")
def set_coding(envelope_id: str) -> Response | tuple[str, int]:
    """The reviewer's TNR coding."""
    case = _case_or_404(envelope_id)
    form = CodingForm()
    coding_choices(form)

    def act() -> str:
        coding = triage.Coding(
            tactics=tuple(form.tactics.data or ()),
            communities=tuple(form.communities.data or ()),
            province=form.province.data or None,
            state=form.state.data or None,
            attribution=form.attribution.data or None,
            confidence=form.confidence.data or None,
            incident_month=(form.incident_month.data or "").strip() or None,
        )
        return triage.set_coding(db_session(), case, coding, current_user).describe()

    return _form_action(
        case,
        form,
        "coding",
        act,
        invalid=_("The coding has an unknown value."),
        action=audit.Action.CASE_CODE,
        done=_("Coding saved."),
    )


@bp.post("/<envelope_id>/notes")
def add_note(envelope_id: str) -> Response | tuple[str, int]:
    """Add an internal note, sealed under the data key."""
    case = _case_or_404(envelope_id)
    form = NoteForm()

    def act() -> str:
        note = triage.add_note(db_session(), case, keyring(), current_user, form.body.data)
        return f"note {note.uid}"

    return _form_action(
        case,
        form,
        "note",
        act,
        invalid=_("Write the note first (at most 20,000 characters)."),
        action=audit.Action.CASE_NOTE,
        done=_("Note added."),
        locked=_("Unlock the organization key to write notes."),
    )


@bp.post("/<envelope_id>/take")
def take(envelope_id: str) -> Response:
    """Assign the case to oneself (any reviewer)."""
    case = _case_or_404(envelope_id)
    triage.assign(db_session(), case, current_user)
    return _done(case, audit.Action.CASE_ASSIGN, f"to={current_user.id}", _("The case is assigned to you."))


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
    detail = f"to={target.id if target else '-'}"
    return _done(case, audit.Action.CASE_ASSIGN, detail, _("Assignment saved."))


@bp.post("/<envelope_id>/links")
def link(envelope_id: str) -> Response | tuple[str, int]:
    """Link this case to another (case number or envelope id): related, or
    this case is a duplicate of the other (disposition duplicate)."""
    case = _case_or_404(envelope_id)
    form = link_form()

    def act() -> str:
        made, other = links.add_link(db_session(), case, form.other.data, form.kind.data, current_user)
        detail = f"kind={made.kind} other={other.envelope_id}"
        return detail + " status=duplicate" if made.kind == "duplicate" else detail

    def invalid() -> str:
        if form.kind.errors and not form.other.errors:
            return str(_("Choose the kind of link."))
        return str(_("Give the other case's number or envelope id."))

    return _form_action(
        case, form, "link", act, invalid=invalid, action=audit.Action.CASE_LINK, done=_("Linked.")
    )


@bp.post("/<envelope_id>/links/<int(max=2147483647):link_id>/remove")
def unlink(envelope_id: str, link_id: int) -> Response:
    """Remove a link of this case (either direction). The disposition stays."""
    case = _case_or_404(envelope_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        gone, other = links.remove_link(db_session(), case, link_id)
    except links.LinkError:
        abort(404)
    detail = f"kind={gone.kind} other={other.envelope_id}"
    return _done(case, audit.Action.CASE_UNLINK, detail, _("Link removed."))


@bp.post("/<envelope_id>/vignette")
def save_vignette(envelope_id: str) -> Response | tuple[str, int]:
    """Write or edit the case's briefing vignette (sealed under the data
    key). An edit is a new revision: released again only by a coordinator."""
    case = _case_or_404(envelope_id)
    form = VignetteForm()

    def act() -> str:
        row = vignettes.save(
            db_session(), case, keyring(), current_user, form.text_en.data, form.text_fr.data
        )
        return f"rev={row.rev}"

    return _form_action(
        case,
        form,
        "vignette",
        act,
        invalid=_("A vignette has at most %(count)d characters per language.", count=vignettes.MAX_LENGTH),
        action=audit.Action.VIGNETTE_SAVE,
        done=_("Vignette saved. It is not released until a coordinator releases it."),
        locked=_("Unlock the organization key to write a vignette."),
    )


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
    return _done(case, audit.Action.VIGNETTE_RELEASE, f"rev={row.rev}", _("Vignette released for briefings."))


@bp.post("/<envelope_id>/vignette/withdraw")
def withdraw_vignette(envelope_id: str) -> Response:
    """Take a release back (coordinators and admins)."""
    case = _case_or_404(envelope_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        row = vignettes.withdraw(db_session(), case)
    except vignettes.VignetteError as exc:
        flash(str(exc), "error")
        return _back(case)
    return _done(case, audit.Action.VIGNETTE_WITHDRAW, f"rev={row.rev}", _("Release withdrawn."))
