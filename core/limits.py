"""Size limits on a report's files, shared by both paths (browser sealing
and server sealing) and shown to the reporter.

Settings (``INTAKE_*`` or the instance config), all in bytes:

``MAX_FILE_SIZE``
    One file, before padding. Default: 50 MiB, or less if
    ``MAX_CONTENT_LENGTH`` is smaller.
``MAX_TOTAL_FILE_SIZE``
    All files of one report together, before padding. Default: what still
    fits ``MAX_CONTENT_LENGTH`` once padded, i.e. ``(MAX_CONTENT_LENGTH -
    1 MiB) * 8 / 9``: Padmé adds at most 12 % (docs/envelope.md section 8),
    STREAM tags 16 bytes per 64 KiB, and the 1 MiB margin holds the body,
    the header and the multipart framing. With the default 64 MiB request
    limit that is 56 MiB.

The server can check only padded sizes (the real ones are sealed), so a
browser upload is held to the padded equivalents of these limits.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from core.envelope import padme
from core.envelope.format import MAX_ATTACHMENTS

MIB = 1024 * 1024
DEFAULT_MAX_FILE_SIZE = 50 * MIB
#: Room in a request for the body, the header and multipart framing.
REQUEST_MARGIN = MIB
#: Largest padded body the intake accepts from a browser: the narrative is at
#: most 100,000 characters (4 bytes each at worst) plus 64 file entries.
MAX_BODY_SIZE = MIB


@dataclass(frozen=True)
class UploadLimits:
    """Limits on a report's files, in bytes (real sizes, before padding)."""

    max_file: int
    max_total: int
    max_files: int = MAX_ATTACHMENTS

    @property
    def max_padded_file(self) -> int:
        """The largest padded size a single file under the limit can have."""
        return padme(self.max_file)

    @property
    def max_padded_total(self) -> int:
        """A bound on the padded sizes of files within the total limit
        (Padmé adds less than 1/8)."""
        return self.max_total + self.max_total // 8


def current_limits() -> UploadLimits:
    """The running app's limits (see the module docstring)."""
    config = current_app.config
    request_limit = int(config.get("MAX_CONTENT_LENGTH") or 64 * MIB)
    fits = max(0, (request_limit - REQUEST_MARGIN) * 8 // 9)
    max_total = int(config.get("MAX_TOTAL_FILE_SIZE") or fits)
    max_file = int(config.get("MAX_FILE_SIZE") or min(DEFAULT_MAX_FILE_SIZE, max_total))
    return UploadLimits(max_file=max_file, max_total=max_total)


def megabytes(size: int) -> str:
    """A size for people, in whole MB (MiB), rounded down, at least 1."""
    return str(max(1, size // MIB))


def size_text(size: int) -> str:
    """A file's size for the reporter, in the page's language: kB under
    1 MB (at least 1), else MB with one decimal (1 kB = 1024 bytes, as
    :func:`megabytes`). js/form.js formats the browser path alike."""
    from flask_babel import format_decimal, gettext

    if size < MIB:
        return str(gettext("%(size)s kB", size=format_decimal(max(1, -(-size // 1024)), format="#,##0")))
    # One decimal, rounded down like the browser path.
    return str(gettext("%(size)s MB", size=format_decimal(size * 10 // MIB / 10, format="#,##0.#")))
