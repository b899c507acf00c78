"""Sync: pull sealed envelopes from the intake's reviewer API, open them with
the unlocked organization key, and store them as cases.

Per envelope, in order of the intake's ``seq``: parse the header, unwrap the
content key, open the body, download every attachment and verify it fully
(chunk by chunk, never whole in memory, never in clear on disk), then store
the case and advance the cursor in one transaction. So a sync is idempotent
(envelope ids are unique) and resumable (an interrupted sync starts again
after the last stored envelope). An envelope that does not open goes to the
quarantine with the error's class and message; it never stops the sync.
Network and API faults do stop it, leaving the cursor where it was.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import requests
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from intake.db import Database
from intake.envelope import (
    EnvelopeError,
    MalformedEnvelopeError,
    RecipientPrivateKey,
    open_attachment_chunks,
    open_body,
    parse_header,
    unwrap_content_key,
)
from intake.envelope.format import TAG_SIZE
from intake.envelope.keys import b64decode

from .blobs import blob_dir, blob_name, rechunk, unpad_and_verify
from .custody import Keyring, seal_field
from .errors import ConsoleError, IntakeAuthError, IntakeError, SyncNotConfiguredError
from .models import Case, CaseAttachment, PurgedEnvelope, Quarantine, SyncState

SOURCE = "intake"
MAX_PAGE_SIZE = 100
DOWNLOAD_PIECE = 64 * 1024

# One sync at a time in this process; across processes the unique envelope
# id keeps a case from being stored twice.
_ENVELOPE_ID = re.compile(r"[0-9a-f]{32}")
_SYNC_LOCK = threading.Lock()


@dataclass
class SyncResult:
    """Counts of one sync: envelopes stored, quarantined, and skipped
    because they were already here."""

    added: int = 0
    quarantined: int = 0
    skipped: int = 0


class IntakeClient:
    """Client of the intake's reviewer API (``/api/v1/envelopes``).

    Args:
        base_url: the intake's address, e.g. ``https://intake.example``
            (a path prefix is kept).
        token: the organization's bearer token.
        timeout: seconds to connect and between bytes read.
    """

    def __init__(self, base_url: str, token: str, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self.timeout = timeout
        self._http = requests.Session()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> IntakeClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _get(
        self,
        path: str,
        *,
        params: Mapping[str, int] | None = None,
        stream: bool = False,
        method: str = "GET",
        ok: tuple[int, ...] = (200,),
    ) -> requests.Response:
        url = self.base_url + path
        try:
            # No redirects: the bearer token goes to the configured intake only.
            response = self._http.request(
                method,
                url,
                params=params,
                headers={"Authorization": f"Bearer {self._token}"},
                timeout=self.timeout,
                stream=stream,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            raise IntakeError(
                f"the intake at {self.base_url} cannot be reached ({exc.__class__.__name__})"
            ) from exc
        if response.status_code in (401, 403):
            response.close()
            raise IntakeAuthError("the intake refused the API token (check INTAKE_TOKEN)")
        if response.status_code not in ok:
            response.close()
            raise IntakeError(f"the intake answered HTTP {response.status_code} for {path}")
        return response

    def delete_envelope(self, envelope_id: str) -> tuple[bool, int] | None:
        """Ask the intake to delete an envelope for this organization
        (``DELETE /api/v1/envelopes/<id>``).

        Returns:
            ``(deleted, remaining_recipients)`` as the intake confirmed it
            (``deleted`` False: other organizations still hold it, only our
            recipient entry went), or None when the intake does not have it
            for us (404: deleted before, or never ours).

        Raises:
            ValueError: not an envelope id. IntakeAuthError, IntakeError: as
                :meth:`envelopes`, or an answer that is not the documented JSON.
        """
        if not _ENVELOPE_ID.fullmatch(envelope_id):
            raise ValueError("not an envelope id")
        response = self._get(f"/api/v1/envelopes/{envelope_id}", method="DELETE", ok=(200, 404))
        with response:
            if response.status_code == 404:
                return None
            try:
                doc = response.json()
            except ValueError as exc:
                raise IntakeError("the intake's reply is not JSON") from exc
        deleted, remaining = (
            (doc.get("deleted"), doc.get("remaining_recipients")) if isinstance(doc, dict) else (None, None)
        )
        if not isinstance(deleted, bool) or not isinstance(remaining, int) or isinstance(remaining, bool):
            raise IntakeError("the intake's reply does not have 'deleted' and 'remaining_recipients'")
        return deleted, remaining

    def envelopes(self, after: int, limit: int) -> tuple[list[dict[str, Any]], bool]:
        """One page of envelopes with ``seq`` > ``after``.

        Returns:
            The envelope objects (as in the API) and whether there are more.

        Raises:
            IntakeAuthError: 401/403. IntakeError: unreachable, another
                status, or a reply that is not the documented JSON.
        """
        response = self._get("/api/v1/envelopes", params={"after": after, "limit": limit})
        try:
            doc = response.json()
        except ValueError as exc:
            raise IntakeError("the intake's reply is not JSON") from exc
        if (
            not isinstance(doc, dict)
            or not isinstance(doc.get("envelopes"), list)
            or not isinstance(doc.get("more"), bool)
            or not all(isinstance(e, dict) for e in doc["envelopes"])
        ):
            raise IntakeError("the intake's reply does not have 'envelopes' and 'more'")
        return doc["envelopes"], doc["more"]

    @contextmanager
    def attachment(self, envelope_id: str, index: int) -> Iterator[Iterator[bytes]]:
        """Stream attachment ``index`` of an envelope: yields an iterator of
        byte pieces. The URL is built here from the checked envelope id, not
        taken from the API's reply, so the token never goes elsewhere.

        Raises:
            IntakeAuthError, IntakeError: as :meth:`envelopes`, also while
                reading.
        """
        response = self._get(f"/api/v1/envelopes/{envelope_id}/attachments/{index}", stream=True)
        try:
            yield self._pieces(response)
        finally:
            response.close()

    def _pieces(self, response: requests.Response) -> Iterator[bytes]:
        try:
            yield from response.iter_content(DOWNLOAD_PIECE)
        except requests.RequestException as exc:
            raise IntakeError(f"the download from the intake broke off ({exc.__class__.__name__})") from exc


def client_from_config(config: Mapping[str, Any]) -> IntakeClient:
    """An :class:`IntakeClient` from ``INTAKE_URL``, ``INTAKE_TOKEN`` and
    ``INTAKE_TIMEOUT``.

    Raises:
        SyncNotConfiguredError: URL or token missing.
    """
    url, token = config.get("INTAKE_URL"), config.get("INTAKE_TOKEN")
    if not url or not token:
        raise SyncNotConfiguredError("set ADMIN_INTAKE_URL and ADMIN_INTAKE_TOKEN to sync")
    return IntakeClient(str(url), str(token), float(config.get("INTAKE_TIMEOUT", 30)))


def get_cursor(db: Database) -> int:
    """The last intake seq handled (0 before the first sync)."""
    with db.session() as session:
        state = session.get(SyncState, SOURCE)
        return state.cursor if state is not None else 0


@dataclass(frozen=True)
class SyncProgress:
    """After each committed page: its number (from 1), how many envelopes
    it held, and the run's counts so far. Counts only, never ids or content."""

    page: int
    envelopes: int
    added: int
    quarantined: int
    skipped: int


