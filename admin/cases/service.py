"""Cases: list, find and open stored cases with the unlocked data key.

Report fields and attachment facts are decrypted here, in memory, for one
view or command; nothing decrypted is written anywhere.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from core.envelope import open_attachment_chunks, parse_header
from core.envelope.format import TAG_SIZE

from ..attachments.blobs import blob_dir, read_chunks, rechunk, unpad_and_verify
from ..errors import CaseNotFoundError
from ..keys.custody import UnlockedKeyring, decrypt_field
from ..models import Case

SNIPPET_LENGTH = 80
_ENVELOPE_ID = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True)
class AttachmentInfo:
    """An attachment's facts from inside the envelope: position (0-based),
    file name and media type as the reporter's device gave them (untrusted),
    size in bytes, SHA-256 hex."""

    position: int
    name: str
    media_type: str
    size: int
    sha256: str


@dataclass(frozen=True)
class CaseSummary:
    """A row of the inbox. ``snippet`` is None when the key is locked."""

    seq: int
    envelope_id: str
    day: date
    sealed_by: str
    status: str
    attachment_count: int
    snippet: str | None


@dataclass(frozen=True)
class OpenedCase:
    """A decrypted case: its summary, the report mapping as sealed, and its
    attachments' facts."""

    summary: CaseSummary
    report: dict[str, Any]
    attachments: list[AttachmentInfo]

    def fields(self) -> list[tuple[str, str]]:
        """Every report field as (name, text): strings as they are, other
        values as JSON. For generic, escaped display."""
        return [(str(k), display_value(v)) for k, v in self.report.items()]


def display_value(value: object) -> str:
    """A report value as text: a string unchanged, anything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, indent=2)


def count_cases(session: Session) -> int:
    """Number of stored cases."""
    return session.scalar(select(func.count(Case.id))) or 0


def list_cases(
    session: Session, keyring: UnlockedKeyring, *, page: int = 1, per_page: int = 50
) -> list[CaseSummary]:
    """One page (1-based) of cases, newest ``seq`` first. With the key
    unlocked each row carries the first characters of ``report["narrative"]``.
    """
    page = max(1, page)
    cases = session.scalars(
        select(Case)
        .options(selectinload(Case.attachments))
        .order_by(Case.seq.desc(), Case.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    data_key = keyring.data_key() if keyring.unlocked else None
    return [_summary(case, narrative_snippet(case, data_key)) for case in cases]


def narrative_snippet(case: Case, data_key: bytes | None) -> str | None:
    """The start of the case's ``report["narrative"]`` for a list row: white
    space folded, at most :data:`SNIPPET_LENGTH` characters (cut ones end
    in "…"), "" when the report has none; None when the key is locked
    (``data_key`` None).

    Raises:
        DataKeyError: the stored report does not authenticate.
    """
    if data_key is None:
        return None
    narrative = _report(case, data_key).get("narrative")
    text = " ".join(narrative.split()) if isinstance(narrative, str) else ""
    return text if len(text) <= SNIPPET_LENGTH else text[: SNIPPET_LENGTH - 1] + "…"


def find_case(session: Session, ref: str) -> Case:
    """A case by envelope id (32 hex digits) or intake seq number (digits).

    Raises:
        CaseNotFoundError: no such case.
    """
    ref = ref.strip().lower()
    case: Case | None = None
    if _ENVELOPE_ID.fullmatch(ref):
        case = session.scalar(select(Case).where(Case.envelope_id == ref))
    elif ref.isascii() and ref.isdigit() and int(ref) < 2**63:
        # Past a 64-bit integer no case has that number (and the database
        # driver would refuse the parameter).
        case = session.scalar(select(Case).where(Case.seq == int(ref)).order_by(Case.id).limit(1))
    if case is None:
        raise CaseNotFoundError("no case with that number or envelope id")
    return case


def open_case(case: Case, keyring: UnlockedKeyring) -> OpenedCase:
    """Decrypt a case's report and attachment facts.

    Raises:
        KeyLockedError: locked. DataKeyError: a stored value does not
            authenticate.
    """
    data_key = keyring.data_key()
    report = _report(case, data_key)
    attachments = [_attachment_info(case, a.position, a.meta_ct, data_key) for a in case.attachments]
    return OpenedCase(summary=_summary(case, None), report=report, attachments=attachments)


def open_attachment(
    case: Case, position: int, keyring: UnlockedKeyring, data_dir: Path
) -> tuple[AttachmentInfo, Iterator[bytes]]:
    """An attachment's facts and an iterator of its decrypted bytes, read
    from the sealed blob chunk by chunk.

    The iterator raises ``TamperedEnvelopeError`` / ``MalformedEnvelopeError``
    if the blob was changed on disk; a response streaming it then breaks off.

    Raises:
        KeyLockedError: locked. CaseNotFoundError: no such attachment.
    """
    data_key = keyring.data_key()
    stored = next((a for a in case.attachments if a.position == position), None)
    if stored is None:
        raise CaseNotFoundError("no such attachment")
    info = _attachment_info(case, position, stored.meta_ct, data_key)
    content_key = decrypt_field(data_key, case.envelope_id, "content-key", case.content_key_ct)
    header = parse_header(case.header)
    slot = header.attachments[position]
    path = blob_dir(data_dir) / stored.blob
    chunks = rechunk(read_chunks(path), slot.chunk + TAG_SIZE, slot.ciphertext_size)
    plain = open_attachment_chunks(content_key, header, position, chunks)
    return info, unpad_and_verify(plain, info.size, info.sha256)


def _summary(case: Case, snippet: str | None) -> CaseSummary:
    return CaseSummary(
        seq=case.seq,
        envelope_id=case.envelope_id,
        day=case.day,
        sealed_by=case.sealed_by,
        status=case.status,
        attachment_count=len(case.attachments),
        snippet=snippet,
    )


def _report(case: Case, data_key: bytes) -> dict[str, Any]:
    report = json.loads(decrypt_field(data_key, case.envelope_id, "report", case.report_ct))
    return report if isinstance(report, dict) else {}


def _attachment_info(case: Case, position: int, meta_ct: bytes, data_key: bytes) -> AttachmentInfo:
    meta = json.loads(decrypt_field(data_key, case.envelope_id, f"attachment/{position}", meta_ct))
    return AttachmentInfo(
        position=position,
        name=str(meta["name"]),
        media_type=str(meta["type"]),
        size=int(meta["size"]),
        sha256=str(meta["sha256"]),
    )
