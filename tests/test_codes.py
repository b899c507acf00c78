"""One vocabulary: the reporter's form, the console's coding and briefings
each label exactly the codes of core/schema/codes.py, so a code added or
renamed in one place and not the others fails here, not in a briefing that
silently drops a case."""

from __future__ import annotations

import pytest

from admin import taxonomy
from admin.briefing import codes as briefing_codes
from core.schema import codes, fields


def _form_codes(choices: tuple[fields.Choice, ...]) -> list[str]:
    return [c.code for c in choices]


@pytest.mark.parametrize(
    ("choices", "expected"),
    [
        (fields.TACTICS, codes.TACTICS),
        (fields.COMMUNITIES, codes.COMMUNITIES),
        (fields.PLACES, codes.PROVINCES),
        (fields.STATES, codes.STATES),
    ],
)
def test_the_form_offers_exactly_the_codes(
    choices: tuple[fields.Choice, ...], expected: tuple[str, ...]
) -> None:
    offered = _form_codes(choices)
    assert len(offered) == len(set(offered))
    assert set(offered) == set(expected)


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        (taxonomy.TACTIC_LABELS, codes.TACTICS),
        (taxonomy.TACTICS, codes.TACTICS),
        (taxonomy.COMMUNITIES, codes.COMMUNITIES),
        (taxonomy.PROVINCES, codes.PROVINCES),
        (taxonomy.STATES, codes.STATES),
        (taxonomy.ATTRIBUTIONS, codes.ATTRIBUTIONS),
        (taxonomy.CONFIDENCES, codes.CONFIDENCES),
    ],
)
def test_the_console_labels_exactly_the_codes(labels: dict[str, object], expected: tuple[str, ...]) -> None:
    assert set(labels) == set(expected)


def test_the_console_families_are_the_schemes() -> None:
    assert {code: family for code, (family, _label) in taxonomy.TACTICS.items()} == codes.TACTIC_FAMILY


@pytest.mark.parametrize("lang", sorted(briefing_codes.LABELS))
def test_briefings_label_every_code(lang: str) -> None:
    """Each code under its own concept: "other" is a tactic family and a
    community, and neither may borrow the other's label."""
    groups = {
        "tactic": codes.TACTICS,
        "family": codes.FAMILIES,
        "community": (*codes.COMMUNITIES, briefing_codes.NOT_STATED, briefing_codes.POOLED_COMMUNITIES),
        "province": codes.PROVINCES,
        "attribution": codes.ATTRIBUTIONS,
        "delay": briefing_codes.DELAYS,
    }
    assert set(briefing_codes.LABELS[lang]) == set(groups)
    for dim, group in groups.items():
        table = briefing_codes.LABELS[lang][dim]
        missing = [code for code in group if code not in table]
        assert missing == [], f"{lang}: no briefing label for the {dim} {missing}"
        assert set(table) == set(group), f"{lang}: labels of codes that are no {dim}"
        labels = [briefing_codes.label(dim, code, lang) for code in group]
        assert len(set(labels)) == len(labels), f"{lang}: two {dim} codes read the same"
    assert briefing_codes.label("family", "other", lang) != briefing_codes.label("community", "other", lang)


def test_briefings_count_the_codes_of_the_scheme() -> None:
    assert briefing_codes.TACTICS == codes.TACTICS
    assert briefing_codes.COMMUNITIES == codes.COMMUNITIES
    assert briefing_codes.PROVINCES == codes.PROVINCES
    assert set(briefing_codes.REGION) == set(codes.PROVINCES)
    assert briefing_codes.ATTRIBUTIONS == codes.ATTRIBUTIONS
    assert briefing_codes.CONFIDENCES == codes.CONFIDENCES


def test_families_and_aliases_point_at_codes() -> None:
    assert set(codes.TACTIC_FAMILY.values()) == set(codes.FAMILIES)
    assert set(codes.COMMUNITY_ALIASES.values()) <= set(codes.COMMUNITIES)
    assert not set(codes.COMMUNITY_ALIASES) & set(codes.COMMUNITIES)
