"""Every shipped locale is complete: no missing, empty or fuzzy entry, the
template matches the sources, and the compiled catalog matches the .po."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

pytestmark = pytest.mark.db_independent

ROOT = Path(__file__).resolve().parent.parent
CATALOGS = [ROOT / "intake" / "translations"]
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
    from intake.i18n import LANGUAGES

    shipped = {lang.locale for lang in LANGUAGES.values() if lang.shipped and lang.locale != "en"}
    assert shipped == {"zh_Hant", "zh_Hans", "fr"}
    assert {locale for _catalog, locale in LOCALES} == shipped


def test_template_matches_sources(tmp_path: Path) -> None:
    fresh = tmp_path / "messages.pot"
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg", "-k", "_l",
         "-k", "lazy_gettext", "-k", "lazy_pgettext:1c,2", "--no-location", "-o", str(fresh), "."],
        cwd=ROOT, check=True, capture_output=True,
    )  # fmt: skip
    committed = _ids(CATALOGS[0] / "messages.pot")
    assert _ids(fresh) == committed, "run scripts/translations.sh update and translate the new strings"


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
