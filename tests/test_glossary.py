"""The reporter and console catalogs follow the translation glossary
(docs/glossary-translations.csv, explained in docs/glossary-translations.md).
The console's catalogs (admin/translations: fr, zh_Hant) are checked with
the reporter catalog of the same locale, as one: a term reads the same on
both sides, and a row holds for whichever side its scope finds.

One case per term per locale. A row's ``scope`` (a regular expression on the
English msgid, optionally limited to one ``context``) selects the entries the
term appears in; each of their translations must contain one of the
``must_contain`` renderings (`` | `` between alternatives). ``avoid`` (or the
regular expression ``avoid_pattern``, where the plain words would match too
much) must appear nowhere in the locale's catalog (``avoid_in`` "catalog") or
in none of the in-scope translations ("scope"). A wrong word that comes back
(an OpenCC redraft, a new string copied from an old one) fails here, with the
msgids that carry it.

A second test checks that a message naming a button or a choice in quotes
(“Send report”, “I have a receipt”) names it exactly as the page shows it in
that locale, in that locale's quotation marks.
"""

from __future__ import annotations

import csv
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from flask.testing import FlaskClient

pytestmark = pytest.mark.db_independent

ROOT = Path(__file__).resolve().parent.parent
GLOSSARY = ROOT / "docs" / "glossary-translations.csv"
CATALOGS = ROOT / "intake" / "translations"
CONSOLE_CATALOGS = ROOT / "admin" / "translations"
LOCALES = ("zh_Hant", "zh_Hans", "fr")
#: The console's languages (admin/i18n.py), English aside.
CONSOLE_LOCALES = ("zh_Hant", "fr")
#: How each locale quotes a button or choice name inside a message.
QUOTES = {"zh_Hant": ("「", "」"), "zh_Hans": ("“", "”"), "fr": ("«\u00a0", "\u00a0»")}


@dataclass(frozen=True)
class Entry:
    """One catalog entry: context, English msgid (plural forms joined by a
    newline) and translation (plural forms joined likewise)."""

    context: str | None
    msgid: str
    msgstr: str


def _joined(value: object) -> str:
    return "\n".join(value) if isinstance(value, list | tuple) else str(value)


