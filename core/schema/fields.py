"""The report's fields, defined once (docs/report-fields.md).

Both paths produce the same report JSON from the same form:

- without JavaScript, :func:`report_from_form` reads the posted form and the
  server seals the result;
- with JavaScript, ``js/report.js`` reads the same inputs by the same rules
  and the browser seals the result.

Values are the codes of :mod:`core.schema.codes` (shared/TAXONOMY.md;
stable, labels translate; a test holds the choices below to them). Every
key is always present: an unanswered single choice is ``null``, an
unanswered multiple choice ``[]``, an empty text ``""``, an unticked consent
``false``. Multiple choices are listed in the order of the choices below,
whatever order they were ticked in.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext

#: Version of the report JSON. 1: the walking skeleton (narrative only);
#: 2: the TNR fields of this module.
FORM_VERSION = 2

MAX_NARRATIVE = 100_000
MAX_SHORT_TEXT = 200

#: ``taken_by`` of a report a reviewer filed in the console on someone's
#: behalf (interview mode, docs/console.md "Interview mode"). Only such a
#: report has the key (its value is always this); a reporter's own report,
#: on either path, has none (docs/report-fields.md).
TAKEN_BY = "taken_by"
TAKEN_BY_INTERVIEW = "interview"

#: Characters stripped from both ends of short text fields, the same set in
#: js/report.js (Python's str.strip() and JavaScript's trim() differ).
STRIP = " \t\n\r\f\v\u00a0\u3000"


@dataclass(frozen=True)
class Choice:
    """One choice: the stable code, and the reporter-facing words."""

    code: str
    label: Any  # a lazy string


#: Tactics, in plain words (reviewers see the short TAXONOMY.md labels).
TACTICS: tuple[Choice, ...] = (
    Choice("T05", _l("Someone threatened me, in person, by phone or by message")),
    Choice("T04", _l("Someone threatened, questioned or punished my family or friends back home")),
    Choice("T06", _l("I was followed, watched or photographed")),
    Choice("T07", _l("I was harassed, smeared or impersonated online")),
    Choice("T08", _l("My address, phone number or photos were published")),
    Choice("T09", _l("Someone tried to break into my accounts or devices")),
    Choice("T03", _l("I was pressured or lured to go back, or to travel to another country")),
    Choice("T12", _l("My passport or documents were refused, or relatives were stopped from leaving")),
    Choice("T13", _l("I was pressured to spy on my community")),
    Choice("T14", _l("Pressure came through my employer, landlord, school, university or the media")),
    Choice("T15", _l("My money, property or business was threatened or taken")),
    Choice("T10", _l("A bounty, warrant, criminal charge or lawsuit was brought against me")),
    Choice("T11", _l("An Interpol notice or extradition request was used against me")),
    Choice("T01", _l("I was physically attacked")),
    Choice("T02", _l("Someone tried to take me, or someone I know, across a border")),
    Choice("T99", _l("Something else")),
)

CHANNELS: tuple[Choice, ...] = (
    Choice("in_person", _l("In person")),
    Choice("phone", _l("Phone call")),
    Choice("wechat", _l("WeChat")),
    Choice("messaging", _l("Another messaging app")),
    Choice("social_media", _l("Social media")),
    Choice("email", _l("Email")),
    Choice("family_abroad", _l("Through family outside Canada")),
    Choice("institution", _l("Through an employer, school or other institution")),
    Choice("other", _l("Other")),
)

TARGETED: tuple[Choice, ...] = (
    Choice("me", _l("Me")),
    Choice("family_canada", _l("My family in Canada")),
    Choice("family_abroad", _l("My family outside Canada")),
    Choice("organization", _l("My organization")),
    Choice("someone_else", _l("Someone else")),
)

#: The context "community" (people) against "language" below: the same
#: English word is a person in one list and a language in the other, and
#: most languages say the two differently (維吾爾人 / 維吾爾語).
COMMUNITIES: tuple[Choice, ...] = (
    Choice("uyghur", lazy_pgettext("community", "Uyghur")),
    Choice("tibetan", lazy_pgettext("community", "Tibetan")),
    Choice("hong_konger", _l("Hong Konger")),
    Choice("taiwanese", _l("Taiwanese")),
    Choice("falun_gong", _l("Falun Gong practitioner")),
    Choice("democracy_activist", _l("Democracy or rights activist from mainland China")),
    Choice("southern_mongolian", _l("Southern Mongolian")),
    Choice("turkic", _l("Kazakh or other Turkic")),
    Choice("religious_minority", _l("Religious minority (Christian, Muslim, other)")),
    Choice("student", _l("Student")),
    Choice("journalist", _l("Journalist")),
    Choice("academic", _l("Academic")),
    Choice("lawyer", _l("Lawyer")),
    Choice("lgbtq", _l("LGBTQ+")),
    Choice("other", _l("Other")),
    Choice("prefer_not", _l("Prefer not to say")),
)

STATES: tuple[Choice, ...] = (
    Choice("prc", _l("People's Republic of China")),
    Choice("hksar", _l("Hong Kong SAR government")),
    Choice("other", _l("Another state")),
    Choice("unknown", _l("I don't know")),
)

#: ISO 3166-2:CA codes, then the two "where" codes that are not provinces.
PLACES: tuple[Choice, ...] = (
    Choice("CA-AB", _l("Alberta")),
    Choice("CA-BC", _l("British Columbia")),
    Choice("CA-MB", _l("Manitoba")),
    Choice("CA-NB", _l("New Brunswick")),
    Choice("CA-NL", _l("Newfoundland and Labrador")),
    Choice("CA-NS", _l("Nova Scotia")),
    Choice("CA-NT", _l("Northwest Territories")),
    Choice("CA-NU", _l("Nunavut")),
    Choice("CA-ON", _l("Ontario")),
    Choice("CA-PE", _l("Prince Edward Island")),
    Choice("CA-QC", _l("Quebec")),
    Choice("CA-SK", _l("Saskatchewan")),
    Choice("CA-YT", _l("Yukon")),
    Choice("online", _l("Online")),
    Choice("abroad", _l("Outside Canada")),
)

POLICE_TOLD: tuple[Choice, ...] = (
    Choice("yes", _l("Yes")),
    Choice("no", _l("No")),
    Choice("prefer_not", _l("Prefer not to say")),
)

IMPACTS: tuple[Choice, ...] = (
    Choice("fear", _l("I fear for my safety or my family's")),
    Choice("stopped_activism", _l("I stopped or limited my activism or what I say")),
    Choice("changed_travel", _l("I changed my travel plans")),
    Choice("lost_work", _l("I lost work or study")),
    Choice("health", _l("My physical or mental health suffered")),
    Choice("none", _l("None of these")),
)

CONTACT_METHODS: tuple[Choice, ...] = (
    Choice("none", _l("Do not contact me")),
    Choice("signal", _l("Signal")),
    Choice("email", _l("Email")),
    Choice("phone", _l("Phone")),
)

#: Languages, in the context "language" (see COMMUNITIES).
CONTACT_LANGUAGES: tuple[Choice, ...] = (
    Choice("en", lazy_pgettext("language", "English")),
    Choice("fr", lazy_pgettext("language", "French")),
    Choice("cmn", lazy_pgettext("language", "Mandarin")),
    Choice("yue", lazy_pgettext("language", "Cantonese")),
    Choice("ug", lazy_pgettext("language", "Uyghur")),
    Choice("bo", lazy_pgettext("language", "Tibetan")),
    Choice("other", lazy_pgettext("language", "Another language")),
)

#: The five consent choices of TAXONOMY.md, none pre-selected. On the form
#: they come after "Contact" and before "Who can read your report" (the
#: organizations), so "above" and "below" point there (templates/intake/form.html).
CONSENTS: tuple[Choice, ...] = (
    Choice("statistics", _l("Use my report in statistics, without my name or any other personal details.")),
    Choice(
        "share_coalition",
        _l(
            "Share details of my report, with anything that could identify me removed, "
            "with the coalition organizations I choose below."
        ),
    ),
    Choice("contact", _l("A reviewer may contact me, in the way I describe above.")),
    Choice(
        "refer_police",
        _l(
            "Refer my report to the RCMP or CSIS. This report is not a police report; "
            "only if you tick this will the coalition pass it on."
        ),
    ),
    Choice(
        "quote",
        _l(
            "Quote a short anonymized excerpt of my report in publications "
            "or in material given to government."
        ),
    ),
)

#: name → choices, for the multiple-choice fields (checkboxes).
MULTI: dict[str, tuple[Choice, ...]] = {
    "tactics": TACTICS,
    "channel": CHANNELS,
    "targeted": TARGETED,
    "community": COMMUNITIES,
    "impact": IMPACTS,
}
#: name → choices, for the single-choice fields (a select or radios).
SINGLE: dict[str, tuple[Choice, ...]] = {
    "province": PLACES,
    "state": STATES,
    "police_told": POLICE_TOLD,
    "contact_method": CONTACT_METHODS,
    "contact_language": CONTACT_LANGUAGES,
}
#: Short free-text fields (``MAX_SHORT_TEXT`` characters).
SHORT_TEXT = ("when", "city", "state_other", "contact_value", "contact_safe_times")


class ReportFieldError(ValueError):
    """A field's value cannot be used: ``field`` names it, ``code`` says why
    (``"narrative_or_tactic"``, ``"when"``, ``"too_long"``,
    ``"other_state_not_chosen"``, ``"contact_method_not_chosen"``)."""

    def __init__(self, field: str, code: str) -> None:
        super().__init__(f"{field}: {code}")
        self.field = field
        self.code = code


_WHEN = re.compile(r"^([0-9]{4})[^0-9]+([0-9]{1,2})(?:[^0-9]+([0-9]{1,2}))?[^0-9]*$")
_WHEN_COMPACT = re.compile(r"^([0-9]{4})-([0-9]{2})(?:-([0-9]{2}))?$")


def normalize_when(text: str, today: dt.date | None = None) -> str:
    """``"2026-07-14"`` or ``"2026-07"`` from what a reporter typed, or ``""``.

    NFKC folds full-width digits; any non-digits separate year, month and day
    (``2026/7/14``, ``2026年7月14日``, ``2026-07``). The same rules are in
    js/report.js.

    Raises:
        ReportFieldError: not a date or month, or later than tomorrow.
    """
    text = unicodedata.normalize("NFKC", text).strip(STRIP)
    if not text:
        return ""
    match = _WHEN_COMPACT.match(text) or _WHEN.match(text)
    if match is None:
        raise ReportFieldError("when", "when")
    year, month = int(match.group(1)), int(match.group(2))
    day = int(match.group(3)) if match.group(3) else None
    try:
        first = dt.date(year, month, day or 1)
    except ValueError as exc:
        raise ReportFieldError("when", "when") from exc
    limit = (today or dt.date.today()) + dt.timedelta(days=1)
    if year < 1900 or first > limit:
        raise ReportFieldError("when", "when")
    return first.isoformat() if day else first.isoformat()[:7]


def _text(form: Mapping[str, Any], name: str) -> str:
    value = form.get(name)
    return value.strip(STRIP) if isinstance(value, str) else ""


def _multi(form: Any, name: str, choices: tuple[Choice, ...]) -> list[str]:
    picked = set(form.getlist(name)) if hasattr(form, "getlist") else set(form.get(name) or [])
    return [c.code for c in choices if c.code in picked]


def _single(form: Mapping[str, Any], name: str, choices: tuple[Choice, ...]) -> str | None:
    value = form.get(name)
    return value if any(c.code == value for c in choices) else None


def normalize_narrative(text: str) -> str:
    """Line breaks as LF: a plain form post sends CRLF (HTML spec), the
    browser path reads the textarea's value, with LF."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def report_from_form(form: Any, language: str, today: dt.date | None = None) -> dict[str, Any]:
    """The report JSON of a posted form (a ``MultiDict``).

    Args:
        form: the posted fields.
        language: the page's BCP 47 tag (``<html lang>``).
        today: for the "when" check (default: today).

    Raises:
        ReportFieldError: no narrative and no tactic, a malformed date, a
            text over its limit, the name of another state typed without
            "Another state" chosen, or contact details typed without a way
            to be contacted chosen. Choices that are not codes are dropped
            (a stale page or a crafted post; nothing a reporter could type),
            but nothing typed is: text that its choice would make
            meaningless is refused, never silently left out.
    """
    raw_narrative = form.get("narrative")
    narrative = normalize_narrative(raw_narrative if isinstance(raw_narrative, str) else "")
    if len(narrative) > MAX_NARRATIVE:
        raise ReportFieldError("narrative", "too_long")
    texts = {name: _text(form, name) for name in SHORT_TEXT}
    for name, value in texts.items():
        if len(value) > MAX_SHORT_TEXT:
            raise ReportFieldError(name, "too_long")
    multi = {name: _multi(form, name, choices) for name, choices in MULTI.items()}
    if not narrative.strip() and not multi["tactics"]:
        raise ReportFieldError("narrative", "narrative_or_tactic")
    when = normalize_when(texts["when"], today)
    single = {name: _single(form, name, choices) for name, choices in SINGLE.items()}
    state = single["state"]
    method = single["contact_method"]
    # Text typed for a choice that was not made is refused, never dropped:
    # a reporter who typed a phone number but skipped "How may a reviewer
    # contact you?" would otherwise send a report nobody can answer, and
    # never know. Same order of checks in js/report.js.
    if texts["state_other"] and state != "other":
        raise ReportFieldError("state_other", "other_state_not_chosen")
    if method in (None, "none"):
        for name in ("contact_value", "contact_safe_times"):
            if texts[name]:
                raise ReportFieldError(name, "contact_method_not_chosen")
    consents = set(form.getlist("consent")) if hasattr(form, "getlist") else set(form.get("consent") or [])
    return {
        "form_version": FORM_VERSION,
        "kind": "report",
        "language": language,
        "narrative": narrative,
        "when": when,
        "ongoing": form.get("ongoing") == "yes",
        "province": single["province"],
        "city": texts["city"],
        "tactics": multi["tactics"],
        "channel": multi["channel"],
        "targeted": multi["targeted"],
        "community": multi["community"],
        "state": state,
        "state_other": texts["state_other"],  # "" unless state is "other" (checked above)
        "police_told": single["police_told"],
        "impact": multi["impact"],
        "contact": {
            "method": method,
            # Both "" unless method is signal, email or phone (checked above).
            "value": texts["contact_value"],
            "safe_times": texts["contact_safe_times"],
            "language": single["contact_language"],
        },
        "consent": {c.code: c.code in consents for c in CONSENTS},
    }


def followup_from_form(form: Any, language: str, follows: str) -> dict[str, Any]:
    """The JSON of a follow-up (more information on a stored report).

    Args:
        follows: the envelope id of the report this adds to.

    Raises:
        ReportFieldError: the text is over its limit. An empty text is
            allowed when files come with it (the view checks).
    """
    raw = form.get("narrative")
    narrative = normalize_narrative(raw if isinstance(raw, str) else "")
    if len(narrative) > MAX_NARRATIVE:
        raise ReportFieldError("narrative", "too_long")
    return {
        "form_version": FORM_VERSION,
        "kind": "followup",
        "language": language,
        "follows": follows,
        "narrative": narrative,
    }