def sync(
    db: Database,
    keyring: Keyring,
    data_dir: Path,
    client: IntakeClient,
    page_size: int = MAX_PAGE_SIZE,
    *,
    progress: Callable[[SyncProgress], None] | None = None,
) -> SyncResult:
    """Pull and store every envelope after the cursor, page by page;
    ``progress`` is called after each page is committed.

    Returns:
        The counts (added, quarantined, skipped).

    Raises:
        KeyLockedError: the organization key is locked (checked before any
            request).
        IntakeAuthError: the intake refused the token.
        IntakeError: the intake is unreachable or its reply is unusable; what
            was stored before stays stored.
    """
    keys = keyring.private_keys()
    data_key = keyring.data_key()
    blobs = blob_dir(data_dir)
    blobs.mkdir(mode=0o700, parents=True, exist_ok=True)
    limit = max(1, min(page_size, MAX_PAGE_SIZE))
    result = SyncResult()
    with _SYNC_LOCK:
        cursor = get_cursor(db)
        page = 0
        while True:
            items, more = client.envelopes(after=cursor, limit=limit)
            cursor = _ingest_page(db, items, cursor, keys, data_key, client, blobs, result)
            page += 1
            if progress is not None:
                progress(SyncProgress(page, len(items), result.added, result.quarantined, result.skipped))
            if not more or not items:
                return result


