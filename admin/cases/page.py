"""The case page, built in parts: what the report says (opened only while
the key is unlocked), its timeline, and the reviewer's side (triage,
assignment, coding, links, vignette). Rendering only: the request handler
records the view in the audit log before it asks for the page
(:func:`admin.cases.views.show`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from flask import render_template
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import taxonomy
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
from . import links, replies, reportview, triage, vignettes
from .service import OpenedCase, open_case

#: The case page's forms that keep what was typed when it is refused, by
#: section: the template's form variable is ``<section>_form``.
SECTIONS = ("reply", "note", "vignette", "coding", "triage", "link")

#: Tactic families, in the order the coding shows them (the families of
#: ``shared/TAXONOMY.md``, as in :data:`admin.briefing.codes.FAMILIES`).
FAMILIES: dict[str, Any] = {
    "direct": _l("Direct attacks"),
    "co-opting": _l("Co-opting other countries"),
    "mobility": _l("Mobility controls"),
    "distance": _l("Threats from a distance"),
    "other": _l("Other tactics"),
}


@dataclass(frozen=True)
class TimelineEntry:
    """One entry of the case's timeline: ``kind`` is ``"followup"``
    (``item`` a ``(Case, OpenedCase | None)`` pair), ``"reply"``
    (``item`` a :class:`admin.cases.replies.SentReply`) or ``"note"`` (``item``
    a :class:`admin.cases.triage.Note`). Sorted by day; on one day follow-ups
    first, then replies, then notes, each in their own order."""

    kind: str
    day: date
    order: int
    item: Any


_KIND_ORDER = {"followup": 0, "reply": 1, "note": 2}


def tactic_groups() -> list[tuple[str, Any, list[tuple[str, Any]]]]:
    """The tactic codes by family: ``(family, label, [(code, label)])``."""
    groups: list[tuple[str, Any, list[tuple[str, Any]]]] = []
    for family, label in FAMILIES.items():
        codes = [(code, name) for code, (fam, name) in taxonomy.TACTICS.items() if fam == family]
        if codes:
            groups.append((family, label, codes))
    return groups


def coding_choices(form: CodingForm) -> None:
    """Fill the coding form's choices from :mod:`admin.taxonomy`."""
    none = [("", "—")]
    form.tactics.choices = [(c, f"{c} {label}") for c, (_family, label) in taxonomy.TACTICS.items()]
    form.communities.choices = list(taxonomy.COMMUNITIES.items())
    form.province.choices = none + list(taxonomy.PROVINCES.items())
    form.state.choices = none + list(taxonomy.STATES.items())
    form.attribution.choices = none + list(taxonomy.ATTRIBUTIONS.items())
    form.confidence.choices = none + list(taxonomy.CONFIDENCES.items())


def link_form() -> LinkForm:
    """An empty link form with its kinds."""
    form = LinkForm()
    form.kind.choices = link_kind_choices()
    return form


def _report_context(db: Session, case: Case, opened: OpenedCase | None) -> dict[str, Any]:
    """The reporter's answers with the form's own labels
    (admin/cases/reportview.py), and whether it was taken by interview."""
    if opened is None:
        return {"interview": False, "report_view": None, "quote_consent": None}
    interview = reportview.taken_by_interview(db, opened.report, case.sealed_by, case.envelope_id)
    pinned = roster.pinned(db)
    recipients = reportview.recipients_of(
        case.header, data_dir(), pinned.by_key_id() if pinned is not None else None
    )
    consent = opened.report.get("consent")
    return {
        "interview": interview,
        "report_view": reportview.report_sections(opened.report, recipients, interview=interview),
        "quote_consent": isinstance(consent, dict) and consent.get("quote") is True,
    }


def _timeline_context(db: Session, case: Case, opened: OpenedCase | None) -> dict[str, Any]:
    """Follow-ups, replies and notes in one time order."""
    unlocked = opened is not None
    followups = [
        (f, open_case(f, keyring()) if unlocked else None)
        for f in db.scalars(select(Case).where(Case.follows == case.envelope_id).order_by(Case.seq))
    ]
    sent = replies.replies_of(db, case, keyring()) if unlocked else []
    notes = triage.notes_of(db, case, keyring()) if unlocked else None
    entries = (
        [TimelineEntry("followup", f.day, f.seq, (f, f_opened)) for f, f_opened in followups]
        + [TimelineEntry("reply", r.day, i, r) for i, r in enumerate(sent)]
        + [TimelineEntry("note", n.day, i, n) for i, n in enumerate(notes or [])]
    )
    entries.sort(key=lambda e: (e.day, _KIND_ORDER[e.kind], e.order))
    parent = db.scalar(select(Case).where(Case.envelope_id == case.follows)) if case.follows else None
    return {"followups": followups, "timeline": entries, "notes": notes, "parent": parent}


def _triage_context(db: Session, case: Case) -> dict[str, Any]:
    """Disposition, urgency, tags, assignee and their forms."""
    tags = triage.tags_of(db, case)
    users = triage.assignable_users(db)
    triage_form = TriageForm(status=case.status, urgent=case.urgent, tags=" ".join(tags))
    triage_form.status.choices = [(d, taxonomy.disposition_label(d)) for d in DISPOSITIONS]
    assign_form = AssignForm(assignee=str(case.assignee_id or ""))
    assign_form.assignee.choices = [("", _("nobody"))] + [(str(u.id), u.email) for u in users]
    return {
        "tags": tags,
        "assignee": next((u for u in users if u.id == case.assignee_id), None),
        "triage_form": triage_form,
        "assign_form": assign_form,
    }


def _coding_form(db: Session, case: Case) -> CodingForm:
    coding = triage.coding_of(db, case) or triage.Coding()
    form = CodingForm(
        tactics=list(coding.tactics),
        communities=list(coding.communities),
        province=coding.province or "",
        state=coding.state or "",
        attribution=coding.attribution or "",
        confidence=coding.confidence or "",
        incident_month=coding.incident_month or "",
    )
    coding_choices(form)
    return form


def _vignette_context(db: Session, case: Case) -> dict[str, Any]:
    vignette = vignettes.state_of(db, case, keyring())
    text = vignette.text if vignette else None
    return {
        "vignette": vignette,
        "vignette_form": VignetteForm(
            text_en=text.en if text else "",
            text_fr=text.fr if text else "",
        ),
        "release_form": ReleaseForm(rev=str(vignette.rev) if vignette else ""),
    }


def render_case(case: Case, *, kept: FlaskForm | None = None, section: str = "", error: str = "") -> str:
    """The case page. ``kept`` is a refused form of ``section`` (one of
    :data:`SECTIONS`), shown again with what was typed and ``error``
    beside it, rather than lost behind a redirect. Writes nothing."""
    db = db_session()
    opened = open_case(case, keyring()) if keyring().unlocked else None
    context: dict[str, Any] = {
        "case": case,
        "opened": opened,
        "can_reply": replies.can_reply(case),
        "reply_form": ReplyForm(),
        "errors": {section: error} if error else {},
        "coding_form": _coding_form(db, case),
        "tactic_groups": tactic_groups(),
        "note_form": NoteForm(),
        "take_form": ActionForm(),
        "links": links.links_of(db, case),
        "link_form": link_form(),
    }
    context.update(_report_context(db, case, opened))
    context.update(_timeline_context(db, case, opened))
    context.update(_triage_context(db, case))
    context.update(_vignette_context(db, case))
    if kept is not None and section in SECTIONS:
        context[f"{section}_form"] = kept
    return render_template("case/show.html", **context)
