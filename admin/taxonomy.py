"""The console's labels for the TNR coding scheme (``shared/TAXONOMY.md``).

The codes are those of :mod:`core.schema.codes`, the one list the form,
the console and briefings share (a test holds these tables to exactly
those codes), so a reviewer's coding feeds briefings as it is. Codes are
stable; labels are for display and translate. Reviewer-facing labels are
the short English ones (French and Chinese labels live in the catalogs).
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext

from core.schema import codes

#: Tactic code -> short label.
TACTIC_LABELS: dict[str, str] = {
    "T01": _l("Physical assault"),
    "T02": _l("Abduction"),
    "T03": _l("Coerced return"),
    "T04": _l("Coercion by proxy"),
    "T05": _l("Direct threats"),
    "T06": _l("Surveillance"),
    "T07": _l("Online harassment"),
    "T08": _l("Doxxing"),
    "T09": _l("Hacking"),
    "T10": _l("Bounties and lawfare"),
    "T11": _l("Interpol or extradition abuse"),
    "T12": _l("Document controls"),
    "T13": _l("Coerced informing"),
    "T14": _l("Pressure through institutions"),
    "T15": _l("Economic pressure"),
    "T99": lazy_pgettext("tactic", "Other"),
}
#: Tactic code -> (family, short label), in code order; families are those
#: of :data:`core.schema.codes.TACTIC_FAMILY`.
TACTICS: dict[str, tuple[str, str]] = {
    code: (codes.TACTIC_FAMILY[code], TACTIC_LABELS[code]) for code in codes.TACTICS
}

#: Community code -> label (multi-select, optional).
COMMUNITIES: dict[str, str] = {
    # Contexts: the same English word is also a language (docs/translations.md).
    "uyghur": lazy_pgettext("community", "Uyghur"),
    "tibetan": lazy_pgettext("community", "Tibetan"),
    "hong_konger": _l("Hong Konger"),
    "taiwanese": _l("Taiwanese"),
    "falun_gong": _l("Falun Gong practitioner"),
    "democracy_activist": _l("Mainland democracy or rights activist"),
    "southern_mongolian": _l("Southern Mongolian"),
    "turkic": _l("Kazakh or other Turkic"),
    "religious_minority": _l("Religious minority"),
    "student": _l("Student"),
    "journalist": _l("Journalist"),
    "academic": _l("Academic"),
    "lawyer": _l("Lawyer"),
    "lgbtq": _l("LGBTQ+"),
    "other": lazy_pgettext("community", "Other"),
    "prefer_not": _l("Prefer not to say"),
}

#: ISO 3166-2:CA subdivision codes, plus where an act happened outside any.
PROVINCES: dict[str, str] = {
    "CA-AB": _l("Alberta"),
    "CA-BC": _l("British Columbia"),
    "CA-MB": _l("Manitoba"),
    "CA-NB": _l("New Brunswick"),
    "CA-NL": _l("Newfoundland and Labrador"),
    "CA-NS": _l("Nova Scotia"),
    "CA-NT": _l("Northwest Territories"),
    "CA-NU": _l("Nunavut"),
    "CA-ON": _l("Ontario"),
    "CA-PE": _l("Prince Edward Island"),
    "CA-QC": _l("Quebec"),
    "CA-SK": _l("Saskatchewan"),
    "CA-YT": _l("Yukon"),
    "online": _l("Online"),
    "abroad": _l("Abroad"),
}

#: Reviewer's attribution rating (the reporter's belief is kept apart).
ATTRIBUTIONS: dict[str, str] = {
    "A": _l("A: confirmed state actor"),
    "B": _l("B: state-directed proxy"),
    "C": _l("C: suspected state-linked"),
    "D": _l("D: unknown, with TNR indicators"),
    "E": _l("E: assessed as not TNR"),
}

CONFIDENCES: dict[str, str] = {"low": _l("low"), "medium": _l("medium"), "high": _l("high")}

#: State believed responsible (reviewer's view).
STATES: dict[str, str] = {
    "prc": _l("People's Republic of China"),
    "hksar": _l("Hong Kong SAR government"),
    "other": lazy_pgettext("state", "Other"),
    "unknown": _l("Don't know"),
}


#: Triage dispositions (admin/models.py ``Disposition``) -> label. The
#: code is stored and filtered on; the label is what a reviewer reads.
DISPOSITION_LABELS: dict[str, str] = {
    "new": _l("New"),
    "in_review": _l("In review"),
    "needs_information": _l("Needs information"),
    "verified": _l("Verified"),
    "referred": _l("Referred"),
    "closed": _l("Closed"),
    "spam": _l("Spam"),
    "duplicate": _l("Duplicate"),
}


def disposition_label(code: str) -> str:
    """The label of a disposition code (the code itself if unknown)."""
    return str(DISPOSITION_LABELS.get(code, code))
