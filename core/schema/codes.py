"""The TNR coding scheme's codes, written once (``shared/TAXONOMY.md``).

The reporter's form (:mod:`core.schema.fields`), the console's coding
(:mod:`admin.taxonomy`) and briefings (:mod:`admin.briefing.codes`) all
read their codes here; each keeps its own labels beside its own pages
(plain reporter words, short reviewer labels, printed briefing labels),
and a test holds every one of them to exactly these codes.

Codes are stable: they are what reports, the console's database and
coded CSV files store, and what briefings count. Labels translate, codes
never change (changing one here would need a data migration). This module
holds data only: no Flask, no labels.
"""

from __future__ import annotations

#: Tactic code -> family code (TAXONOMY.md "Families"), in code order.
#: T99 has no family in TAXONOMY.md and is counted under "other", so that
#: every case falls under at least one family.
TACTIC_FAMILY: dict[str, str] = {
    "T01": "direct",
    "T02": "direct",
    "T03": "mobility",
    "T04": "distance",
    "T05": "distance",
    "T06": "distance",
    "T07": "distance",
    "T08": "distance",
    "T09": "distance",
    "T10": "co-opting",
    "T11": "co-opting",
    "T12": "mobility",
    "T13": "distance",
    "T14": "distance",
    "T15": "distance",
    "T99": "other",
}
#: Tactic codes (multi-select), T01 to T15 then T99 ("other").
TACTICS: tuple[str, ...] = tuple(TACTIC_FAMILY)
#: Tactic families, the coarse level of tables; "other" last.
FAMILIES: tuple[str, ...] = ("direct", "co-opting", "mobility", "distance", "other")

#: Community codes (multi-select, optional).
COMMUNITIES: tuple[str, ...] = (
    "uyghur",
    "tibetan",
    "hong_konger",
    "taiwanese",
    "falun_gong",
    "democracy_activist",
    "southern_mongolian",
    "turkic",
    "religious_minority",
    "student",
    "journalist",
    "academic",
    "lawyer",
    "lgbtq",
    "other",
    "prefer_not",
)
#: Spellings of community codes found in older coded CSV files -> the code.
#: Read on import only (briefings); never written.
COMMUNITY_ALIASES: dict[str, str] = {
    "hongkonger": "hong_konger",
    "falun-gong": "falun_gong",
    "mainland-activist": "democracy_activist",
    "southern-mongolian": "southern_mongolian",
    "religious-minority": "religious_minority",
    "undisclosed": "prefer_not",
}

#: "Where": ISO 3166-2:CA codes from west to east (the order briefings
#: print), then the two codes that are not provinces.
PROVINCES: tuple[str, ...] = (
    "CA-BC", "CA-AB", "CA-SK", "CA-MB", "CA-ON", "CA-QC",
    "CA-NB", "CA-NS", "CA-PE", "CA-NL", "CA-YT", "CA-NT", "CA-NU",
    "online", "abroad",
)  # fmt: skip

#: State believed responsible.
STATES: tuple[str, ...] = ("prc", "hksar", "other", "unknown")

#: A reviewer's attribution rating (A confirmed state actor .. E not TNR).
ATTRIBUTIONS: tuple[str, ...] = ("A", "B", "C", "D", "E")
#: Confidence in the attribution rating.
CONFIDENCES: tuple[str, ...] = ("low", "medium", "high")
