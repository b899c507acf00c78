"""A request class that never writes an upload to disk.

Werkzeug's default stream factory spools a multipart file part larger than
500 KiB to a temporary file. On the no-JavaScript path those parts are the
reporter's plaintext attachments, so that spool would break invariant 1 (no
plaintext at rest on the intake). Here every file part goes to memory; the
total is bounded by ``MAX_CONTENT_LENGTH``, and the server seals it before the
request ends.
"""

from __future__ import annotations

import io
from typing import IO

from flask import Request


class InMemoryRequest(Request):
    """``flask.Request`` whose multipart file parts are held in ``BytesIO``."""

    def _get_file_stream(
        self,
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None = None,
        content_length: int | None = None,
    ) -> IO[bytes]:
        return io.BytesIO()
