"""Fonts of the briefing PDFs and charts, and the missing-glyph check.

The PDFs embed (subsets of) a chain of fonts, tried in order for each
character by matplotlib's font fallback, with complex shaping by libraqm
(Arabic script joins and runs right to left):

* DejaVu Sans (shipped inside matplotlib): Latin with French, Greek,
  Cyrillic, Arabic script (Uyghur), Hebrew, Armenian, Georgian, and the
  typographic spaces and signs (U+00A0, U+202F, U+2212);
* Noto Sans CJK SC (Debian's ``fonts-noto-cjk``, installed by
  ``scripts/ci-setup.sh``; any path in :data:`CJK_FILES`): Chinese,
  Japanese and Korean, Traditional and Simplified;
* any further Noto font in :data:`EXTRA_FILES` that is installed (Debian's
  ``fonts-noto-core``: Tibetan, Mongolian).

A character that no font of the chain has would print as an empty box; the
build refuses it instead (:class:`MissingGlyphError`, naming the code point
and where it is), before anything is written or recorded.
"""

from __future__ import annotations

import threading
import unicodedata
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import matplotlib
from matplotlib import font_manager

#: Where Debian's fonts-noto-cjk puts the regular and bold collections.
CJK_FILES = (
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc"),
)
CJK_FAMILY = "Noto Sans CJK SC"
#: Scripts DejaVu and Noto CJK lack, when Debian's fonts-noto-core is there.
EXTRA_FILES = {
    "Noto Sans Tibetan": Path("/usr/share/fonts/truetype/noto/NotoSansTibetan-Regular.ttf"),
    "Noto Sans Mongolian": Path("/usr/share/fonts/truetype/noto/NotoSansMongolian-Regular.ttf"),
}
BASE_FAMILY = "DejaVu Sans"

_lock = threading.Lock()
_chain: tuple[str, ...] | None = None
_coverage: frozenset[int] | None = None


class MissingGlyphError(ValueError):
    """A character no font of the chain can draw. The message names the
    code point and the part of the briefing it is in, never the text around
    it."""

    def __init__(self, char: str, where: str) -> None:
        self.char = char
        self.where = where
        super().__init__(
            f"no font of the PDF has a glyph for {describe(char)} in {where}: it would print as an "
            f"empty box. Fonts: {', '.join(chain())}. Edit that text, or install a font that has "
            "the character (docs/briefings.md, 'Fonts')."
        )


def describe(char: str) -> str:
    """``U+E000 (a private-use character)`` / ``U+4E2D CJK UNIFIED IDEOGRAPH-4E2D``."""
    code = f"U+{ord(char):04X}"
    category = unicodedata.category(char)
    if category == "Co":
        return f"{code} (a private-use character)"
    if category == "Cn":
        return f"{code} (unassigned in Unicode {unicodedata.unidata_version})"
    return f"{code} {unicodedata.name(char, '')}".rstrip()


def chain() -> tuple[str, ...]:
    """The font families tried for each character, in order (registers the
    installed ones with matplotlib on first use)."""
    global _chain
    with _lock:
        if _chain is None:
            families = [BASE_FAMILY]
            cjk = [p for p in CJK_FILES if p.is_file()]
            for path in cjk:
                font_manager.fontManager.addfont(str(path))
            if cjk:
                families.append(CJK_FAMILY)
            for family, path in EXTRA_FILES.items():
                if path.is_file():
                    font_manager.fontManager.addfont(str(path))
                    families.append(family)
            _chain = tuple(families)
        _settings(_chain)
        return _chain


def _settings(families: tuple[str, ...]) -> None:
    # Set once for the process, not in an rc_context: the console may render
    # two briefings at once on two threads, and a context restored by one
    # would pull the fonts from under the other. Only briefings use
    # matplotlib in this process.
    matplotlib.rcParams["font.family"] = list(families)
    matplotlib.rcParams["pdf.fonttype"] = 3  # glyph outlines embedded (Type 3), text extractable
    matplotlib.rcParams["axes.unicode_minus"] = True


def coverage() -> frozenset[int]:
    """Code points some font of the chain maps to a glyph (regular weight)."""
    global _coverage
    families = chain()
    with _lock:
        if _coverage is None:
            points: set[int] = set()
            for family in families:
                path = font_manager.findfont(
                    font_manager.FontProperties(family=family), fallback_to_default=False
                )
                points.update(font_manager.get_font(path).get_charmap())
            _coverage = frozenset(points)
        return _coverage


def _needs_glyph(char: str) -> bool:
    """False for what is laid out, not drawn: controls, format characters
    (joiners, direction marks), line and paragraph separators, variation
    selectors."""
    if unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp"):
        return False
    code = ord(char)
    return not (0xFE00 <= code <= 0xFE0F or 0xE0100 <= code <= 0xE01EF)


def check(texts: Iterable[tuple[str, str]]) -> None:
    """Refuse any character no font of the chain has.

    Args:
        texts: ``(where, text)`` pairs; ``where`` names the part of the
            briefing for the message ("the accounts released with consent").

    Raises:
        MissingGlyphError: the first such character, with where it is.
    """
    have = coverage()
    for where, text in texts:
        for char in text:
            if ord(char) not in have and _needs_glyph(char):
                raise MissingGlyphError(char, where)


@contextmanager
def drawing(where: str = "the briefing") -> Iterator[None]:
    """Matplotlib set to the chain (TrueType embedding in PDF), with its own
    missing-glyph warning turned into :class:`MissingGlyphError`: a net
    under :func:`check` for text drawn that was not checked (a bold face
    that lacks a character the regular one has)."""
    _settings(chain())
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=r"Glyph \d+ .* missing from font", category=UserWarning)
        try:
            yield
        except UserWarning as exc:
            code = _code_of(str(exc))
            if code is None:
                raise
            raise MissingGlyphError(chr(code), where) from None


def _code_of(message: str) -> int | None:
    """The code point of matplotlib's "Glyph 57344 (…) missing from font(s) …"."""
    parts = message.split()
    if len(parts) > 1 and parts[0] == "Glyph" and parts[1].isdigit() and "missing from font" in message:
        return int(parts[1])
    return None
