"""Opening an API item into what a sync stores: a :class:`CaseRow` (the
envelope opened, its content sealed under the data key) or a
:class:`QuarantineRow` (why it did not open). Pure: no network, no disk,
no database. :func:`open_item` checks and opens the header and body with
the unlocked private keys and the pinned roster; the attachments are then
downloaded and verified by the caller (admin/sync/run.py, into
admin/attachments/blobs.py); :func:`case_row` makes the row.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from core.envelope import (
    AttachmentSlot,
    EnvelopeError,
    Header,
    MalformedEnvelopeError,
    RecipientPrivateKey,
    open_body,
    parse_header,
    unwrap_content_key,
)
from core.envelope.errors import UnauthenticatedError
from core.envelope.keys import b64decode

from ..attachments.blobs import blob_name
from ..keys.custody import FieldEncryptor
from ..keys.roster import Pins, UnpinnedKeyError, check_header_keys
from .client import ENVELOPE_ID
from .limits import Bounds


@dataclass(slots=True)
class AttachmentRow:
    """The columns of a :class:`CaseAttachment` row (its blob is already
    in place, fsynced)."""

    position: int
    ciphertext_size: int
    blob: str
    meta_ct: bytes


@dataclass(slots=True)
class CaseRow:
    """An opened envelope ready to store: the columns of its :class:`Case`
    row, content already sealed under the data key, and its attachments.

    A plain record rather than an ORM object: a page is written with one
    multi-row INSERT per table, not through the unit of work, which costs
    more per envelope than opening it."""

    envelope_id: str
    seq: int
    day: date
    sealed_by: str
    header: bytes
    content_key_ct: bytes
    report_ct: bytes
    follows: str | None = None
    consent_statistics: bool = False
    consent_quote: bool = False
    status: str = "new"
    attachments: list[AttachmentRow] = field(default_factory=list)
    #: A v2 report's conversation auth key, sealed under the data key.
    auth_key_ct: bytes | None = None
    #: A follow-up whose proof verified under its report's auth key.
    followup_verified: bool = False
    #: In memory only, for :meth:`admin.sync.conversations.Conversations.check`: the v2 body's
    #: ``auth`` member (a report's ``key`` or a follow-up's ``proof``).
    auth: dict[str, bytes] | None = field(default=None, repr=False)

    def columns(self) -> dict[str, Any]:
        return {
            "envelope_id": self.envelope_id,
            "seq": self.seq,
            "day": self.day,
            "sealed_by": self.sealed_by,
            "status": self.status,
            "header": self.header,
            "content_key_ct": self.content_key_ct,
            "report_ct": self.report_ct,
            "follows": self.follows,
            "consent_statistics": self.consent_statistics,
            "consent_quote": self.consent_quote,
            "auth_key_ct": self.auth_key_ct,
            "followup_verified": self.followup_verified,
        }


@dataclass(slots=True)
class QuarantineRow:
    """The columns of a :class:`Quarantine` row: an envelope that did not open."""

    seq: int
    envelope_id: str | None
    error_class: str
    message: str
    header: bytes | None
    day: date
    #: ``(kind, detail)`` of the alarm this envelope raises, stored with it.
    alarm: tuple[str, str] | None = None

    def columns(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "envelope_id": self.envelope_id,
            "error_class": self.error_class,
            "message": self.message,
            "header": self.header,
            "day": self.day,
        }


#: The alarm kind (admin/alarms/service.py) of a forged follow-up.
FORGED_FOLLOWUP_ALARM = "conversation.forged_followup"


class ForgedFollowupError(UnauthenticatedError):
    """A follow-up of a v2 report without a proof that verifies under the
    report's auth key: whoever sealed it did not know the receipt (for
    example an intake writing to its own database). Quarantined under this
    class, never filed on the case."""


@dataclass(frozen=True)
class OpenedEnvelope:
    """An API item whose header and body opened: what :func:`case_row`
    needs once the attachments are in place."""

    seq: int
    header_raw: bytes
    header: Header
    content_key: bytes
    #: The opened body: ``report``, ``attachments`` (their metadata) and,
    #: in version 2, ``auth``.
    inner: Mapping[str, Any]
    #: The API's ``follows`` member (checked against the sealed report).
    listed_follows: object = None

    @property
    def envelope_id(self) -> str:
        return self.header.envelope_id

    def files(self) -> list[tuple[Mapping[str, Any], AttachmentSlot]]:
        """``(metadata, slot)`` of each attachment, in order: the sealed
        name, type, size and SHA-256, and the header's sizes."""
        return list(zip(self.inner["attachments"], self.header.attachments, strict=True))


def open_item(
    item: Mapping[str, Any],
    seq: int,
    keys: Sequence[RecipientPrivateKey],
    bounds: Bounds,
    pins: Pins | None = None,
) -> OpenedEnvelope:
    """Check an API item against its header and open its body.

    In this order: the header's keys against the pinned roster (``pins``),
    the declared sizes against ``bounds`` (before any download), the API's
    id, day and attachment list against the header, then the content key
    and the body.

    Raises:
        EnvelopeError: the envelope does not open or does not match (it is
            quarantined; :class:`UnpinnedKeyError` raises an alarm).
        SyncLimitError: it would pass the sync's byte cap (left for the
            next sync).
    """
    try:
        header_raw = b64decode(item.get("header"), "header")
        body = b64decode(item.get("body"), "body")
    except ValueError as exc:
        raise MalformedEnvelopeError(str(exc)) from exc
    header = parse_header(header_raw)
    if pins is not None:
        # Before anything is opened or downloaded: a key outside the pinned
        # roster means the intake (or whoever sealed) added a recipient.
        check_header_keys(header.key_ids, pins)
    # Sizes as the header declares them, checked before any download.
    attachment_bytes = sum(slot.ciphertext_size for slot in header.attachments)
    bounds.admit(len(header_raw) + len(body) + attachment_bytes, attachment_bytes)
    _check_listing(item, header)
    content_key = unwrap_content_key(header, keys)
    inner = open_body(header, body, content_key)
    return OpenedEnvelope(seq, header_raw, header, content_key, inner, item.get("follows"))


