"""The coded vocabulary briefings count (``shared/TAXONOMY.md``), with the
English and French labels the reports print.

Codes are stable and are what CSV files carry; labels are for people.
"""

from __future__ import annotations

import re

# The codes themselves are the one list of core/schema/codes.py (the form
# and the console read the same); this module adds what only briefings use.
from core.schema.codes import ATTRIBUTIONS as ATTRIBUTIONS
from core.schema.codes import COMMUNITIES as COMMUNITIES
from core.schema.codes import CONFIDENCES as CONFIDENCES
from core.schema.codes import FAMILIES as FAMILIES
from core.schema.codes import PROVINCES as PROVINCES
from core.schema.codes import TACTIC_FAMILY as TACTIC_FAMILY
from core.schema.codes import TACTICS as TACTICS

#: A case coded with no community is counted under this code.
NOT_STATED = "not_stated"
#: Communities pooled because each has fewer than k cases.
POOLED_COMMUNITIES = "pooled"

#: Province -> region, the coarser level small provinces are pooled into.
REGION = {
    "CA-BC": "west",
    "CA-AB": "prairies",
    "CA-SK": "prairies",
    "CA-MB": "prairies",
    "CA-ON": "ontario",
    "CA-QC": "quebec",
    "CA-NB": "atlantic",
    "CA-NS": "atlantic",
    "CA-PE": "atlantic",
    "CA-NL": "atlantic",
    "CA-YT": "north",
    "CA-NT": "north",
    "CA-NU": "north",
    "online": "online",
    "abroad": "abroad",
}

#: Review statuses of the console (DESIGN.md "Triage"), snake_case.
DISPOSITIONS = (
    "new", "in_review", "needs_information", "verified", "referred", "closed", "spam", "duplicate",
)  # fmt: skip
#: Dispositions never counted: not an incident, or counted in another case.
EXCLUDED_DISPOSITIONS = frozenset({"spam", "duplicate"})

#: Reporting delay (report month minus incident month), in months.
DELAYS = ("d0", "d1_2", "d3_5", "d6")

MONTH_RE = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
#: Envelope ids: 32 hex digits (16 in the invented test data).
ENVELOPE_ID_RE = re.compile(r"^(?:[0-9a-f]{16}|[0-9a-f]{32})$")
CASE_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")


def delay_bucket(months: int) -> str:
    """The :data:`DELAYS` code of a reporting delay in months (negative: 0)."""
    if months <= 0:
        return "d0"
    if months <= 2:
        return "d1_2"
    if months <= 5:
        return "d3_5"
    return "d6"


