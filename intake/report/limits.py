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

What one receipt and the whole disk may take (docs/deployment.md, "Floods"):

``FOLLOWUP_DAILY_COUNT``, ``FOLLOWUP_DAILY_BYTES``
    Follow-ups one report may receive per day, and their stored bytes
    (header, body and attachments, as sealed). Counted over follow-ups
    dated yesterday, today and tomorrow (the days an upload may carry),
    inside the transaction that stores the next one, so parallel uploads
    under one receipt cannot pass the quota together. Defaults: 20 and
    256 MiB.
``MIN_FREE_DISK``
    Bytes that must stay free on the data folder's file system once an
    upload is stored; an upload that would go below is refused with a
    message that keeps what the reporter wrote. Default: 1 GiB. With
    PostgreSQL on another machine, set the same floor there (the
    database's own disk is not visible from here).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass

from flask import current_app
from flask_babel import gettext as _

from ..envelope import padme
from ..envelope.format import MAX_ATTACHMENTS

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


DEFAULT_FOLLOWUP_DAILY_COUNT = 20
DEFAULT_FOLLOWUP_DAILY_BYTES = 256 * MIB
DEFAULT_MIN_FREE_DISK = 1024 * MIB


def followup_quota() -> tuple[int, int]:
    """``(count, bytes)``: what one report may receive in follow-ups per
    day (``FOLLOWUP_DAILY_COUNT``, ``FOLLOWUP_DAILY_BYTES``)."""
    config = current_app.config
    return (
        int(config.get("FOLLOWUP_DAILY_COUNT") or DEFAULT_FOLLOWUP_DAILY_COUNT),
        int(config.get("FOLLOWUP_DAILY_BYTES") or DEFAULT_FOLLOWUP_DAILY_BYTES),
    )


def disk_has_room(size: int) -> bool:
    """Whether ``size`` more bytes leave at least ``MIN_FREE_DISK`` bytes
    free on the file system of the data folder (where SQLite and the
    ``files`` blob store write). True when the free space cannot be read:
    the store's own errors still stop a write that fails."""
    floor = current_app.config.get("MIN_FREE_DISK")
    floor = DEFAULT_MIN_FREE_DISK if floor is None else int(floor)
    try:
        free = shutil.disk_usage(current_app.config["DATA_DIR"]).free
    except OSError:
        return True
    return free - size >= floor


def disk_full_message() -> str:
    """What a reporter reads when the disk floor refuses an upload."""
    return str(
        _(
            "This service cannot store anything more right now. Nothing was sent, and what you "
            "wrote is still here. Please keep a copy and try again later."
        )
    )


def quota_message() -> str:
    """What a reporter reads when a report's daily follow-up quota is used."""
    return str(
        _(
            "A lot has been added to this report today. Nothing was sent, and what you wrote is "
            "still here. Please keep a copy and try again tomorrow."
        )
    )