def _check_listing(item: Mapping[str, Any], header: Header) -> None:
    """The API's id, day and attachments say what the header says.

    Raises:
        MalformedEnvelopeError: they differ.
    """
    if item.get("id") != header.envelope_id:
        raise MalformedEnvelopeError("the API's envelope id does not match the header")
    if "day" in item and item["day"] != header.day.isoformat():
        raise MalformedEnvelopeError("the API's day does not match the header")
    listed = item.get("attachments")
    if not isinstance(listed, list) or len(listed) != len(header.attachments):
        raise MalformedEnvelopeError("the API lists a different number of attachments than the header")
    for index, (entry, slot) in enumerate(zip(listed, header.attachments, strict=True)):
        if (
            not isinstance(entry, dict)
            or entry.get("index") != index
            or entry.get("size") != slot.ciphertext_size
        ):
            raise MalformedEnvelopeError(f"the API's attachment {index} does not match the header")


def case_row(opened: OpenedEnvelope, encryptor: FieldEncryptor) -> CaseRow:
    """The row of an opened envelope whose attachments are in place
    (written and verified, under :func:`blob_name`): its content sealed
    under the data key with ``encryptor``.

    Raises:
        MalformedEnvelopeError: the follow-up link of the API and of the
            sealed report differ, or is not an envelope id.
    """
    envelope_id = opened.envelope_id
    report = opened.inner["report"]
    attachments = [
        AttachmentRow(
            position=index,
            ciphertext_size=slot.ciphertext_size,
            blob=blob_name(envelope_id, index),
            meta_ct=encryptor.encrypt(
                envelope_id,
                f"attachment/{index}",
                _json({k: meta[k] for k in ("name", "type", "size", "sha256")}),
            ),
        )
        for index, (meta, slot) in enumerate(opened.files())
    ]
    return CaseRow(
        envelope_id=envelope_id,
        seq=opened.seq,
        day=opened.header.day,
        sealed_by=opened.header.sealed_by,
        follows=_follows(opened.listed_follows, report, envelope_id),
        consent_statistics=_consented(report, "statistics"),
        consent_quote=_consented(report, "quote"),
        header=opened.header_raw,
        content_key_ct=encryptor.encrypt(envelope_id, "content-key", opened.content_key),
        report_ct=encryptor.encrypt(envelope_id, "report", _json(report)),
        attachments=attachments,
        auth=opened.inner.get("auth"),
    )


def quarantine_row(
    item: Mapping[str, Any], seq: int, envelope_id: str | None, exc: Exception
) -> QuarantineRow:
    """The row of an envelope that did not open with ``exc``, with the
    alarm it raises (a key outside the roster, a forged follow-up)."""
    # Envelope errors carry messages written for people and free of content;
    # anything else is named by its class only, since its text could quote
    # the envelope.
    message = str(exc)[:1000] if isinstance(exc, EnvelopeError) else "unexpected error while opening"
    alarm = None
    if isinstance(exc, UnpinnedKeyError):
        # Only a seized or tampered intake (or a coalition member's key
        # that was never pinned) makes this: someone must look.
        alarm = (exc.kind, f"sync quarantined an envelope: {message}")
    elif isinstance(exc, ForgedFollowupError):
        # Whoever sealed it did not know the receipt: the intake (or its
        # database) speaks for a reporter. No id in the detail, so that
        # every such follow-up counts on one open alarm.
        alarm = (FORGED_FOLLOWUP_ALARM, f"sync quarantined a follow-up: {message}")
    return QuarantineRow(
        seq=seq,
        envelope_id=envelope_id,
        error_class=exc.__class__.__name__[:64],
        message=message,
        header=_header_bytes(item),
        day=datetime.now(UTC).date(),
        alarm=alarm,
    )


def api_id(item: Mapping[str, Any]) -> str | None:
    """The API's ``id`` of an item, if it is a short string (not yet checked)."""
    api_id = item.get("id")
    return api_id if isinstance(api_id, str) and len(api_id) <= 64 else None


def _header_bytes(item: Mapping[str, Any]) -> bytes | None:
    try:
        return b64decode(item.get("header"), "header")
    except ValueError:
        return None


def _follows(listed: object, report: Mapping[str, Any], envelope_id: str) -> str | None:
    """The report a follow-up adds to, from the API's ``follows``; the sealed
    body must say the same (docs/report-fields.md, "Follow-ups"), so an
    intake cannot attach a reporter's words to another case unnoticed.

    Raises:
        MalformedEnvelopeError: the two disagree, or the id is not an id.
    """
    sealed = report.get("follows") if report.get("kind") == "followup" else None
    if listed != sealed:
        raise MalformedEnvelopeError("the API's follow-up link does not match the sealed report")
    if listed is None:
        return None
    if not isinstance(listed, str) or not ENVELOPE_ID.fullmatch(listed) or listed == envelope_id:
        raise MalformedEnvelopeError("the follow-up link is not an envelope id")
    return listed


def _consented(report: Mapping[str, Any], choice: str) -> bool:
    """Whether the sealed report ticks consent ``choice`` (docs/report-fields.md:
    ``"consent": {"statistics": true, ...}``); anything else is no."""
    consent = report.get("consent")
    return isinstance(consent, dict) and consent.get(choice) is True


def _json(obj: object) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