#: Labels by language, then by what the code codes (the dimension of a
#: briefing table: ``tactic``, ``family``, ``community``, ``province``,
#: ``attribution``, ``delay``): one code may name two things ("other" is a
#: tactic family and a community), so a label is always looked up with its
#: dimension.
LABELS: dict[str, dict[str, dict[str, str]]] = {
    "en": {
        "tactic": {
            "T01": "Physical assault", "T02": "Abduction", "T03": "Coerced return",
            "T04": "Coercion by proxy", "T05": "Direct threats", "T06": "Surveillance",
            "T07": "Online harassment", "T08": "Doxxing", "T09": "Hacking",
            "T10": "Bounties and lawfare", "T11": "Interpol or extradition abuse",
            "T12": "Document controls", "T13": "Coerced informing",
            "T14": "Pressure through institutions", "T15": "Economic pressure", "T99": "Other",
        },
        "family": {
            "direct": "Direct attacks", "co-opting": "Co-opting other countries",
            "mobility": "Mobility controls", "distance": "Threats from a distance", "other": "Other tactics",
        },
        "community": {
            "uyghur": "Uyghur", "tibetan": "Tibetan", "hong_konger": "Hong Konger", "taiwanese": "Taiwanese",
            "falun_gong": "Falun Gong practitioner", "democracy_activist": "Democracy or rights activist",
            "southern_mongolian": "Southern Mongolian", "turkic": "Kazakh or other Turkic",
            "religious_minority": "Religious minority", "student": "Student", "journalist": "Journalist",
            "academic": "Academic", "lawyer": "Lawyer", "lgbtq": "LGBTQ+", "other": "Other community",
            "prefer_not": "Prefer not to say",
            NOT_STATED: "Not stated", POOLED_COMMUNITIES: "Other communities (pooled)",
        },
        "province": {
            "CA-BC": "British Columbia", "CA-AB": "Alberta", "CA-SK": "Saskatchewan", "CA-MB": "Manitoba",
            "CA-ON": "Ontario", "CA-QC": "Quebec", "CA-NB": "New Brunswick", "CA-NS": "Nova Scotia",
            "CA-PE": "Prince Edward Island", "CA-NL": "Newfoundland and Labrador", "CA-YT": "Yukon",
            "CA-NT": "Northwest Territories", "CA-NU": "Nunavut", "online": "Online", "abroad": "Abroad",
        },
        "attribution": {
            "A": "A: confirmed state actor", "B": "B: state-directed proxy", "C": "C: suspected state-linked",
            "D": "D: unknown, TNR indicators", "E": "E: assessed as not TNR",
        },
        "delay": {
            "d0": "Same month", "d1_2": "1 to 2 months later", "d3_5": "3 to 5 months later",
            "d6": "6 months or later",
        },
    },
    "fr": {
        "tactic": {
            "T01": "Agression physique", "T02": "Enlèvement", "T03": "Retour forcé",
            "T04": "Coercition par procuration", "T05": "Menaces directes", "T06": "Surveillance et filature",
            "T07": "Harcèlement en ligne", "T08": "Divulgation de données personnelles", "T09": "Piratage",
            "T10": "Primes et poursuites", "T11": "Abus d'Interpol ou d'extradition",
            "T12": "Contrôle des documents", "T13": "Recrutement d'informateurs",
            "T14": "Pressions par des tiers", "T15": "Pressions économiques", "T99": "Autre",
        },
        "family": {
            "direct": "Attaques directes", "co-opting": "Recours à d'autres pays",
            "mobility": "Contrôle de la mobilité", "distance": "Menaces à distance",
            "other": "Autres tactiques",
        },
        "community": {
            "uyghur": "Ouïghour", "tibetan": "Tibétain", "hong_konger": "Hongkongais",
            "taiwanese": "Taïwanais",
            "falun_gong": "Pratiquant du Falun Gong",
            "democracy_activist": "Militant pour la démocratie ou les droits",
            "southern_mongolian": "Mongol du Sud", "turkic": "Kazakh ou autre peuple turcique",
            "religious_minority": "Minorité religieuse", "student": "Étudiant", "journalist": "Journaliste",
            "academic": "Universitaire", "lawyer": "Avocat", "lgbtq": "LGBTQ+", "other": "Autre communauté",
            "prefer_not": "Préfère ne pas le dire",
            NOT_STATED: "Non précisé", POOLED_COMMUNITIES: "Autres communautés (regroupées)",
        },
        "province": {
            "CA-BC": "Colombie-Britannique", "CA-AB": "Alberta", "CA-SK": "Saskatchewan", "CA-MB": "Manitoba",
            "CA-ON": "Ontario", "CA-QC": "Québec", "CA-NB": "Nouveau-Brunswick", "CA-NS": "Nouvelle-Écosse",
            "CA-PE": "Île-du-Prince-Édouard", "CA-NL": "Terre-Neuve-et-Labrador", "CA-YT": "Yukon",
            "CA-NT": "Territoires du Nord-Ouest", "CA-NU": "Nunavut", "online": "En ligne",
            "abroad": "À l'étranger",
        },
        "attribution": {
            "A": "A : acteur étatique confirmé", "B": "B : mandataire dirigé par l'État",
            "C": "C : lien présumé avec l'État", "D": "D : inconnu, indices de RTN", "E": "E : jugé hors RTN",
        },
        "delay": {
            "d0": "Le même mois", "d1_2": "1 à 2 mois plus tard", "d3_5": "3 à 5 mois plus tard",
            "d6": "6 mois ou plus tard",
        },
    },
}  # fmt: skip


def label(dim: str, code: str, lang: str) -> str:
    """The label of ``code`` as a value of dimension ``dim`` (a key of
    :data:`LABELS`' tables: ``tactic``, ``family``, ``community``,
    ``province``, ``attribution``, ``delay``) in ``lang`` (``en``/``fr``).
    Pooled province codes (``CA-MB+CA-SK``) are labelled by joining their
    parts; a code without a label is printed as it is.

    Raises:
        KeyError: an unknown language or dimension.
    """
    table = LABELS[lang][dim]
    if code in table:
        return table[code]
    if "+" in code:
        return " + ".join(table.get(part, part) for part in code.split("+"))
    return code
