"""Numbers, signs and dates of a briefing, formatted per locale (Babel,
CLDR ``en_CA`` / ``fr_CA``), for text, tables and charts alike.

French typography: the thousands separator is the one CLDR gives for
``fr_CA`` (U+00A0 NO-BREAK SPACE; ``fr`` would give U+202F NARROW NO-BREAK
SPACE), the percent sign is preceded by U+00A0, and a negative number takes
U+2212 MINUS SIGN (CLDR's ``fr`` data has the hyphen-minus, which French
typesetting does not use for a sign). English follows CLDR ``en_CA``
(``1,234``, ``12%``, ``-3``). CSV files keep plain digits (``render.cell_text``
with ``lang=None``): they are for spreadsheets, not for reading.
"""

from __future__ import annotations

from datetime import date

from babel.dates import format_date
from babel.numbers import format_decimal, format_percent

LOCALES = {"en": "en_CA", "fr": "fr_CA"}
MINUS = "\u2212"
#: Languages whose typography writes a sign with U+2212, not U+002D.
_TYPOGRAPHIC_MINUS = frozenset({"fr"})


def _sign(text: str, lang: str) -> str:
    if lang in _TYPOGRAPHIC_MINUS:
        return text.replace("-", MINUS)
    return text


def number(n: float, lang: str) -> str:
    """``1,234`` / ``1 234`` (U+00A0), ``-3`` / ``−3`` (U+2212).

    Args:
        n: a count (or any number; floats keep Babel's default precision).
        lang: ``en`` or ``fr``.
    """
    return _sign(str(format_decimal(n, locale=LOCALES[lang])), lang)


def signed(n: int, lang: str) -> str:
    """A change with its sign always shown: ``+12`` / ``+12``, ``-3`` /
    ``−3``, ``0``."""
    text = number(n, lang)
    return f"+{text}" if n > 0 else text


def percent(share: float, lang: str) -> str:
    """``12%`` / ``12 %`` (U+00A0 before the sign), rounded to a whole
    percent (Babel)."""
    return _sign(str(format_percent(share, locale=LOCALES[lang])), lang)


def long_date(day: date, lang: str) -> str:
    """``December 7, 2026`` / ``7 décembre 2026`` (CLDR long date)."""
    return str(format_date(day, format="long", locale=LOCALES[lang]))
