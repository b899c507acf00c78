"""The TNR coding scheme's codes as the console stores them
(``shared/TAXONOMY.md``).

Codes are stable; labels are for display and translate. Briefings count
codes. Reviewer-facing labels are the short English ones (French and
Chinese labels live in the catalogs).
The codes are those of :mod:`admin.briefing.codes` (a test holds the two
equal), so a reviewer's coding feeds briefings as it is.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext

#: Tactic code -> (family, short label).
TACTICS: dict[str, tuple[str, str]] = {
    "T01": ("direct", _l("Physical assault")),
    "T02": ("direct", _l("Abduction")),
    "T03": ("mobility", _l("Coerced return")),
    "T04": ("distance", _l("Coercion by proxy")),
    "T05": ("distance", _l("Direct threats")),
    "T06": ("distance", _l("Surveillance")),
    "T07": ("distance", _l("Online harassment")),
    "T08": ("distance", _l("Doxxing")),
    "T09": ("distance", _l("Hacking")),
    "T10": ("co-opting", _l("Bounties and lawfare")),
    "T11": ("co-opting", _l("Interpol or extradition abuse")),
    "T12": ("mobility", _l("Document controls")),
    "T13": ("distance", _l("Coerced informing")),
    "T14": ("distance", _l("Pressure through institutions")),
    "T15": ("distance", _l("Economic pressure")),
    "T99": ("other", lazy_pgettext("tactic", "Other")),
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
