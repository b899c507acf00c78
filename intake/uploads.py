"""A request class that never writes an upload to disk, and that keeps what
a reporter typed when the files are too large.

Werkzeug's default stream factory spools a multipart file part larger than
500 KiB to a temporary file. On the no-JavaScript path those parts are the
reporter's plaintext attachments, so that spool would break invariant 1 (no
plaintext at rest on the intake). Here every file part goes to memory; the
total is bounded by ``MAX_CONTENT_LENGTH``, and the server seals it before the
request ends.

Files too large, without JavaScript: a plain form post over
``MAX_CONTENT_LENGTH`` would be refused (413) before its text fields are
read, and everything the reporter typed would be lost (the pages are
``no-store``, so Back shows an empty form). On the form pages
(:data:`FORM_ENDPOINTS`) the body may therefore be up to
``OVERSIZE_READ_FACTOR`` times larger; file parts share one allowance of
``MAX_TOTAL_FILE_SIZE`` + 1 bytes in memory and what comes past it is
dropped as it arrives, never held. The form's own size check then sees
files over the limit and shows the form again, with the text kept and a
message to choose smaller files. Past the larger read limit the request is
still refused unread (413); nginx's ``client_max_body_size`` should match
it (docs/deployment.md).
"""

from __future__ import annotations

import io
from typing import IO

from flask import Request, current_app

#: Endpoints of the plain form posts that carry files (report, follow-up).
FORM_ENDPOINTS = frozenset({"report.form", "report.followup"})
#: How much larger than ``MAX_CONTENT_LENGTH`` such a post may be read.
OVERSIZE_READ_FACTOR = 4


class _Allowance:
    """Bytes of file content the request may still hold in memory."""

    __slots__ = ("remaining",)

    def __init__(self, remaining: int) -> None:
        self.remaining = remaining


class CappedFileBuffer(io.BytesIO):
    """A file part's in-memory buffer drawing on the request's shared
    :class:`_Allowance`: it keeps bytes while the allowance lasts, then
    drops them (and says it accepted them, so parsing goes on)."""

    def __init__(self, allowance: _Allowance) -> None:
        super().__init__()
        self._allowance = allowance
        #: Bytes that arrived past the allowance and were not kept.
        self.dropped = 0

    def write(self, data: bytes) -> int:  # type: ignore[override]
        keep = min(len(data), max(0, self._allowance.remaining))
        if keep:
            super().write(data[:keep])
            self._allowance.remaining -= keep
        self.dropped += len(data) - keep
        return len(data)


class InMemoryRequest(Request):
    """``flask.Request`` whose multipart file parts are held in memory; on
    :data:`FORM_ENDPOINTS`, within one shared allowance (module docstring)."""

    _allowance: _Allowance | None = None

    def _form_post(self) -> bool:
        return self.method == "POST" and self.endpoint in FORM_ENDPOINTS

    @property
    def max_content_length(self) -> int | None:
        """``MAX_CONTENT_LENGTH``, or :data:`OVERSIZE_READ_FACTOR` times it
        on the form posts that carry files."""
        limit = super().max_content_length
        if limit is not None and current_app and self._form_post():
            return limit * OVERSIZE_READ_FACTOR
        return limit

    @max_content_length.setter
    def max_content_length(self, value: int | None) -> None:
        self._max_content_length = value

    def _get_file_stream(
        self,
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None = None,
        content_length: int | None = None,
    ) -> IO[bytes]:
        if not (current_app and self._form_post()):
            return io.BytesIO()
        if self._allowance is None:
            from .report.limits import current_limits  # the report package imports this module's app

            self._allowance = _Allowance(current_limits().max_total + 1)
        return CappedFileBuffer(self._allowance)