def _set_cursor(session: Session, seq: int) -> None:
    state = session.get(SyncState, SOURCE)
    if state is None:
        session.add(SyncState(name=SOURCE, cursor=seq))
    elif seq > state.cursor:
        state.cursor = seq


def _api_id(item: Mapping[str, Any]) -> str | None:
    api_id = item.get("id")
    return api_id if isinstance(api_id, str) and len(api_id) <= 64 else None


def _ingest_page(
    db: Database,
    items: Sequence[Mapping[str, Any]],
    cursor: int,
    keys: Sequence[RecipientPrivateKey],
    data_key: bytes,
    client: IntakeClient,
    blobs: Path,
    result: SyncResult,
) -> int:
    """Open one page of envelopes and store them, with the cursor, in one
    transaction (one commit per page, not per envelope: that is what makes
    a sync about as fast as opening). If the intake fails part-way, what was
    opened before is still stored and the cursor stands after it, so the
    next sync resumes there. Returns the new cursor."""
    ids = [i for i in (_api_id(item) for item in items) if i is not None]
    known: set[str] = set()
    if ids:
        with db.session() as session:
            known.update(session.scalars(select(Case.envelope_id).where(Case.envelope_id.in_(ids))))
            known.update(
                e
                for e in session.scalars(
                    select(Quarantine.envelope_id).where(Quarantine.envelope_id.in_(ids))
                )
                if e
            )
            # Purged by retention: never added again (admin/retention.py).
            known.update(
                session.scalars(select(PurgedEnvelope.envelope_id).where(PurgedEnvelope.envelope_id.in_(ids)))
            )
    batch: list[tuple[Case | Quarantine, Literal["added", "quarantined"]]] = []
    done = cursor
    try:
        for item in items:
            seq = item.get("seq")
            if not isinstance(seq, int) or isinstance(seq, bool) or seq <= done:
                raise IntakeError("the intake sent envelopes out of order")
            envelope_id = _api_id(item)
            if envelope_id is not None and envelope_id in known:
                result.skipped += 1
                done = seq
                continue
            try:
                batch.append((_open_item(item, seq, keys, data_key, client, blobs), "added"))
            except EnvelopeError as exc:
                batch.append((_quarantined(item, seq, envelope_id, exc), "quarantined"))
            except ConsoleError:
                raise  # the intake or the keyring failed, not this envelope
            except Exception as exc:  # noqa: BLE001
                # Anyone can seal to the public key: one hostile envelope must
                # never stop every later report from being synced.
                batch.append((_quarantined(item, seq, envelope_id, exc), "quarantined"))
            if envelope_id is not None:
                known.add(envelope_id)
            done = seq
    finally:
        # Also on the way out of an IntakeError: keep what was opened.
        _store(db, batch, done, result)
    return done


def _quarantined(item: Mapping[str, Any], seq: int, envelope_id: str | None, exc: Exception) -> Quarantine:
    # Envelope errors carry messages written for people and free of content;
    # anything else is named by its class only, since its text could quote
    # the envelope.
    message = str(exc)[:1000] if isinstance(exc, EnvelopeError) else "unexpected error while opening"
    return Quarantine(
        seq=seq,
        envelope_id=envelope_id,
        error_class=exc.__class__.__name__,
        message=message,
        header=_header_bytes(item),
        day=datetime.now(UTC).date(),
    )


def _store(
    db: Database,
    batch: Sequence[tuple[Case | Quarantine, Literal["added", "quarantined"]]],
    cursor: int,
    result: SyncResult,
) -> None:
    try:
        with db.session() as session:
            session.add_all([row for row, _ in batch])
            _set_cursor(session, cursor)
    except IntegrityError:
        # Another process stored some of these meanwhile: one by one.
        for row, outcome in batch:
            try:
                with db.session() as session:
                    session.add(_fresh(row))
            except IntegrityError:
                result.skipped += 1
            else:
                setattr(result, outcome, getattr(result, outcome) + 1)
        with db.session() as session:
            _set_cursor(session, cursor)
        return
    for _row, outcome in batch:
        setattr(result, outcome, getattr(result, outcome) + 1)