def _catalog(locale: str, catalogs: Path = CATALOGS) -> list[Entry]:
    with (catalogs / locale / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        return [Entry(m.context, _joined(m.id), _joined(m.string)) for m in read_po(fh) if m.id]


def _rows() -> list[dict[str, str]]:
    with GLOSSARY.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


ROWS = _rows()
#: The reporter pages' entries, and those with the console's added.
REPORTER_ENTRIES = {locale: _catalog(locale) for locale in LOCALES}
CONSOLE_ENTRIES = {locale: _catalog(locale, CONSOLE_CATALOGS) for locale in CONSOLE_LOCALES}
ENTRIES = {locale: REPORTER_ENTRIES[locale] + CONSOLE_ENTRIES.get(locale, []) for locale in LOCALES}


def _alternatives(text: str) -> list[str]:
    return [part.strip() for part in text.split(" | ") if part.strip()]


def _in_scope(row: dict[str, str], entries: list[Entry]) -> list[Entry]:
    scope = re.compile(row["scope"])
    context = row["context"] or None
    return [e for e in entries if (context is None or e.context == context) and scope.search(e.msgid)]


def test_glossary_rows_are_well_formed() -> None:
    assert ROWS, "the glossary is empty"
    for row in ROWS:
        where = f"{row['term_id']} / {row['locale']}"
        assert row["locale"] in LOCALES, where
        assert row["approved"] and row["reason"], f"{where}: approved rendering and reason are required"
        assert row["must_contain"] or row["avoid"], f"{where}: nothing to check"
        assert row["avoid_in"] in (("catalog", "scope") if row["avoid"] else ("",)), where
        assert not row["must_contain"] or row["scope"], f"{where}: must_contain needs a scope"
        assert row["avoid_in"] != "scope" or row["scope"], f"{where}: avoid_in scope needs a scope"
        re.compile(row["scope"])
        re.compile(row["avoid_pattern"])
    keys = [(row["term_id"], row["locale"]) for row in ROWS]
    assert len(keys) == len(set(keys)), "one row per term per locale"


@pytest.mark.parametrize("row", ROWS, ids=[f"{r['term_id']}-{r['locale']}" for r in ROWS])
def test_catalog_follows_the_glossary(row: dict[str, str]) -> None:
    entries = ENTRIES[row["locale"]]
    scoped = _in_scope(row, entries) if row["scope"] else []
    if row["scope"]:
        # A scope that matches nothing is a stale row, and would pass silently.
        assert scoped, f"{row['term_id']}: no msgid matches the scope {row['scope']!r}"
    wanted = _alternatives(row["must_contain"])
    missing = [e.msgid for e in scoped if wanted and not any(w in e.msgstr for w in wanted)]
    assert not missing, f"{row['locale']}: translate {row['english']!r} as {row['approved']!r} in {missing}"
    if row["avoid"]:
        pattern = re.compile(
            row["avoid_pattern"] or "|".join(re.escape(a) for a in _alternatives(row["avoid"]))
        )
        searched = scoped if row["avoid_in"] == "scope" else entries
        found = [(e.msgid, e.msgstr) for e in searched if pattern.search(e.msgstr)]
        assert not found, f"{row['locale']}: {row['avoid']!r} is to be avoided ({row['reason']}): {found}"


def test_every_locale_has_the_core_terms() -> None:
    """The safety and consent terms every locale must carry."""
    core = {
        "abroad", "physically_attacked", "go_back", "receipt", "fingerprint", "ip_address",
        "personal_details", "de_identified", "chosen_below", "contact_above", "uyghur_language",
        "uyghur_community", "tibetan_language", "tibetan_community", "nothing_sent", "community",
    }  # fmt: skip
    for locale in LOCALES:
        have = {row["term_id"] for row in ROWS if row["locale"] == locale}
        assert core <= have, f"{locale}: {sorted(core - have)}"


def _named(msgid: str) -> list[str]:
    return re.findall(r"“([^”]+)”", msgid)


@pytest.mark.parametrize("locale", LOCALES)
def test_named_buttons_and_choices_match_the_page(locale: str) -> None:
    """“Send report” in a message is the button's own label in this locale,
    in this locale's quotation marks, so a reader finds the button it names."""
    entries = REPORTER_ENTRIES[locale]
    labels = {e.msgid: e.msgstr for e in entries if e.context is None}
    opening, closing = QUOTES[locale]
    checked, wrong = 0, []
    for entry in entries:
        for name in _named(entry.msgid):
            if name not in labels:
                continue  # a placeholder such as “%(name)s”, not a label
            checked += 1
            if f"{opening}{labels[name]}{closing}" not in entry.msgstr:
                wrong.append((entry.msgid, name, labels[name]))
    assert checked >= 10
    assert not wrong, f"{locale}: messages that do not name the label as the page shows it: {wrong}"


def test_the_generated_glossary_files_are_current(tmp_path: Path) -> None:
    """docs/glossary-translations.md (its table) and .tbx are made from the
    CSV by scripts/glossary.py; run it after editing the CSV."""
    for kind, name in (("md", "glossary-translations.md"), ("tbx", "glossary-translations.tbx")):
        out = tmp_path / name
        if kind == "md":
            out.write_bytes((ROOT / "docs" / name).read_bytes())
        subprocess.run([sys.executable, str(ROOT / "scripts" / "glossary.py"), kind, str(out)], check=True)
        assert out.read_bytes() == (ROOT / "docs" / name).read_bytes(), f"run scripts/glossary.py {kind}"


@pytest.mark.parametrize(
    ("lang", "language", "community"),
    [
        ("zh-hant", "維吾爾語", "維吾爾人"),
        ("zh-hans", "藏语", "藏人"),
        ("fr", "Ouïghour", "Ouïghoure ou Ouïghour"),
    ],
)
def test_the_form_shows_a_language_as_a_language_and_a_people_as_a_people(
    intake_client: FlaskClient, lang: str, language: str, community: str
) -> None:
    """The contexts reach the page: the contact-language list offers the
    language, the community list the people (one English word for both)."""
    html = intake_client.get(f"/{lang}/").get_data(as_text=True)
    select = html[
        html.index('<select name="contact_language"') : html.index(
            "</select>", html.index('name="contact_language"')
        )
    ]
    communities = html[html.index('<fieldset class="field choices" id="community"') :]
    communities = communities[: communities.index("</fieldset>")]
    assert f">{language}</option>" in select and community not in select.replace(language, "")
    assert f">{community}</label>" in communities
