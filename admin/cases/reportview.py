"""The reporter's answers as the case page shows them.

A sealed report is the JSON of ``core/schema/fields.py``
(docs/report-fields.md). :func:`report_sections` turns it into labelled rows
with that module's choice tables, so the console shows the words the reporter
saw, from the one definition of the fields; nothing here repeats a table.

Everything in a report is untrusted: the browser seals what it likes, so a
value may be any JSON, a code may be unknown (a newer form, a crafted post),
a list may be a string. Nothing here raises on such a report: a code of no
table shows as itself (flagged ``unknown``), a value of an unexpected type as
JSON, and keys this module does not know are listed at the end under "Other
fields". The template passes every text, label and code through the
``untrusted`` filter (:func:`admin.display.visible_controls`).

The reviewer's own coding is a separate form on the page and is not read
here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.envelope import EnvelopeError, KeyFileError, parse_header
from core.i18n import LANGUAGES
from core.schema import fields
from core.schema.fields import Choice

from ..keys.custody import key_states
from ..keys.roster import RosterEntry
from ..models import AuditEntry
from .service import display_value

#: The audit action of a report filed in interview mode (admin/interview/views.py).
INTERVIEW_FILED = "interview.file"


@dataclass(frozen=True)
class Value:
    """One value of a row: its ``text`` and, for tactics and keys, a
    ``code`` shown beside it. ``unknown``: a code of no table, shown raw."""

    text: str
    code: str | None = None
    unknown: bool = False


@dataclass(frozen=True)
class ReportRow:
    """A labelled row. ``key`` names it for the page's HTML ids (None for
    keys the report brought that this module does not know: they are
    untrusted). ``values`` empty: not answered. ``multi``: a list (a
    multiple choice). ``pre``: free text whose line breaks matter (the
    narrative, raw JSON)."""

    key: str | None
    label: str
    values: tuple[Value, ...] = ()
    multi: bool = False
    pre: bool = False


@dataclass(frozen=True)
class ReportSection:
    """A heading and its rows."""

    title: str
    rows: list[ReportRow] = field(default_factory=list)


#: Keys of the report JSON this module shows; any other key is listed raw.
_KNOWN = {
    "form_version",
    "kind",
    "language",
    "narrative",
    "when",
    "ongoing",
    "province",
    "city",
    "tactics",
    "channel",
    "targeted",
    "community",
    "state",
    "state_other",
    "police_told",
    "impact",
    "contact",
    "consent",
    "follows",
    fields.TAKEN_BY,
}


def _choice(choices: Sequence[Choice], value: object, *, with_code: bool = False) -> Value:
    """The label of the code ``value``, or the raw value flagged unknown."""
    for choice in choices:
        if choice.code == value:
            return Value(str(choice.label), choice.code if with_code else None)
    return Value(display_value(value), unknown=True)


def _single(choices: Sequence[Choice], value: object) -> tuple[Value, ...]:
    return () if value is None else (_choice(choices, value),)


def _multi(choices: Sequence[Choice], value: object, *, with_code: bool = False) -> tuple[Value, ...]:
    if value is None:
        return ()
    items = value if isinstance(value, list) else [value]
    return tuple(_choice(choices, item, with_code=with_code) for item in items)


def _text(value: object) -> tuple[Value, ...]:
    """Typed text: ``""`` and ``null`` are no answer."""
    return () if value in (None, "") else (Value(display_value(value)),)


def _yes_no(value: object) -> tuple[Value, ...]:
    if value is True:
        return (Value(_("yes")),)
    if value is False:
        return (Value(_("no")),)
    return () if value is None else (Value(display_value(value), unknown=True),)


def _language(value: object) -> tuple[Value, ...]:
    """The page language the reporter used (a BCP 47 tag)."""
    if value in (None, ""):
        return ()
    known = next((lang for lang in LANGUAGES.values() if lang.tag == value), None)
    return (Value(known.name, known.tag),) if known else (Value(display_value(value), unknown=True),)


def report_sections(
    report: Mapping[str, Any], recipients: Sequence[Value] | None = None, *, interview: bool = False
) -> list[ReportSection]:
    """The report (or follow-up) as sections of labelled rows.

    A row is made for each key the report has: a report of the current form
    has them all (unanswered ones show as not answered), an older or shorter
    one only its own. ``recipients``: the organizations it was sealed to
    (:func:`recipients_of`); None leaves the row out. ``interview``: this
    console filed it in interview mode (:func:`taken_by_interview`); a
    report's own "taken_by" says nothing otherwise.
    """
    answers = ReportSection(_("What the reporter said"), _answer_rows(report))
    sections = [answers]
    has = report.__contains__
    if has("contact"):
        sections.append(ReportSection(_("Contact"), _contact_rows(report["contact"])))
    if has("consent"):
        sections.append(ReportSection(_("Consent"), _consent_rows(report["consent"])))
    if recipients is not None:
        sections.append(
            ReportSection(
                _("Sent to"), [ReportRow("recipients", _("Organizations"), tuple(recipients), multi=True)]
            )
        )
    form = ReportSection(_("Form"), _form_rows(report, interview=interview))
    if form.rows:
        sections.append(form)

    other = [
        ReportRow(None, str(key), _text(value), pre=True)
        for key, value in report.items()
        if key not in _KNOWN
    ]
    if other:
        sections.append(ReportSection(_("Other fields"), other))
    return [s for s in sections if s.rows]


def _answer_rows(report: Mapping[str, Any]) -> list[ReportRow]:
    """The rows of what the reporter said, one per answer the report has."""
    has = report.__contains__
    rows: list[ReportRow] = []
    if has("narrative"):
        rows.append(ReportRow("narrative", _("What happened"), _text(report["narrative"]), pre=True))
    if has("when"):
        rows.append(ReportRow("when", _("When"), _text(report["when"])))
    if has("ongoing"):
        rows.append(ReportRow("ongoing", _("Still going on"), _yes_no(report["ongoing"])))
    if has("province"):
        rows.append(ReportRow("province", _("Where"), _single(fields.PLACES, report["province"])))
    if has("city"):
        rows.append(ReportRow("city", _("City"), _text(report["city"])))
    for key, label, choices in (
        ("tactics", _("What was done"), fields.TACTICS),
        ("channel", _("How it reached them"), fields.CHANNELS),
        ("targeted", _("Who was targeted"), fields.TARGETED),
        ("community", _("Community"), fields.COMMUNITIES),
    ):
        if has(key):
            values = _multi(choices, report[key], with_code=key == "tactics")
            rows.append(ReportRow(key, label, values, multi=True))
    if has("state"):
        rows.append(
            ReportRow("state", _("State believed responsible"), _single(fields.STATES, report["state"]))
        )
    if has("state_other"):
        rows.append(ReportRow("state_other", _("The other state"), _text(report["state_other"])))
    if has("police_told"):
        rows.append(
            ReportRow("police_told", _("Told the police"), _single(fields.POLICE_TOLD, report["police_told"]))
        )
    if has("impact"):
        rows.append(ReportRow("impact", _("Impact"), _multi(fields.IMPACTS, report["impact"]), multi=True))
    return rows


def _form_rows(report: Mapping[str, Any], *, interview: bool) -> list[ReportRow]:
    """The rows about the form itself: version, kind, language, the report
    a follow-up adds to, and who took it."""
    has = report.__contains__
    rows: list[ReportRow] = []
    if has("form_version"):
        rows.append(ReportRow("form_version", _("Form version"), _text(report["form_version"])))
    if has("kind"):
        rows.append(ReportRow("kind", _("Kind"), _text(report["kind"])))
    if has("language"):
        rows.append(ReportRow("language", _("Language of the form"), _language(report["language"])))
    if has("follows"):
        rows.append(ReportRow("follows", _("Adds to the report"), _text(report["follows"])))
    if has(fields.TAKEN_BY):
        taken = report[fields.TAKEN_BY]
        value = Value(_("interview (a reviewer filed it)")) if interview else None
        rows.append(ReportRow(fields.TAKEN_BY, _("Taken by"), (value,) if value else _unknown_text(taken)))
    return rows


def taken_by_interview(session: Session, report: Mapping[str, Any], sealed_by: str, envelope_id: str) -> bool:
    """Whether a reviewer of this console filed this report in interview
    mode: the body says so, the header says the console sealed it, *and*
    this console's audit log has the filing (``interview.file`` for the
    envelope id, admin/interview/views.py). Anyone can seal a body saying
    ``"taken_by": "interview"``, and a seized intake could also forge the
    header's ``sealed_by``; only the audit entry is this console's own
    record, so a planted report cannot pass for a colleague's."""
    if report.get(fields.TAKEN_BY) != fields.TAKEN_BY_INTERVIEW or sealed_by != "console":
        return False
    filed = select(AuditEntry.seq).where(
        AuditEntry.action == INTERVIEW_FILED, AuditEntry.object_id == envelope_id
    )
    return session.scalar(filed.limit(1)) is not None