def _fresh(row: Case | Quarantine) -> Case | Quarantine:
    # The failed flush left ``row`` attached to a dead session's state.
    from sqlalchemy.orm import make_transient

    make_transient(row)
    row.id = None  # type: ignore[assignment]  # a new primary key on the retry
    if isinstance(row, Case):
        for attachment in row.attachments:
            make_transient(attachment)
            attachment.id = None  # type: ignore[assignment]
    return row


def _header_bytes(item: Mapping[str, Any]) -> bytes | None:
    try:
        return b64decode(item.get("header"), "header")
    except ValueError:
        return None


def _open_item(
    item: Mapping[str, Any],
    seq: int,
    keys: Sequence[RecipientPrivateKey],
    data_key: bytes,
    client: IntakeClient,
    blobs: Path,
) -> Case:
    try:
        header_raw = b64decode(item.get("header"), "header")
        body = b64decode(item.get("body"), "body")
    except ValueError as exc:
        raise MalformedEnvelopeError(str(exc)) from exc
    header = parse_header(header_raw)
    envelope_id = header.envelope_id
    if item.get("id") != envelope_id:
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

    content_key = unwrap_content_key(header, keys)
    inner = open_body(header, body, content_key)

    attachments: list[CaseAttachment] = []
    for index, (meta, slot) in enumerate(zip(inner["attachments"], header.attachments, strict=True)):
        name = blob_name(envelope_id, index)
        partial = blobs / f".{name}.part"
        try:
            with client.attachment(envelope_id, index) as pieces, partial.open("wb") as out:

                def kept(stream: Iterator[bytes]) -> Iterator[bytes]:
                    for piece in stream:
                        out.write(piece)  # ciphertext as received
                        yield piece

                chunks = rechunk(kept(pieces), slot.chunk + TAG_SIZE, slot.ciphertext_size)
                plain = open_attachment_chunks(content_key, header, index, chunks)
                for _ in unpad_and_verify(plain, int(meta["size"]), str(meta["sha256"])):
                    pass  # verified and dropped: only the ciphertext is kept
                out.flush()
                os.fsync(out.fileno())
            os.replace(partial, blobs / name)
        finally:
            partial.unlink(missing_ok=True)
        meta_doc = {k: meta[k] for k in ("name", "type", "size", "sha256")}
        attachments.append(
            CaseAttachment(
                position=index,
                ciphertext_size=slot.ciphertext_size,
                blob=name,
                meta_ct=seal_field(data_key, envelope_id, f"attachment/{index}", _json(meta_doc)),
            )
        )
    return Case(
        envelope_id=envelope_id,
        seq=seq,
        day=header.day,
        sealed_by=header.sealed_by,
        status="new",
        follows=_follows(item, inner["report"], envelope_id),
        consent_statistics=_consented(inner["report"], "statistics"),
        consent_quote=_consented(inner["report"], "quote"),
        header=header_raw,
        content_key_ct=seal_field(data_key, envelope_id, "content-key", content_key),
        report_ct=seal_field(data_key, envelope_id, "report", _json(inner["report"])),
        attachments=attachments,
    )


def _follows(item: Mapping[str, Any], report: Mapping[str, Any], envelope_id: str) -> str | None:
    """The report a follow-up adds to, from the API's ``follows``; the sealed
    body must say the same (docs/report-fields.md, "Follow-ups"), so an
    intake cannot attach a reporter's words to another case unnoticed.

    Raises:
        MalformedEnvelopeError: the two disagree, or the id is not an id.
    """
    listed = item.get("follows")
    sealed = report.get("follows") if report.get("kind") == "followup" else None
    if listed != sealed:
        raise MalformedEnvelopeError("the API's follow-up link does not match the sealed report")
    if listed is None:
        return None
    if not isinstance(listed, str) or not _ENVELOPE_ID.fullmatch(listed) or listed == envelope_id:
        raise MalformedEnvelopeError("the follow-up link is not an envelope id")
    return listed


def _consented(report: Mapping[str, Any], choice: str) -> bool:
    """Whether the sealed report ticks consent ``choice`` (docs/report-fields.md:
    ``"consent": {"statistics": true, ...}``); anything else is no."""
    consent = report.get("consent")
    return isinstance(consent, dict) and consent.get(choice) is True


def _json(obj: object) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
