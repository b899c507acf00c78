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

Text over the form limits, on the same form posts: Werkzeug refuses a
multipart text field over ``MAX_FORM_MEMORY_SIZE`` or more than
``MAX_FORM_PARTS`` parts with a 413 (the reporter saw "The files are too
large" and lost the narrative), and reads a URL-encoded body whole into
memory. :class:`LimitedFormParser` keeps the first ``MAX_FORM_MEMORY_SIZE``
bytes of each field (``MAX_FORM_TEXT_FACTOR`` times that for all fields
together) and the first ``MAX_FORM_PARTS`` parts, drops the rest as it
arrives, and notes which limit was reached (:func:`form_limit`); the view
shows the form again with what was kept and says so.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import IO, Any
from urllib.parse import parse_qsl, unquote_to_bytes

from flask import Request, current_app, request
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.formparser import FormDataParser, MultiPartParser
from werkzeug.sansio.multipart import Data, Epilogue, Field, File, MultipartDecoder, NeedData

from core.envelope import AttachmentInput

#: Endpoints of the plain form posts that carry files (report, follow-up).
FORM_ENDPOINTS = frozenset({"report.form", "followup.add"})
#: How much larger than ``MAX_CONTENT_LENGTH`` such a post may be read.
OVERSIZE_READ_FACTOR = 4
#: All text fields of such a post together may hold this many times
#: ``MAX_FORM_MEMORY_SIZE``; past it, fields are dropped.
MAX_FORM_TEXT_FACTOR = 2
#: A field longer than ``MAX_FORM_MEMORY_SIZE`` (its beginning is kept).
FIELD_TOO_LONG = "field_too_long"
#: More parts than ``MAX_FORM_PARTS`` (the first ones are kept).
TOO_MANY_FIELDS = "too_many_fields"


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

    def make_form_data_parser(self) -> FormDataParser:
        """On :data:`FORM_ENDPOINTS`, a :class:`LimitedFormParser` whose
        budget records the limit reached (:func:`form_limit`)."""
        if not (current_app and self._form_post()):
            return super().make_form_data_parser()
        field_bytes = int(self.max_form_memory_size or 1024 * 1024)
        budget = _TextBudget(
            field_bytes=field_bytes,
            total_bytes=field_bytes * MAX_FORM_TEXT_FACTOR,
            parts=int(self.max_form_parts or 1000),
        )
        self._form_budget = budget
        return LimitedFormParser(
            budget,
            stream_factory=self._get_file_stream,
            max_form_memory_size=self.max_form_memory_size,
            max_content_length=self.max_content_length,
            cls=self.parameter_storage_class,
        )

    @property
    def form_limit(self) -> str | None:
        """The form limit this post reached, or None (parses the form)."""
        _ = self.form
        budget = getattr(self, "_form_budget", None)
        return budget.reached if budget is not None else None

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
            from core.limits import current_limits  # the report package imports this module's app

            self._allowance = _Allowance(current_limits().max_total + 1)
        return CappedFileBuffer(self._allowance)


def form_limit() -> str | None:
    """Which form limit the current request's body reached
    (:data:`FIELD_TOO_LONG` or :data:`TOO_MANY_FIELDS`), or None. Reading
    it parses the form."""
    return request.form_limit if isinstance(request, InMemoryRequest) else None


class _TextBudget:
    """Limits on the text fields of one form post, and the first limit
    reached (set on the request by :meth:`InMemoryRequest.make_form_data_parser`)."""

    def __init__(self, field_bytes: int, total_bytes: int, parts: int) -> None:
        self.field_bytes = field_bytes
        self.total_bytes = total_bytes
        self.parts = parts
        self.reached: str | None = None

    def note(self, limit: str) -> None:
        self.reached = self.reached or limit


def _drain(stream: IO[bytes], chunk: int = 64 * 1024) -> None:
    """Read the rest of a request body and drop it, so the answer is not
    sent while the client is still sending (which can reset the
    connection before the answer is read)."""
    for _data in iter(lambda: stream.read(chunk), b""):
        pass


def _decode_kept(data: bytes, charset: str, truncated: bool) -> str:
    text = data.decode(charset, "replace")
    # A value cut at the byte limit may end inside a character.
    return text.rstrip("\ufffd") if truncated else text


class LimitedMultiPartParser(MultiPartParser):
    """Werkzeug's multipart parser, except that text over the
    :class:`_TextBudget` is dropped and noted rather than refused (413)."""

    def __init__(self, budget: _TextBudget, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.budget = budget

    def parse(
        self, stream: IO[bytes], boundary: bytes, content_length: int | None
    ) -> tuple[MultiDict[str, str], MultiDict[str, FileStorage]]:
        """Parse ``stream`` (see :class:`werkzeug.formparser.MultiPartParser`)."""
        budget = self.budget
        # The decoder's memory limit bounds its buffer of unparsed bytes
        # (one read), not a field: fields are bounded below.
        decoder = MultipartDecoder(boundary, max_form_memory_size=self.max_form_memory_size)
        fields: list[tuple[str, str]] = []
        files: list[tuple[str, FileStorage]] = []
        text_total = 0
        parts = 0
        part: Field | File | None = None
        kept: list[bytes] = []
        kept_size = 0
        truncated = False
        container: IO[bytes] | None = None
        for data in iter(lambda: stream.read(self.buffer_size), b""):
            decoder.receive_data(data)
            event = decoder.next_event()
            while not isinstance(event, Epilogue | NeedData):
                if isinstance(event, Field | File):
                    parts += 1
                    if parts > budget.parts:
                        # Nothing past here is kept: stop decoding (a body
                        # of millions of empty parts costs only the read).
                        budget.note(TOO_MANY_FIELDS)
                        _drain(stream, self.buffer_size)
                        return self.cls(fields), self.cls(files)
                    part = event
                    kept, kept_size, truncated = [], 0, False
                    container = None
                    if isinstance(part, File):
                        container = self.start_file_streaming(part, content_length)
                elif isinstance(event, Data) and part is not None:
                    if container is not None:
                        container.write(event.data)
                    else:
                        room = min(budget.field_bytes - kept_size, budget.total_bytes - text_total)
                        if len(event.data) > room:
                            truncated = True
                            budget.note(FIELD_TOO_LONG)
                        piece = event.data[: max(0, room)]
                        kept.append(piece)
                        kept_size += len(piece)
                        text_total += len(piece)
                    if not event.more_data:
                        if isinstance(part, File) and container is not None:
                            container.seek(0)
                            files.append(
                                (
                                    part.name,
                                    FileStorage(container, part.filename, part.name, headers=part.headers),
                                )
                            )
                        elif isinstance(part, Field):
                            charset = self.get_part_charset(part.headers)
                            fields.append((part.name, _decode_kept(b"".join(kept), charset, truncated)))
                        part = None
                event = decoder.next_event()
        return self.cls(fields), self.cls(files)


def _urlencoded_pairs(
    stream: IO[bytes], budget: _TextBudget, chunk: int = 64 * 1024
) -> Iterator[tuple[bytes, bool]]:
    """The ``&``-separated pairs of a URL-encoded body, read ``chunk`` bytes
    at a time, each with whether it was cut: past three times the budget's
    field limit (percent-encoding may triple a field's bytes) the rest of a
    pair is dropped as it arrives."""
    limit = 3 * budget.field_bytes
    current = bytearray()
    cut = False
    for data in iter(lambda: stream.read(chunk), b""):
        for i, piece in enumerate(data.split(b"&")):
            if i:
                yield bytes(current), cut
                current, cut = bytearray(), False
            room = limit - len(current)
            if len(piece) > room:
                cut = True
            current += piece[: max(0, room)]
    if current or cut:
        yield bytes(current), cut


class LimitedFormParser(FormDataParser):
    """The form parser of the form posts: multipart by
    :class:`LimitedMultiPartParser`, URL-encoded pair by pair within the same
    :class:`_TextBudget` (never the whole body in memory)."""

    def __init__(self, budget: _TextBudget, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.budget = budget

    def _parse_multipart(
        self, stream: IO[bytes], mimetype: str, content_length: int | None, options: dict[str, str]
    ) -> Any:
        parser = LimitedMultiPartParser(
            self.budget,
            stream_factory=self.stream_factory,
            max_form_memory_size=self.max_form_memory_size,
            cls=self.cls,
        )
        boundary = options.get("boundary", "").encode("ascii")
        if not boundary:
            raise ValueError("Missing boundary")
        form, files = parser.parse(stream, boundary, content_length)
        return stream, form, files

    def _parse_urlencoded(
        self, stream: IO[bytes], mimetype: str, content_length: int | None, options: dict[str, str]
    ) -> Any:
        budget = self.budget
        items: list[tuple[str, str]] = []
        total = empty = 0
        for pair, cut in _urlencoded_pairs(stream, budget):
            if not pair:
                # A browser sends no empty pairs; a body of nothing but "&"
                # must not cost a loop turn per byte.
                empty += 1
                if empty > budget.parts:
                    budget.note(TOO_MANY_FIELDS)
                    _drain(stream)
                    break
                continue
            if len(items) >= budget.parts:
                budget.note(TOO_MANY_FIELDS)
                _drain(stream)
                break
            if total + len(pair) > 3 * budget.total_bytes:
                budget.note(FIELD_TOO_LONG)
                continue
            total += len(pair)
            if not cut:
                # As Werkzeug decodes a URL-encoded body.
                items.extend(
                    parse_qsl(
                        pair.decode("utf-8", "replace"), keep_blank_values=True, errors="werkzeug.url_quote"
                    )
                )
                continue
            budget.note(FIELD_TOO_LONG)
            name, _sep, value = pair.partition(b"=")
            raw = unquote_to_bytes(re.sub(rb"%[0-9A-Fa-f]?$", b"", value).replace(b"+", b" "))
            # The cut may fall inside a %XX escape or a character.
            items.append(
                (unquote_to_bytes(name).decode("utf-8", "replace"), _decode_kept(raw, "utf-8", True))
            )
        return stream, self.cls(items), self.cls()


def file_size(file: FileStorage) -> int:
    """Byte length of an uploaded file (held in memory, see uploads.py)."""
    stream = file.stream
    position = stream.tell()
    stream.seek(0, 2)
    size = stream.tell()
    stream.seek(position)
    return size


def chosen_files(files: list[FileStorage] | None) -> list[FileStorage]:
    """The files actually chosen: a browser sends one empty part when none."""
    # A text part named like the file field arrives as a str, not a file
    # (found by tests/hardening/test_fuzz.py): not a chosen file.
    return [f for f in files or [] if isinstance(f, FileStorage) and f.filename]


def attachment_inputs(files: list[FileStorage] | None) -> list[AttachmentInput]:
    """The chosen files (:func:`chosen_files`) as what :func:`core.envelope.seal`
    takes: name, media type (``application/octet-stream`` when the browser
    gave none) and bytes, read from memory (never a temporary file,
    core/uploads.py)."""
    return [
        AttachmentInput(
            name=file.filename or "",
            media_type=file.mimetype or "application/octet-stream",
            data=file.stream.read(),
        )
        for file in chosen_files(files)
    ]
