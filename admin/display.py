"""Showing untrusted text to reviewers.

Everything in a report comes from anyone. Autoescaping stops markup, but not
Unicode that changes how text *looks*: a right-to-left override (U+202E) turns
``invoice\\u202Egnp.exe`` into "invoiceexe.png" on screen, and zero-width or
other format characters hide or join text. Here such characters are made
visible as ``⟨U+202E⟩``, and very long values are cut, so a reviewer sees what
was actually sent (Unicode Technical Report #36, "Unicode Security
Considerations", section 2.1, bidirectional text spoofing).

One exception: a zero-width joiner (U+200D) between two emoji is how emoji
are composed (a family, a profession, a flag: Unicode Technical Standard #51,
"emoji ZWJ sequences"), so it passes there; marking it would break every
family emoji into ``👨⟨U+200D⟩👩⟨U+200D⟩👧``. Everywhere else (between letters,
at either end) it is marked like any other invisible character.
"""

from __future__ import annotations

import unicodedata
from urllib.parse import quote

from werkzeug.utils import secure_filename

#: Kept as they are: line breaks and tabs in a narrative are meant.
_ALLOWED_CONTROLS = {"\n", "\t"}
#: Unicode categories made visible: controls, format characters (bidi,
#: zero-width), and the line and paragraph separators U+2028 and U+2029,
#: which a terminal or an editor may break a line on.
_MARKED = ("Cc", "Cf", "Zl", "Zp")

_ZWJ = "\u200d"
_EMOJI_PRESENTATION = "\ufe0f"  # variation selector 16
#: Code point ranges of Extended_Pictographic (Unicode emoji-data.txt) that
#: are not all category So in this Python's Unicode database: the emoji
#: planes hold code points reserved for future emoji (Cn today, a newer
#: emoji tomorrow), and a few pictographs are punctuation (‼ U+203C,
#: ⁉ U+2049). Skin tones U+1F3FB–U+1F3FF (category Sk) fall in the first.
_PICTOGRAPHIC_RANGES = ((0x1F000, 0x1FAFF), (0x1FC00, 0x1FFFD), (0x203C, 0x203C), (0x2049, 0x2049))


def _emoji_like(ch: str) -> bool:
    """Whether ``ch`` can stand next to a joiner in an emoji ZWJ sequence:
    an Extended_Pictographic code point (approximated by category So plus
    :data:`_PICTOGRAPHIC_RANGES`, since the standard library has no emoji
    properties), a skin tone modifier, or the emoji variation selector."""
    if ch == _EMOJI_PRESENTATION or unicodedata.category(ch) == "So":
        return True
    point = ord(ch)
    return any(low <= point <= high for low, high in _PICTOGRAPHIC_RANGES)


def _joins_emoji(text: str, index: int) -> bool:
    """Whether the ZWJ at ``text[index]`` has an emoji-like character on
    both sides (rule above). Only the immediate neighbours count, so a
    joiner cannot hide between letters, at an end, or next to another
    invisible character."""
    return 0 < index < len(text) - 1 and _emoji_like(text[index - 1]) and _emoji_like(text[index + 1])


def visible_controls(text: object, limit: int | None = None) -> str:
    """``text`` with every control (Unicode category Cc, except newline and
    tab), format character (Cf: bidi embeddings, overrides and isolates,
    zero-width characters) and line or paragraph separator (Zl, Zp: U+2028,
    U+2029) replaced by a visible ``⟨U+XXXX⟩`` marker, then
    cut to ``limit`` characters with "…" when longer.

    A zero-width joiner between two emoji-like characters (an emoji, a skin
    tone, U+FE0F) is kept, so that ZWJ sequences such as 👨‍👩‍👧 show as one
    emoji."""
    text = str(text)
    out = []
    for index, ch in enumerate(text):
        if ch == _ZWJ and _joins_emoji(text, index):
            out.append(ch)
        elif ch not in _ALLOWED_CONTROLS and unicodedata.category(ch) in _MARKED:
            out.append(f"⟨U+{ord(ch):04X}⟩")
        else:
            out.append(ch)
    result = "".join(out)
    if limit is not None and len(result) > limit:
        result = result[: limit - 1] + "…"
    return result


def safe_download_name(name: str, fallback: str, limit: int = 150) -> str:
    """A file name for ``Content-Disposition: filename*``: controls and format
    characters replaced by ``_`` (so the saved file's name cannot spoof its
    type), path separators removed, at most ``limit`` characters."""
    cleaned = "".join(
        "_" if unicodedata.category(ch) in ("Cc", "Cf") or ch in "/\\" else ch for ch in name
    ).strip(". ")
    return cleaned[:limit] or fallback


def content_disposition(
    name: str, fallback_stem: str, *, suffix: str = "", extension: str | None = None
) -> str:
    """A ``Content-Disposition: attachment`` header value for a file the
    reporter named ``name``: ``filename*`` (RFC 6266, RFC 5987 UTF-8) with
    :func:`safe_download_name`'s cleaning, and a plain ``filename`` fallback
    of ASCII letters, digits, ``-``, ``_`` and ``.`` for old clients.

    The extension survives both: a name cut to 150 characters keeps it,
    and a name with no ASCII stem (``威脅截圖.png``) falls back to
    ``fallback_stem`` with it (``attachment-0.png``), never to ``png``.
    ``suffix`` goes between stem and extension (``-redacted``);
    ``extension``, when given, replaces the name's own (a redacted JPEG
    may be a PNG).
    """
    raw_stem, dot, own = name.rpartition(".")
    if not dot or not own.isascii() or not own.isalnum() or len(own) > 10:
        raw_stem, own = name, ""
    # Cut below, with the extension kept; a name that is only an extension
    # (".png") has the fallback as its stem.
    stem = safe_download_name(raw_stem, fallback_stem, limit=len(raw_stem) + 1)
    ext = extension if extension is not None else own
    tail = f"{suffix}.{ext}" if ext else suffix
    full = stem[: max(1, 150 - len(tail))] + tail
    ascii_stem = secure_filename(stem)[: max(1, 150 - len(tail))]
    if not ascii_stem or ascii_stem == secure_filename(own):
        ascii_stem = fallback_stem
    return f"attachment; filename=\"{ascii_stem}{tail}\"; filename*=UTF-8''{quote(full, safe='')}"