def _unknown_text(value: object) -> tuple[Value, ...]:
    return () if value in (None, "") else (Value(display_value(value), unknown=True),)


def _contact_rows(contact: object) -> list[ReportRow]:
    """How a reviewer may contact the reporter. Not an object (a crafted
    report): shown raw."""
    if not isinstance(contact, Mapping):
        return [ReportRow("contact", _("Contact"), _unknown_text(contact), pre=True)]
    rows = [
        ReportRow("contact-method", _("How"), _single(fields.CONTACT_METHODS, contact.get("method"))),
        ReportRow("contact-value", _("Number or address"), _text(contact.get("value"))),
        ReportRow("contact-safe-times", _("Safe times"), _text(contact.get("safe_times"))),
        ReportRow(
            "contact-language", _("Language"), _single(fields.CONTACT_LANGUAGES, contact.get("language"))
        ),
    ]
    known = {"method", "value", "safe_times", "language"}
    rows += [ReportRow(None, str(k), _text(v), pre=True) for k, v in contact.items() if k not in known]
    return rows


def _consent_rows(consent: object) -> list[ReportRow]:
    """The five consent choices, each yes or no, labelled with the words the
    reporter ticked (or did not)."""
    if not isinstance(consent, Mapping):
        return [ReportRow("consent", _("Consent"), _unknown_text(consent), pre=True)]
    rows = [
        ReportRow(f"consent-{c.code}", str(c.label), _yes_no(consent.get(c.code, None)))
        for c in fields.CONSENTS
    ]
    codes = {c.code for c in fields.CONSENTS}
    rows += [ReportRow(None, str(k), _yes_no(v)) for k, v in consent.items() if k not in codes]
    return rows


def recipients_of(
    header: bytes, data_dir: Path, roster: Mapping[str, RosterEntry] | None = None
) -> list[Value]:
    """The organizations an envelope was sealed to, from its cleartext
    header (the reporter's choice on the form, docs/report-fields.md
    "Organizations"): one value per recipient key, with the key id as
    code. The console knows its own organization's keys (by its private
    key files) and, given the pinned ``roster`` (key id -> entry), names
    the other organizations from it, never from anything the intake says;
    without one, another organization's key shows as such.
    """
    try:
        key_ids = parse_header(header).key_ids
    except EnvelopeError:
        return []
    try:
        ours = {state.info.key_id: state.info.recipient_id for state in key_states(data_dir)}
    except KeyFileError:
        ours = {}
    values = []
    for key_id in key_ids:
        code = key_id[:16]
        entry = roster.get(key_id) if roster is not None else None
        if key_id in ours:
            values.append(Value(_("this organization (%(name)s)", name=ours[key_id]), code))
        elif entry is not None:
            values.append(Value(f"{entry.name_en} ({entry.recipient_id})", code))
        elif roster is not None:
            values.append(Value(_("a key outside the pinned roster"), code, unknown=True))
        else:
            values.append(Value(_("another organization"), code))
    return values
