"""The multipart parts of a posted envelope, read and measured the same way
for both senders: a reporter's browser (:mod:`intake.report.received`) and a
console filing an interview (:mod:`intake.api.interview`). Each sender turns
a :class:`PartsRefused` into its own answer (a page or a JSON error)."""

from __future__ import annotations

from typing import Literal

from werkzeug.datastructures import FileStorage, MultiDict

from core.envelope import EnvelopeError, Header, parse_header
from core.envelope.format import TAG_SIZE
from core.limits import MAX_BODY_SIZE, UploadLimits

#: Bound of the header part, in bytes (a header is a few KiB).
MAX_HEADER_SIZE = 128 * 1024

Problem = Literal["missing", "oversize", "header", "too_large", "parts", "slot"]


class PartsRefused(Exception):
    """The parts cannot make an envelope.

    ``problem``: ``missing`` (a part is absent), ``oversize`` (the header
    part is over :data:`MAX_HEADER_SIZE`), ``header`` (it does not parse;
    the :class:`EnvelopeError` is the cause), ``too_large`` (the header
    declares more than the limits), ``parts`` (the part count or the body's
    length differs from the header), ``slot`` (an attachment's length
    differs from its slot).
    """

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem)
        self.problem: Problem = problem


def _read_part(part: FileStorage | None, limit: int | None = None) -> bytes:
    # The request is bounded by MAX_CONTENT_LENGTH and held in memory
    # (core/uploads.py); the header has a bound of its own.
    if part is None:
        raise PartsRefused("missing")
    data = part.stream.read() if limit is None else part.stream.read(limit + 1)
    if limit is not None and len(data) > limit:
        raise PartsRefused("oversize")
    return data


def read_parts(files: MultiDict[str, FileStorage]) -> tuple[bytes, Header, bytes, tuple[bytes, ...]]:
    """The ``header``, ``body`` and ``attachment`` parts of ``files``, in
    that order, with the header parsed.

    Returns:
        (raw header, parsed header, body, attachments).

    Raises:
        PartsRefused: ``missing``, ``oversize`` or ``header``.
    """
    raw_header = _read_part(files.get("header"), MAX_HEADER_SIZE)
    try:
        header = parse_header(raw_header)
    except EnvelopeError as exc:
        raise PartsRefused("header") from exc
    body = _read_part(files.get("body"))
    attachments = tuple(_read_part(part) for part in files.getlist("attachment"))
    return raw_header, header, body, attachments


def check_sizes(
    header: Header, body_length: int, attachment_lengths: list[int], limits: UploadLimits
) -> None:
    """Refuse a header over ``limits`` (``too_large``), and parts whose count
    or lengths differ from what the header declares (``parts``, ``slot``).

    Raises:
        PartsRefused: as above.
    """
    slots = header.attachments
    if (
        len(slots) > limits.max_files
        or header.body_size > MAX_BODY_SIZE
        or any(slot.size > limits.max_padded_file for slot in slots)
        or sum(slot.size for slot in slots) > limits.max_padded_total
    ):
        raise PartsRefused("too_large")
    if len(attachment_lengths) != len(slots) or body_length != header.body_size + TAG_SIZE:
        raise PartsRefused("parts")
    if any(length != slot.ciphertext_size for length, slot in zip(attachment_lengths, slots, strict=True)):
        raise PartsRefused("slot")
