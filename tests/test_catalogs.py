"""Every shipped locale is complete: no missing, empty or fuzzy entry, every
placeholder of the English kept, the template matches the sources, and the
compiled catalog matches the .po. Two catalogs, each checked the same way:
the reporter pages' (intake/translations, from babel.cfg) and the reviewer
console's (admin/translations, from babel-admin.cfg)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

pytestmark = pytest.mark.db_independent

ROOT = Path(__file__).resolve().parent.parent
#: Catalog directory -> the extraction config its template comes from.
CONFIGS = {ROOT / "intake" / "translations": "babel.cfg", ROOT / "admin" / "translations": "babel-admin.cfg"}
CATALOGS = list(CONFIGS)
LOCALES = sorted(
    (catalog, po.parent.parent.name)
    for catalog in CATALOGS
    for po in catalog.glob("*/LC_MESSAGES/messages.po")
)


def _ids(path: Path) -> set[tuple[str | None, str]]:
    """(context, msgid) of every entry: the same English word in two roles
    ("Uyghur" the community, "Uyghur" the language) is two entries."""
    with path.open("rb") as fh:
        return {(m.context, str(m.id)) for m in read_po(fh) if m.id}


def _complete(string: object) -> bool:
    """A translation, or every plural form of one (a plural entry's empty
    string is a tuple of empty strings, which is truthy)."""
    if isinstance(string, tuple | list):
        return bool(string) and all(string)
    return bool(string)


def _key(value: object) -> object:
    """Plural ids and strings come as lists or tuples: one form to compare."""
    return tuple(value) if isinstance(value, list | tuple) else value


def test_an_untranslated_plural_is_incomplete() -> None:
    assert not _complete(("",)) and not _complete(("x", "")) and _complete(("x", "y")) and not _complete("")


def test_shipped_locales() -> None:
    """Every language the intake offers (but English, the source) has a
    catalog, and every catalog is a language the intake offers."""
    from core.i18n import LANGUAGES

    shipped = {lang.locale for lang in LANGUAGES.values() if lang.shipped and lang.locale != "en"}
    assert shipped == {"zh_Hant", "zh_Hans", "fr"}
    assert {locale for _catalog, locale in LOCALES} == shipped


def test_console_locales() -> None:
    """Every language the console offers (but English) has a console
    catalog, and every console catalog is a language it offers."""
    from admin.i18n import LANGUAGES

    offered = {locale for locale in LANGUAGES if locale != "en"}
    assert offered == {"fr", "zh_Hant"}
    assert {locale for catalog, locale in LOCALES if catalog == ROOT / "admin" / "translations"} == offered


@pytest.mark.parametrize("catalog", CATALOGS, ids=lambda c: c.parent.name)
def test_template_matches_sources(tmp_path: Path, catalog: Path) -> None:
    fresh = tmp_path / "messages.pot"
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "extract", "-F", CONFIGS[catalog], "-k", "_l",
         "-k", "lazy_gettext", "-k", "lazy_pgettext:1c,2", "--no-location", "-o", str(fresh), "."],
        cwd=ROOT, check=True, capture_output=True,
    )  # fmt: skip
    committed = _ids(catalog / "messages.pot")
    assert _ids(fresh) == committed, "run scripts/translations.sh update and translate the new strings"


#: A python-format placeholder: %(name)s, %(n)d, %s, %d (not %%).
_PLACEHOLDER = re.compile(r"%(?:\([a-z_]+\))?[sdif]")


def _placeholders(text: str) -> list[str]:
    return sorted(_PLACEHOLDER.findall(text.replace("%%", "")))


def test_placeholders_are_compared_as_a_multiset() -> None:
    assert _placeholders("%(n)d of %(total)d, 100%%") == ["%(n)d", "%(total)d"]
    assert _placeholders("%(n)d") != _placeholders("%(m)d")


@pytest.mark.parametrize(("catalog", "locale"), LOCALES)
def test_placeholders_are_kept(catalog: Path, locale: str) -> None:
    """A translation names the same placeholders as its English (a dropped
    or misspelt ``%(reason)s`` loses information or raises a KeyError)."""
    with (catalog / locale / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        po = read_po(fh)
    wrong = []
    for m in po:
        if not m.id or not m.string:
            continue
        ids = m.id if isinstance(m.id, tuple | list) else (m.id,)
        strings = m.string if isinstance(m.string, tuple | list) else (m.string,)
        # Every plural form carries the singular's or the plural's placeholders.
        wanted = {tuple(_placeholders(i)) for i in ids}
        wrong += [(m.id, s) for s in strings if s and tuple(_placeholders(s)) not in wanted]
    assert wrong == [], f"{locale}: placeholders differ from the English: {wrong}"


@pytest.mark.parametrize(("catalog", "locale"), LOCALES)
def test_locale_is_complete(catalog: Path, locale: str) -> None:
    wanted = _ids(catalog / "messages.pot")
    with (catalog / locale / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        po = read_po(fh)
    translated = {(m.context, str(m.id)) for m in po if m.id and _complete(m.string) and not m.fuzzy}
    assert wanted - translated == set(), f"{locale}: missing or fuzzy entries"
    assert not [m.id for m in po if m.id and m.fuzzy], f"{locale}: fuzzy entries"


@pytest.mark.parametrize(("catalog", "locale"), LOCALES)
def test_compiled_catalog_is_current(catalog: Path, locale: str) -> None:
    directory = catalog / locale / "LC_MESSAGES"
    with (directory / "messages.po").open("rb") as fh:
        po = {(m.context, _key(m.id)): _key(m.string) for m in read_po(fh) if m.id}
    with (directory / "messages.mo").open("rb") as fh:
        mo = {(m.context, _key(m.id)): _key(m.string) for m in read_mo(fh) if m.id}
    assert mo == po, f"{locale}: run scripts/translations.sh compile"
