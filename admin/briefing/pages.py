"""The furniture of a briefing note, Government of Canada style: the
security classification at the head and foot of every page, "page X of Y",
the date of issue, the issuing organization(s) and a contact; and line
breaking that knows Chinese, Japanese and Korean have no spaces.

Settings (``admin/config.py``, docs/briefings.md): ``BRIEFING_CLASSIFICATION``,
``BRIEFING_ISSUED_BY`` and ``BRIEFING_CONTACT``.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from matplotlib.figure import Figure

from .numbers import long_date, number

#: The marking of an unclassified note, in both official languages (Treasury
#: Board, Policy on Government Security: unclassified information carries
#: no marking of sensitivity, and a bilingual "UNCLASSIFIED / NON
#: CLASSIFIÉ" says so explicitly on a note that travels).
DEFAULT_CLASSIFICATION = "UNCLASSIFIED / NON CLASSIFIÉ"

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "page": "page {page} of {pages}",
        "issued": "Issued {date}",
        "issued_by": "Issued by: {orgs}",
        "date": "Date of issue: {date}",
        "contact": "Contact: {contact}",
    },
    "fr": {
        "page": "page {page} de {pages}",
        "issued": "Publiée le {date}",
        "issued_by": "Publiée par : {orgs}",
        "date": "Date de publication : {date}",
        "contact": "Personne-ressource : {contact}",
    },
}


def _per_language(value: Any, lang: str) -> str | None:
    """A setting that is one value, a list (joined with "; "), or a mapping
    of language -> one of those ("en" is the fallback)."""
    if isinstance(value, Mapping):
        value = value.get(lang, value.get("en"))
    if value is None:
        return None
    if isinstance(value, list | tuple):
        value = "; ".join(str(v).strip() for v in value if str(v).strip())
    text = str(value).strip()
    return text or None


@dataclass(frozen=True, slots=True)
class Issue:
    """Who issues a note, when, under what marking, and whom to ask.

    ``issued_by`` and ``contact`` are per language (``en``, ``fr``);
    ``contact`` may be empty (then no contact line is printed and the
    command warns).
    """

    issued: date
    classification: Mapping[str, str]
    issued_by: Mapping[str, str]
    contact: Mapping[str, str]

    @classmethod
    def from_config(cls, config: Mapping[str, Any], issued: date | None = None) -> Issue:
        """From the console's settings; ``issued`` defaults to today (UTC).

        ``BRIEFING_ISSUED_BY`` unset falls back to ``REPLY_FROM`` (the
        organization's public name)."""
        by = config.get("BRIEFING_ISSUED_BY") or config.get("REPLY_FROM") or "TNR Intake"
        marking = config.get("BRIEFING_CLASSIFICATION") or DEFAULT_CLASSIFICATION
        contact = config.get("BRIEFING_CONTACT")
        langs = ("en", "fr")
        return cls(
            issued=issued or datetime.now(UTC).date(),
            classification={lang: _per_language(marking, lang) or DEFAULT_CLASSIFICATION for lang in langs},
            issued_by={lang: _per_language(by, lang) or "TNR Intake" for lang in langs},
            contact={lang: c for lang in langs if (c := _per_language(contact, lang))},
        )

    @classmethod
    def current(cls, issued: date | None = None) -> Issue:
        """From the running app's settings (the defaults outside an app)."""
        from flask import current_app, has_app_context

        from ..config import DEFAULTS

        return cls.from_config(current_app.config if has_app_context() else DEFAULTS, issued)

    def lines(self, lang: str) -> list[str]:
        """The note's heading block: issued by, date of issue, contact."""
        tx = TEXT[lang]
        out = [
            tx["issued_by"].format(orgs=self.issued_by[lang]),
            tx["date"].format(date=long_date(self.issued, lang)),
        ]
        if lang in self.contact:
            out.append(tx["contact"].format(contact=self.contact[lang]))
        return out

    def footer(self, lang: str) -> str:
        return TEXT[lang]["issued"].format(date=long_date(self.issued, lang))

    def texts(self, lang: str) -> list[str]:
        """Every string the furniture prints (for the glyph check)."""
        return [self.classification[lang], self.footer(lang), *self.lines(lang)]


def page_label(page: int, pages: int, lang: str) -> str:
    """``page 2 of 7`` / ``page 2 de 7``."""
    return TEXT[lang]["page"].format(page=number(page, lang), pages=number(pages, lang))


def stamp(fig: Figure, page: int, pages: int, issue: Issue, lang: str, draft: str | None) -> None:
    """Draw the furniture on one page of the note (the body keeps between
    8% and 92% of the height): the marking centred at the head and foot,
    the date of issue and "page X of Y" above the foot's marking, and a
    draft's mark inside them."""
    marking = issue.classification[lang]
    fig.text(0.5, 0.985, marking, ha="center", va="top", fontsize=9, weight="bold", parse_math=False)
    fig.text(0.5, 0.012, marking, ha="center", va="bottom", fontsize=9, weight="bold", parse_math=False)
    fig.text(0.08, 0.033, issue.footer(lang), ha="left", va="bottom", fontsize=8, parse_math=False)
    fig.text(
        0.92, 0.033, page_label(page, pages, lang), ha="right", va="bottom", fontsize=8, parse_math=False
    )
    if draft:
        for y, va in ((0.966, "top"), (0.052, "bottom")):
            fig.text(0.5, y, draft, ha="center", va=va, fontsize=10, weight="bold", parse_math=False)


def _columns(char: str) -> int:
    """Columns a character takes: two for wide (CJK) ones, none for
    combining marks and format characters."""
    if unicodedata.combining(char) or unicodedata.category(char) in ("Cf", "Mn", "Me"):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def _breakable(char: str) -> bool:
    """A line may break before or after a wide character (CJK text has no
    spaces), except before closing punctuation."""
    return unicodedata.east_asian_width(char) in ("W", "F")


#: Spaces a line never breaks at: French thousands and "12 %", "« x »".
_NO_BREAK_SPACES = frozenset("\u00a0\u202f\u2007")
_NO_BREAK_BEFORE = frozenset("，。、；：！？）」』】〉》”’…,.;:!?)")


def _pieces(text: str) -> list[str]:
    """Split ``text`` into the units a line may break between: words,
    single wide characters (closing punctuation kept with what it closes),
    and single spaces."""
    pieces: list[str] = []
    word = ""
    for char in text:
        if char.isspace() and char not in _NO_BREAK_SPACES:
            if word:
                pieces.append(word)
                word = ""
            pieces.append(" ")
        elif _breakable(char) and char not in _NO_BREAK_BEFORE:
            if word:
                pieces.append(word)
            pieces.append(char)
            word = ""
        elif char in _NO_BREAK_BEFORE and not word and pieces and pieces[-1] != " ":
            pieces[-1] += char  # keep closing punctuation with what it closes
        else:
            word += char
    if word:
        pieces.append(word)
    return pieces


def _head(piece: str, width: int) -> tuple[str, int]:
    """The longest start of ``piece`` that fits ``width`` columns (at least
    one character, for a line narrower than one), and its columns."""
    cut, cols = "", 0
    for c in piece:
        if cols + _columns(c) > width:
            break
        cut, cols = cut + c, cols + _columns(c)
    if not cut:  # a line narrower than one character
        cut, cols = piece[0], _columns(piece[0])
    return cut, cols


def wrap(text: str, width: int) -> list[str]:
    """Break ``text`` into lines of at most ``width`` columns (a wide
    character counts two): at spaces, and between wide characters.

    A word longer than a line is cut. Returns ``[""]`` for empty text.
    """
    lines: list[str] = []
    line, used = "", 0
    for piece in _pieces(text):
        size = sum(_columns(c) for c in piece)
        if piece == " ":
            if line:
                line, used = line + " ", used + 1
            continue
        if used + size > width and line.strip():
            lines.append(line.rstrip())
            line, used = "", 0
        while size > width:  # a word longer than a line
            cut, cols = _head(piece, width)
            lines.append(cut)
            piece = piece[len(cut) :]
            size -= cols
        line, used = line + piece, used + size
    if line.strip() or not lines:
        lines.append(line.rstrip())
    return lines
