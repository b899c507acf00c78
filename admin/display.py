"""Showing untrusted text to reviewers.

Everything in a report comes from anyone. Autoescaping stops markup, but not
Unicode that changes how text *looks*: a right-to-left override (U+202E) turns
``invoice\\u202Egnp.exe`` into "invoiceexe.png" on screen, and zero-width or
other format characters hide or join text. Here such characters are made
visible as ``⟨U+202E⟩``, and very long values are cut, so a reviewer sees what
was actually sent (Unicode Technical Report #36, "Unicode Security
Considerations", section 2.1, bidirectional text spoofing).
"""

from __future__ import annotations

import unicodedata

#: Kept as they are: line breaks and tabs in a narrative are meant.
_ALLOWED_CONTROLS = {"\n", "\t"}


def visible_controls(text: object, limit: int | None = None) -> str:
    """``text`` with every control (Unicode category Cc, except newline and
    tab) and format character (Cf: bidi embeddings, overrides and isolates,
    zero-width characters) replaced by a visible ``⟨U+XXXX⟩`` marker, then
    cut to ``limit`` characters with "…" when longer."""
    out = []
    for ch in str(text):
        if ch not in _ALLOWED_CONTROLS and unicodedata.category(ch) in ("Cc", "Cf"):
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
