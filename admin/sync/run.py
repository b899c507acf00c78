"""Sync: pull sealed envelopes from the intake's reviewer API, open them with
the unlocked organization key, and store them as cases.

Per envelope, in order of the intake's ``seq``: parse the header, unwrap the
content key, open the body, download every attachment and verify it fully
(chunk by chunk, never whole in memory, never in clear on disk). Per page
(up to 500 envelopes, fewer when the intake's byte budget cuts it): store
its cases and quarantined envelopes and advance the cursor in one
transaction. So a sync is idempotent (envelope ids are unique) and
resumable (an interrupted sync starts again after the last committed page,
or after the last envelope opened when the intake failed mid-page). An
envelope that does not open goes to the quarantine with the error's class
and message; it never stops the sync. Network and API faults, and the key
being locked, do stop it, leaving the cursor after what was stored.

Bounded against a hostile or broken intake (:class:`SyncLimits`): a page
reply is read to at most :data:`MAX_PAGE_BYTES` and within the client's
page deadline, an attachment no slower than :data:`MIN_RATE` on average;
an envelope whose header declares more than ``envelope_bytes`` is
quarantined without downloading it; attachment bytes are counted as they
arrive, before they are written, and a sync stops at ``sync_bytes`` of
them; and the whole sync ends at its ``deadline``. A watch thread ends the
sync at once when that deadline passes, Stop is pressed or the key is
locked: it shuts down the client's sockets, so even a download waiting on
a stalled intake ends within :data:`STOP_POLL` seconds. ``sync --rescan``
also retries the envelopes in quarantine (by id), after a cap was raised
or a clean restore: one that opens now becomes a case and leaves the
quarantine.

Speed (measured by ``bench/console.py``): a page is written with one multi-row
INSERT per table (no ORM unit of work), ids already here are found with one
query per page, and one worker thread downloads the next page's bytes while
the caller's thread parses, opens and stores the current one (see
:func:`sync` for why nothing else is on the worker).
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import re
import socket
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import requests
import urllib3
from requests.adapters import HTTPAdapter
from sqlalchemy import (
    BindParameter,
    CompoundSelect,
    Table,
    bindparam,
    delete,
    insert,
    select,
    union_all,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.db import Database
from core.envelope import (
    EnvelopeError,
    KeyFileError,
    MalformedEnvelopeError,
    RecipientPrivateKey,
    TamperedEnvelopeError,
    open_attachment_chunks,
    open_body,
    parse_header,
    unwrap_content_key,
)
from core.envelope.conversation import followup_proof, verify
from core.envelope.errors import UnauthenticatedError
from core.envelope.format import TAG_SIZE
from core.envelope.keys import b64decode

from ..alarms.service import raise_alarm
from ..attachments.blobs import blob_dir, blob_name, rechunk, unpad_and_verify
from ..errors import (
    ConsoleError,
    IntakeAuthError,
    IntakeError,
    KeyLockedError,
    SyncBusyError,
    SyncDeadlineError,
    SyncLimitError,
    SyncNotConfiguredError,
    SyncStoppedError,
)
from ..keys.custody import FieldEncryptor, UnlockedKeyring, decrypt_field
from ..keys.roster import Pins, UnpinnedKeyError, check_header_keys
from ..models import Base, Case, CaseAttachment, PurgedEnvelope, Quarantine, SyncState

SOURCE = "intake"
#: Envelopes asked for per page (the intake's API allows 1-500; it sends
#: fewer when their bytes pass its API_PAGE_BYTES).
MAX_PAGE_SIZE = 500
#: The most an intake from before pages of 500 accepts.
LEGACY_PAGE_SIZE = 100
#: The most a page's reply may weigh: the intake's default byte budget
#: (8 MiB of sealed bytes) in base64 and JSON, with room to spare. A larger
#: reply is refused, not parsed.
MAX_PAGE_BYTES = 64 * 1024 * 1024
DOWNLOAD_PIECE = 64 * 1024
#: Seconds between looks at the stop button while a page downloads.
STOP_POLL = 0.25
#: What a page is read in, at most, per call (as much as has arrived).
READ_PIECE = 1024 * 1024
#: The slowest an attachment may arrive on average (bytes per second), after
#: a grace period, before its download is stopped.
MIN_RATE = 4 * 1024


@dataclass(frozen=True)
class SyncLimits:
    """What one sync may cost, whatever the intake sends.

    Attributes:
        envelope_bytes: the most one envelope may declare in its header
            (header, body and attachments, in bytes); a larger one is
            quarantined without downloading it. Never more than half of
            ``sync_bytes`` (see :attr:`envelope_cap`).
        sync_bytes: the most attachment bytes one sync writes; counted as
            they arrive, before they are written. The sync then stops
            (:class:`SyncLimitError`); what it stored is kept.
        deadline: seconds one sync may run in all (:class:`SyncDeadlineError`).
    """

    envelope_bytes: int = 256 * 1024 * 1024
    sync_bytes: int = 4 * 1024 * 1024 * 1024
    deadline: float = 1800.0

    @property
    def envelope_cap(self) -> int:
        """``envelope_bytes``, at most half of ``sync_bytes``: an envelope
        that fits is always downloaded by some sync (one that starts with
        nothing written yet), so the sync cap never stops progress."""
        return max(0, min(self.envelope_bytes, self.sync_bytes // 2))


def limits_from_config(config: Mapping[str, Any]) -> SyncLimits:
    """:class:`SyncLimits` from ``SYNC_MAX_ENVELOPE_BYTES``,
    ``SYNC_MAX_BYTES`` and ``SYNC_DEADLINE`` (defaults where unset)."""
    default = SyncLimits()
    return SyncLimits(
        envelope_bytes=int(config.get("SYNC_MAX_ENVELOPE_BYTES") or default.envelope_bytes),
        sync_bytes=int(config.get("SYNC_MAX_BYTES") or default.sync_bytes),
        deadline=float(config.get("SYNC_DEADLINE") or default.deadline),
    )


class OversizedEnvelopeError(EnvelopeError):
    """An envelope declares more bytes than this console takes in one
    envelope (``SYNC_MAX_ENVELOPE_BYTES``): quarantined, never downloaded;
    ``sync --rescan`` retries it after the setting was raised."""


# One sync at a time in this process; across processes the unique envelope
# id keeps a case from being stored twice.
_ENVELOPE_ID = re.compile(r"[0-9a-f]{32}")


def _no_ids(path: str) -> str:
    """``path`` with envelope ids replaced by ``<id>``: error messages reach
    the status page, flashes and a timer's journal, which must not tie a
    run to an envelope."""
    return _ENVELOPE_ID.sub("<id>", path)


#: One sync at a time in this process: a second thread waits its turn here,
#: while another process meets ``sync.lock`` (:func:`_one_sync_at_a_time`)
#: and is refused with :class:`SyncBusyError`.
_SYNC_LOCK = threading.Lock()


@dataclass
class SyncResult:
    """Counts of one sync: envelopes stored, quarantined, and skipped
    because they were already here."""

    added: int = 0
    quarantined: int = 0
    skipped: int = 0
    #: The alarms this sync raised (their details: fingerprints, no ids),
    #: e.g. an envelope sealed to a key outside the pinned roster.
    alarms: list[str] = field(default_factory=list)

    def counts(self) -> str:
        """``added=N quarantined=N skipped=N``, as the audit log has them."""
        return f"added={self.added} quarantined={self.quarantined} skipped={self.skipped}"

    def __str__(self) -> str:
        return f"added {self.added}, quarantined {self.quarantined}, skipped {self.skipped}"


def _shut(sock: socket.socket) -> None:
    """Shut a socket down both ways: a thread blocked reading it wakes up
    (closing alone would not wake it on Linux)."""
    with suppress(OSError):  # closed already, or never connected
        sock.shutdown(socket.SHUT_RDWR)


class _TrackingAdapter(HTTPAdapter):
    """requests' adapter whose connections report their socket once
    connected (to ``track``), so a client can shut them down from another
    thread (:meth:`IntakeClient.abort`)."""

    def __init__(self, track: Callable[[socket.socket], None]) -> None:
        self._track = track
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        track = self._track

        class Connection(urllib3.connection.HTTPConnection):
            def connect(self) -> None:
                super().connect()
                track(self.sock)

        class TlsConnection(urllib3.connection.HTTPSConnection):
            def connect(self) -> None:
                super().connect()
                track(self.sock)

        class Pool(urllib3.HTTPConnectionPool):
            ConnectionCls = Connection

        class TlsPool(urllib3.HTTPSConnectionPool):
            ConnectionCls = TlsConnection

        self.poolmanager.pool_classes_by_scheme = {"http": Pool, "https": TlsPool}


class IntakeClient:
    """Client of the intake's reviewer API (``/api/v1/envelopes``).

    Args:
        base_url: the intake's address, e.g. ``https://intake.example``
            (a path prefix is kept).
        token: the organization's bearer token.
        timeout: seconds to connect and between bytes read.
        page_deadline: seconds a page's download may take in all, however
            its bytes trickle in (an intake sending a byte every few seconds
            would otherwise hold a sync, and the key it uses, for ever).
    """

    def __init__(
        self, base_url: str, token: str, timeout: float = 30.0, page_deadline: float = 600.0
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self.timeout = timeout
        self.page_deadline = page_deadline
        #: Sockets of this client's connections, so that :meth:`abort` can
        #: shut them down from another thread: a read waiting on a stalled
        #: intake then ends at once instead of after ``timeout``.
        self._sockets: weakref.WeakSet[socket.socket] = weakref.WeakSet()
        self._sockets_lock = threading.Lock()
        self._aborted = False
        self._http = requests.Session()
        adapter = _TrackingAdapter(self._track_socket)
        self._http.mount("http://", adapter)
        self._http.mount("https://", adapter)
        #: The page download in progress (one worker at a time), so that
        #: :meth:`abort_page` can cut it short from another thread.
        self._page_response: requests.Response | None = None

    def _track_socket(self, sock: socket.socket) -> None:
        with self._sockets_lock:
            self._sockets.add(sock)
            aborted = self._aborted
        if aborted:
            _shut(sock)

    def abort(self) -> None:
        """End every request of this client now, from any thread: its
        sockets are shut down (a blocked read returns at once and fails
        with :class:`IntakeError`) and new requests fail until
        :meth:`resume`. A connection still being opened ends at its
        connect timeout."""
        with self._sockets_lock:
            self._aborted = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shut(sock)

    def resume(self) -> None:
        """Accept requests again after :meth:`abort` (new connections)."""
        with self._sockets_lock:
            self._aborted = False
            self._sockets = weakref.WeakSet()
        self._http.close()  # the shut connections are not reused

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
        if self._aborted:
            raise IntakeError("the sync was ended")
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
            raise IntakeError(
                f"the intake answered HTTP {response.status_code} for {_no_ids(path)}", response.status_code
            )
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
        """One page of envelopes with ``seq`` > ``after``: :meth:`envelope_page`
        read by :func:`parse_envelope_page`.

        Returns:
            The envelope objects (as in the API) and whether there are more.

        Raises:
            IntakeAuthError: 401/403. IntakeError: unreachable, another
                status, or a reply that is not the documented JSON.
        """
        return parse_envelope_page(self.envelope_page(after, limit))

    def envelope_page(self, after: int, limit: int) -> bytes:
        """The intake's reply for one page (``GET /api/v1/envelopes?after=&limit=``),
        as bytes, not yet parsed: network only, so a worker thread can wait
        for it while the caller's thread, holding the interpreter, opens
        the previous page. Read in one call (not requests' 10 kB pieces,
        each of which would take the interpreter lock back from the opening
        thread) and at most :data:`MAX_PAGE_BYTES`.

        Raises:
            IntakeAuthError: 401/403. IntakeError: unreachable, another
                status, a reply over :data:`MAX_PAGE_BYTES`, or the download
                broke off.
        """
        response = self._get("/api/v1/envelopes", params={"after": after, "limit": limit}, stream=True)
        self._page_response = response
        try:
            with response:
                return _read_within(response, MAX_PAGE_BYTES, time.monotonic() + self.page_deadline)
        finally:
            self._page_response = None

    def abort_page(self) -> None:
        """Cut short the page download in progress, if any (it then fails
        with :class:`IntakeError`): a sync that stops does not wait for a
        page it will not use."""
        response = self._page_response
        if response is not None:
            response.close()

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
        # As fast as the bytes come, but never slower in all than
        # MIN_RATE after a grace of self.page_deadline / 5 (a trickle would
        # otherwise hold the sync for ever).
        size = int(response.headers.get("Content-Length") or 0)
        deadline = time.monotonic() + self.page_deadline / 5 + size / MIN_RATE
        try:
            while piece := response.raw.read1(DOWNLOAD_PIECE, decode_content=True):
                if time.monotonic() > deadline:
                    raise IntakeError("the intake sends an attachment too slowly; the download was stopped")
                yield piece
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise IntakeError(f"the download from the intake broke off ({exc.__class__.__name__})") from exc

    class EnvelopeRefused(IntakeError):
        """The intake refused an envelope the console filed (a 4xx answer
        to :meth:`post_envelope`): ``code`` is the intake's JSON error code
        (``too_large``, ``recipients``, ``duplicate`` …, ``unknown`` when it
        gave none usable), ``status`` the HTTP status."""

        def __init__(self, code: str, status: int) -> None:
            super().__init__(f"the intake refused the envelope ({code}, HTTP {status})")
            self.code = code
            self.status = status

    def post_envelope(
        self, header: bytes, body: bytes, attachments: Sequence[bytes], receipt: str, *, attempts: int = 2
    ) -> tuple[str, bool]:
        """File an envelope the console sealed (interview mode) with the
        receipt made for it: ``POST /api/v1/envelopes``, multipart parts
        ``receipt`` (text), ``header``, ``body`` and one ``attachment`` per
        slot (intake/api/interview.py). The receipt goes in the request body
        only, never a URL.

        A network fault or a 502/503/504 is tried again, up to ``attempts``
        times in all, with the very same envelope: if the first answer was
        lost the intake recognises the envelope id and stores nothing twice.

        Returns:
            ``(envelope id, earlier)`` as the intake confirmed them;
            ``earlier`` is True when the envelope was stored by an earlier try.

        Raises:
            IntakeAuthError: 401/403.
            IntakeClient.EnvelopeRefused: 400, 409 or 413 (not tried again).
            IntakeError: unreachable or failing after every try, another
                status, or a reply that is not the documented JSON.
        """
        files = [
            ("header", ("header", header, "application/octet-stream")),
            ("body", ("body", body, "application/octet-stream")),
            *[
                ("attachment", (f"attachment-{i}", a, "application/octet-stream"))
                for i, a in enumerate(attachments)
            ],
        ]
        fault = "no attempt was made"
        for _attempt in range(max(1, attempts)):
            try:
                response = self._http.post(
                    self.base_url + "/api/v1/envelopes",
                    data={"receipt": receipt},
                    files=files,
                    headers={"Authorization": f"Bearer {self._token}"},
                    timeout=self.timeout,
                    allow_redirects=False,
                )
            except requests.RequestException as exc:
                fault = f"the intake at {self.base_url} cannot be reached ({exc.__class__.__name__})"
                continue
            with response:
                status = response.status_code
                try:
                    doc = response.json()
                except ValueError:
                    doc = None
            if status in (502, 503, 504):
                fault = f"the intake answered HTTP {status}"
                continue
            if status in (401, 403):
                raise IntakeAuthError("the intake refused the API token (check INTAKE_TOKEN)")
            error = doc.get("error") if isinstance(doc, dict) else None
            if status in (400, 409, 413):
                code = (
                    error
                    if isinstance(error, str) and error.isascii() and 0 < len(error) <= 32
                    else "unknown"
                )
                raise IntakeClient.EnvelopeRefused(code, status)
            if status not in (200, 201):
                raise IntakeError(f"the intake answered HTTP {status} for /api/v1/envelopes")
            envelope_id = doc.get("id") if isinstance(doc, dict) else None
            earlier = doc.get("earlier") if isinstance(doc, dict) else None
            if not isinstance(envelope_id, str) or not _ENVELOPE_ID.fullmatch(envelope_id):
                raise IntakeError("the intake's reply does not have the envelope's 'id'")
            return envelope_id, earlier is True
        raise IntakeError(fault)

    def post_reply(self, envelope_id: str, header: bytes, body: bytes) -> bool:
        """Hand the intake a reply sealed to the reporter's reply key
        (``POST /api/v1/envelopes/<id>/replies``, JSON ``{"header", "body"}``
        in base64; intake/api/replies.py).

        Returns:
            True when the intake stored it now (201), False when it had it
            from an earlier try (200).

        Raises:
            ValueError: not an envelope id.
            IntakeAuthError: 401/403.
            IntakeError: unreachable, or any other answer (404: the report is
                no longer at the intake for us; 409: it has no reply key or
                too many replies; 400: the intake refused the envelope).
        """
        if not _ENVELOPE_ID.fullmatch(envelope_id):
            raise ValueError("not an envelope id")
        path = f"/api/v1/envelopes/{envelope_id}/replies"
        try:
            response = self._http.post(
                self.base_url + path,
                json={
                    "header": base64.b64encode(header).decode("ascii"),
                    "body": base64.b64encode(body).decode("ascii"),
                },
                headers={"Authorization": f"Bearer {self._token}"},
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            raise IntakeError(
                f"the intake at {self.base_url} cannot be reached ({exc.__class__.__name__})"
            ) from exc
        with response:
            status = response.status_code
        if status in (401, 403):
            raise IntakeAuthError("the intake refused the API token (check INTAKE_TOKEN)")
        if status not in (200, 201):
            raise IntakeError(f"the intake answered HTTP {status} for {_no_ids(path)}", status)
        return status == 201


def client_from_config(config: Mapping[str, Any]) -> IntakeClient:
    """An :class:`IntakeClient` from ``INTAKE_URL``, ``INTAKE_TOKEN`` and
    ``INTAKE_TIMEOUT``.

    Raises:
        SyncNotConfiguredError: URL or token missing.
    """
    url, token = config.get("INTAKE_URL"), config.get("INTAKE_TOKEN")
    if not url or not token:
        raise SyncNotConfiguredError("set ADMIN_INTAKE_URL and ADMIN_INTAKE_TOKEN to sync")
    return IntakeClient(
        str(url),
        str(token),
        float(config.get("INTAKE_TIMEOUT", 30)),
        float(config.get("INTAKE_PAGE_DEADLINE", 600)),
    )


def _read_within(response: requests.Response, cap: int, deadline: float) -> bytes:
    """The body of ``response`` (decoded), read as its bytes arrive: at most
    ``cap`` bytes, before ``time.monotonic()`` reaches ``deadline``.

    Raises:
        IntakeError: larger than ``cap``, too slow, or broken off.
    """
    parts: list[bytes] = []
    total = 0
    try:
        while part := response.raw.read1(READ_PIECE, decode_content=True):
            total += len(part)
            if total > cap:
                raise IntakeError("the intake's page is larger than a console reads")
            if time.monotonic() > deadline:
                raise IntakeError("the intake sends its page too slowly; the download was stopped")
            parts.append(part)
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
        raise IntakeError(f"the download from the intake broke off ({exc.__class__.__name__})") from exc
    return b"".join(parts)


def parse_envelope_page(content: bytes) -> tuple[list[dict[str, Any]], bool]:
    """Read a reply of ``GET /api/v1/envelopes``: ``{"envelopes": [...],
    "more": bool}`` (intake/api/views.py) in UTF-8 JSON.

    Returns:
        The envelope objects and whether there are more.

    Raises:
        IntakeError: not JSON, or not that shape.
    """
    try:
        doc = json.loads(content)
    except (ValueError, RecursionError) as exc:
        raise IntakeError("the intake's reply is not JSON") from exc
    if (
        not isinstance(doc, dict)
        or not isinstance(doc.get("envelopes"), list)
        or not isinstance(doc.get("more"), bool)
        or not all(isinstance(e, dict) for e in doc["envelopes"])
    ):
        raise IntakeError("the intake's reply does not have 'envelopes' and 'more'")
    return doc["envelopes"], doc["more"]


def get_cursor(db: Database) -> int:
    """The last intake seq handled (0 before the first sync)."""
    with db.session() as session:
        state = session.get(SyncState, SOURCE)
        return state.cursor if state is not None else 0


def rescan(db: Database) -> None:
    """Move the cursor back to the start, so the next sync lists every
    envelope the intake has for this organization again: those already
    stored, quarantined or purged are skipped by id, anything new is
    stored. For after the intake was restored from a backup, when new
    envelopes may get seq numbers the cursor has already passed
    (docs/deployment.md, "Backups")."""
    with db.session() as session:
        session.execute(update(_table(SyncState)).where(_table(SyncState).c.name == SOURCE).values(cursor=0))


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
    keyring: UnlockedKeyring,
    data_dir: Path,
    client: IntakeClient,
    page_size: int = MAX_PAGE_SIZE,
    *,
    progress: Callable[[SyncProgress], None] | None = None,
    into: SyncResult | None = None,
    stop: threading.Event | None = None,
    from_start: bool = False,
    limits: SyncLimits | None = None,
) -> SyncResult:
    """Pull and store every envelope after the cursor, page by page;
    ``progress`` is called after each page is committed. The counts
    accumulate in ``into`` when given (else a new :class:`SyncResult`) as
    pages are committed, so a caller still knows what was stored when the
    sync stops with an error part-way. Setting ``stop`` (from another
    thread) ends the sync after the envelope being opened, or at once while
    it waits for a page, with :class:`SyncStoppedError`. ``from_start``:
    move the cursor back to the start first (:func:`rescan`), under the
    sync's lock, so no other sync moves it on meanwhile, and retry the
    envelopes in quarantine. ``limits``: what the sync may cost
    (:class:`SyncLimits`; its defaults when None). Stop, locking the key and
    the deadline end the sync at once, even in the middle of a download.

    The waiting is overlapped with the opening: one worker thread
    downloads the next page (network only: the bytes of the reply) while
    this thread opens the current one. Everything that needs the
    interpreter (parsing, opening, storing) runs in this thread, one page
    after the other, each page committed with the cursor after it.

    Returns:
        The counts (added, quarantined, skipped).

    Raises:
        KeyLockedError: the organization key is locked (checked before any
            request).
        IntakeAuthError: the intake refused the token.
        IntakeError: the intake is unreachable or its reply is unusable; what
            was stored before stays stored.
        SyncStoppedError, SyncDeadlineError, SyncLimitError: stopped, out
            of time, or at the byte cap; what was stored stays stored.
    """
    limits = limits or SyncLimits()
    keys = keyring.private_keys()
    encryptor = FieldEncryptor(keyring.data_key())
    conversations = Conversations(db, keyring.data_key(), encryptor)
    try:
        with db.session() as session:
            pins = Pins.load(session, data_dir)
    except KeyFileError as exc:
        raise SyncNotConfiguredError(f"a private key file cannot be read: {exc}") from exc
    blobs = blob_dir(data_dir)
    blobs.mkdir(mode=0o700, parents=True, exist_ok=True)
    limit = max(1, min(page_size, MAX_PAGE_SIZE))

    def envelope_page(after: int) -> bytes:
        # An intake from before pages of 500 refuses a limit over 100 (400):
        # ask again with 100, and keep that for the rest of this sync.
        nonlocal limit
        try:
            return client.envelope_page(after, limit)
        except IntakeError as exc:
            if exc.status != 400 or limit <= LEGACY_PAGE_SIZE:
                raise
            limit = LEGACY_PAGE_SIZE
            return client.envelope_page(after, limit)

    result = into if into is not None else SyncResult()
    # Envelope ids handled in this run or found stored: a page's ids are
    # checked against the database once, before it is opened.
    known: set[str] = set()
    pages = 0

    def store(batch: _Batch) -> None:
        _store(db, batch, result, blobs)

    bounds = _Bounds(limits)
    watch = _Watch(keyring, stop, limits.deadline, client)

    # Why only the download is on the worker: cryptography's HPKE and the
    # JSON and SQLite work all hold the interpreter lock, so a second
    # thread doing any of it only makes the two wait on each other
    # (measured with bench/console.py: storing on the worker cost more than
    # it overlapped). Waiting on a socket does not hold the lock, and on a
    # real network the wait for the next page is what there is to hide.
    #
    # requests' Session is shared by this thread (attachments) and the
    # worker (pages): urllib3's connection pool is thread-safe and the
    # client keeps no other state between requests.
    with _SYNC_LOCK, _one_sync_at_a_time(data_dir):
        net = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sync-fetch")
        fetching: Future[bytes] | None = None
        client.resume()
        watch.start()
        try:
            if from_start:
                rescan(db)
            cursor = get_cursor(db)
            fetching = net.submit(envelope_page, cursor)
            while fetching is not None:
                items, more = parse_envelope_page(_page_result(fetching, watch))
                # A sync is use of the key (it does not idle-lock under a
                # long one), and stops when someone locks it.
                keys = keyring.private_keys()
                after = _next_after(items, cursor) if more else None
                fetching = net.submit(envelope_page, after) if after is not None else None
                ids = [i for i in (_api_id(item) for item in items) if i is not None and i not in known]
                retry: set[str] = set()
                if ids:
                    known |= _known_ids(db, ids, with_quarantine=not from_start)
                    if from_start:
                        retry = _quarantined_ids(db, ids)
                cursor = _ingest_page(
                    items,
                    cursor,
                    known,
                    keyring,
                    keys,
                    encryptor,
                    client,
                    blobs,
                    store,
                    watch,
                    bounds,
                    retry,
                    pins,
                    conversations,
                )
                pages += 1
                if progress is not None:
                    counts = (result.added, result.quarantined, result.skipped)
                    progress(SyncProgress(pages, len(items), *counts))
                if not more or not items:
                    break
        except IntakeError as exc:
            # A download cut short by the watch: say why it ended.
            watch.raise_reason(exc)
            raise
        finally:
            watch.close()
            # A page fetched ahead and not used (a failure, or the key was
            # locked): a download in progress is cut short, and not waited
            # for; it ends on its own, its error moot.
            if fetching is not None and not fetching.cancel():
                client.abort_page()
            net.shutdown(wait=False, cancel_futures=True)
    return result


class _Watch:
    """Ends a running sync when Stop is pressed, the key is locked or the
    deadline passes: the sync's own thread checks between envelopes
    (:meth:`check`), and a watch thread looks every :data:`STOP_POLL`
    seconds and shuts the client's sockets down, which ends any download
    at once (the sync's thread then raises the reason: :meth:`raise_reason`)."""

    def __init__(
        self, keyring: UnlockedKeyring, stop: threading.Event | None, deadline: float, client: IntakeClient
    ) -> None:
        self._keyring = keyring
        self._stop = stop
        self._seconds = deadline
        self._deadline = time.monotonic() + deadline
        self._client = client
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sync-watch", daemon=True)
        #: Why the watch ended the sync, once it did.
        self.reason: ConsoleError | None = None

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._done.set()
        if self._thread.is_alive():
            self._thread.join(5)

    def _why(self) -> ConsoleError | None:
        if self._stop is not None and self._stop.is_set():
            return SyncStoppedError("the sync was stopped")
        if not self._keyring.unlocked:
            # Locked (by hand or idle) mid-sync: what was opened is stored,
            # nothing more is opened.
            return KeyLockedError("the organization key was locked during the sync")
        if time.monotonic() > self._deadline:
            return SyncDeadlineError(
                f"the sync reached its time limit ({self._seconds:.0f} s, SYNC_DEADLINE); what it "
                "stored is kept, and the next sync goes on from there"
            )
        return None

    def _run(self) -> None:
        while not self._done.wait(STOP_POLL):
            reason = self._why()
            if reason is not None:
                self.reason = reason
                self._client.abort()
                return

    def check(self) -> None:
        """Raise the reason to end the sync, if there is one now."""
        reason = self.reason or self._why()
        if reason is not None:
            raise reason

    def raise_reason(self, cause: Exception) -> None:
        """If the watch ended the sync, raise its reason (from ``cause``,
        the download it cut short); else return."""
        if self.reason is not None:
            raise self.reason from cause


class _Bounds:
    """The byte caps of one sync (:class:`SyncLimits`): attachment bytes
    written so far, counted as they arrive. One sync thread uses it."""

    def __init__(self, limits: SyncLimits) -> None:
        self.limits = limits
        self.written = 0

    def admit(self, declared: int, attachments: int) -> None:
        """Before an envelope is downloaded: ``declared`` its bytes in all
        (header, body, attachments), ``attachments`` those to write.

        Raises:
            OversizedEnvelopeError: over the envelope cap (it is quarantined).
            SyncLimitError: it would pass the sync's cap; it is left for
                the next sync, which starts with nothing written.
        """
        cap = self.limits.envelope_cap
        if declared > cap:
            raise OversizedEnvelopeError(
                f"the envelope declares {declared} bytes, more than this console takes in one "
                f"envelope ({cap}, SYNC_MAX_ENVELOPE_BYTES); it was not downloaded"
            )
        if self.written + attachments > self.limits.sync_bytes:
            raise self._full()

    def take(self, count: int) -> None:
        """Count ``count`` bytes about to be written.

        Raises:
            SyncLimitError: they would pass the sync's cap.
        """
        if self.written + count > self.limits.sync_bytes:
            raise self._full()
        self.written += count

    def _full(self) -> SyncLimitError:
        return SyncLimitError(
            f"the sync wrote as much as one sync may ({self.limits.sync_bytes} bytes, SYNC_MAX_BYTES); "
            "what it stored is kept, and the next sync goes on from there"
        )


def _page_result(fetching: Future[bytes], watch: _Watch) -> bytes:
    """The page being downloaded, waited for in short steps so that a stop,
    a lock or the deadline need not wait for a slow intake.

    Raises:
        SyncStoppedError, KeyLockedError, SyncDeadlineError: as
        :meth:`_Watch.check`. As the download.
    """
    while True:
        watch.check()
        try:
            return fetching.result(timeout=STOP_POLL)
        except FutureTimeout:
            continue
        except IntakeError as exc:
            watch.raise_reason(exc)
            raise


@contextmanager
def _one_sync_at_a_time(data_dir: Path) -> Iterator[None]:
    """Hold ``DATA_DIR/sync.lock`` (``flock``, exclusive) for a sync, so the
    web console's and a timer's ``flask --app admin sync`` never run at
    once: they would download and open everything twice.

    Raises:
        SyncBusyError: another process is syncing.
    """
    with (data_dir / "sync.lock").open("a") as lock:
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise SyncBusyError(
                "another sync is running (the web console or a timer); try again when it ends"
            ) from exc
        try:
            yield
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


@dataclass
class _Batch:
    """What one page leaves to commit: its rows, the cursor after them, and
    how many of its envelopes were skipped (already here)."""

    cursor: int
    rows: list[CaseRow | QuarantineRow] = field(default_factory=list)
    skipped: int = 0
    #: Ids of envelopes in quarantine that this page opens again (rescan):
    #: their old quarantine rows go when the page's rows are stored.
    retried: set[str] = field(default_factory=set)


def _next_after(items: Sequence[Mapping[str, Any]], cursor: int) -> int | None:
    """Where the next page starts if this one is handled in full (its last
    seq), to fetch it meanwhile; None when the page is empty or its last seq
    is unusable (then opening it fails: out of order)."""
    seq = items[-1].get("seq") if items else None
    if not isinstance(seq, int) or isinstance(seq, bool) or seq <= cursor:
        return None
    return seq


def _set_cursor(session: Session, seq: int) -> None:
    """Move the cursor forward to ``seq`` (never back), in the caller's
    transaction: one UPDATE, an INSERT the first time."""
    table = _table(SyncState)
    moved = session.connection().execute(
        update(table).where(table.c.name == SOURCE, table.c.cursor < seq).values(cursor=seq)
    )
    if moved.rowcount == 0 and session.get(SyncState, SOURCE) is None:
        session.add(SyncState(name=SOURCE, cursor=seq))


def _api_id(item: Mapping[str, Any]) -> str | None:
    api_id = item.get("id")
    return api_id if isinstance(api_id, str) and len(api_id) <= 64 else None


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
    #: In memory only, for :func:`_check_conversation`: the v2 body's
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


def _ingest_page(
    items: Sequence[Mapping[str, Any]],
    cursor: int,
    known: set[str],
    keyring: UnlockedKeyring,
    keys: Sequence[RecipientPrivateKey],
    encryptor: FieldEncryptor,
    client: IntakeClient,
    blobs: Path,
    commit: Callable[[_Batch], None],
    watch: _Watch,
    bounds: _Bounds,
    retry: set[str] | None = None,
    pins: Pins | None = None,
    conversations: Conversations | None = None,
) -> int:
    """Open one page of envelopes and hand them to ``commit``, which stores
    them with the cursor in one transaction (one commit per page, not per
    envelope). If the intake fails part-way, what was opened before is
    still committed and the cursor stands after it, so the next sync
    resumes there. Ids in ``known`` are skipped; every id handled is added
    to ``known``. Ids in ``retry`` are in quarantine and opened again
    (rescan). Returns the new cursor."""
    batch = _Batch(cursor=cursor)
    try:
        for item in items:
            # Stopped, locked (by hand or idle) or out of time mid-page:
            # what was opened is stored, nothing more is opened.
            watch.check()
            seq = item.get("seq")
            if not isinstance(seq, int) or isinstance(seq, bool) or seq <= batch.cursor:
                raise IntakeError("the intake sent envelopes out of order")
            envelope_id = _api_id(item)
            if envelope_id is not None and envelope_id in known:
                batch.skipped += 1
                batch.cursor = seq
                continue
            row: CaseRow | QuarantineRow
            try:
                row = _open_item(item, seq, keys, encryptor, client, blobs, bounds, pins)
                if conversations is not None:
                    conversations.check(row)
            except ConsoleError:
                raise  # the intake or the keyring failed, not this envelope
            except Exception as exc:  # noqa: BLE001
                # A download the watch cut short (Stop, lock, deadline) can
                # look like a truncated attachment: not the envelope's fault.
                watch.raise_reason(exc)
                # Anyone can seal to the public key: one hostile envelope must
                # never stop every later report from being synced.
                row = _quarantined(item, seq, envelope_id, exc)
            batch.rows.append(row)
            if retry and envelope_id in retry:
                batch.retried.add(envelope_id)
            if envelope_id is not None:
                known.add(envelope_id)
            batch.cursor = seq
    finally:
        # Also on the way out of an IntakeError: keep what was opened.
        commit(batch)
    return batch.cursor


def _known_ids(db: Database, ids: Sequence[str], *, with_quarantine: bool = True) -> set[str]:
    """Which of ``ids`` are already here: stored, quarantined (unless
    ``with_quarantine`` is False: a rescan retries those), or purged by
    retention (never added again, admin/operations/retention.py). One query per page."""
    query = _KNOWN if with_quarantine else _KNOWN_NOT_QUARANTINED
    with db.session() as session:
        return {envelope_id for envelope_id in session.scalars(query, {"ids": ids}) if envelope_id}


def _quarantined_ids(db: Database, ids: Sequence[str]) -> set[str]:
    """Which of ``ids`` are in quarantine."""
    with db.session() as session:
        return {
            i
            for i in session.scalars(select(Quarantine.envelope_id).where(Quarantine.envelope_id.in_(ids)))
            if i
        }


# Built once: SQLAlchemy then only expands the id list on each page.
_IDS: BindParameter[str] = bindparam("ids", expanding=True)
_KNOWN: CompoundSelect[Any] = union_all(
    select(Case.envelope_id).where(Case.envelope_id.in_(_IDS)),
    select(Quarantine.envelope_id).where(Quarantine.envelope_id.in_(_IDS)),
    select(PurgedEnvelope.envelope_id).where(PurgedEnvelope.envelope_id.in_(_IDS)),
)
_KNOWN_NOT_QUARANTINED: CompoundSelect[Any] = union_all(
    select(Case.envelope_id).where(Case.envelope_id.in_(_IDS)),
    select(PurgedEnvelope.envelope_id).where(PurgedEnvelope.envelope_id.in_(_IDS)),
)


def _quarantined(item: Mapping[str, Any], seq: int, envelope_id: str | None, exc: Exception) -> QuarantineRow:
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


def _store(db: Database, batch: _Batch, result: SyncResult, blobs: Path | None = None) -> None:
    """Store a page's rows and move the cursor to ``batch.cursor``, all in
    one transaction: after a crash either the whole page is here with the
    cursor after it, or none of it and the cursor before it. The counts in
    ``result`` move only once the rows are committed."""
    rows = batch.rows
    if not rows and not batch.skipped:
        return  # an empty page: nothing to store, the cursor stays
    if blobs is not None and any(isinstance(row, CaseRow) and row.attachments for row in rows):
        # The blobs were fsynced one by one; their names (the renames) are
        # made durable here, once per page, before the rows that point at them.
        _fsync_dir(blobs)
    try:
        with db.session() as session:
            _forget_quarantined(session, batch)
            _insert(session, rows)
            _raise_alarms(session, rows)
            _set_cursor(session, batch.cursor)
    except IntegrityError:
        # Another process stored some of these meanwhile: one by one.
        for row in rows:
            _store_one(db, row, result, retried=row.envelope_id in batch.retried)
        with db.session() as session:
            _set_cursor(session, batch.cursor)
    else:
        for row in rows:
            _count(result, row)
    result.skipped += batch.skipped


def _forget_quarantined(session: Session, batch: _Batch) -> None:
    """Drop the quarantine rows of the envelopes ``batch`` opened again
    (rescan): each is stored anew by the same transaction, as a case or,
    failing again, as one quarantine row with the latest reason."""
    if batch.retried:
        session.execute(delete(_table(Quarantine)).where(_table(Quarantine).c.envelope_id.in_(batch.retried)))


#: Tries to store one row whose alarm's audit entry met another
#: transaction's (both computed the same audit seq, admin/audit/log.py).
ROW_TRIES = 5


def _store_one(
    db: Database, row: CaseRow | QuarantineRow, result: SyncResult, *, retried: bool = False
) -> None:
    """Store one row of a page that did not commit whole. An IntegrityError
    means the envelope is here already (another process stored it), or,
    for a row with an alarm, that its audit entry raced another one: then
    it is tried again, never skipped, since skipping it would move the
    cursor past an envelope that is nowhere. ``retried``: the envelope was
    in quarantine (rescan), and its old row goes in the same transaction.

    Raises:
        SyncBusyError: the row could not be stored after :data:`ROW_TRIES`
            tries (the cursor stays before it).
    """
    for attempt in range(ROW_TRIES):
        try:
            with db.session() as session:
                if retried:
                    _forget_quarantined(session, _Batch(0, retried={str(row.envelope_id)}))
                _insert(session, [row])
                _raise_alarms(session, [row])
        except IntegrityError:
            if isinstance(row, CaseRow) and _known_ids(db, [row.envelope_id]):
                result.skipped += 1
                return
            time.sleep(0.05 * (attempt + 1))
        else:
            _count(result, row)
            return
    raise SyncBusyError("the console's database stayed busy while storing an envelope; sync again")


def _raise_alarms(session: Session, rows: Sequence[CaseRow | QuarantineRow]) -> None:
    """Raise the alarms of quarantined rows in the transaction that stores
    them: an envelope is never quarantined without its alarm."""
    for row in rows:
        if isinstance(row, QuarantineRow) and row.alarm is not None:
            raise_alarm(session, *row.alarm)


def _count(result: SyncResult, row: CaseRow | QuarantineRow) -> None:
    if isinstance(row, CaseRow):
        result.added += 1
    else:
        result.quarantined += 1
        if row.alarm is not None and row.alarm[1] not in result.alarms:
            result.alarms.append(row.alarm[1])


def _insert(session: Session, batch: Sequence[CaseRow | QuarantineRow]) -> None:
    """INSERT the rows of ``batch``: one statement per table, not one per row.

    Raises:
        IntegrityError: an envelope id is already stored (a concurrent sync).
    """
    cases = [row for row in batch if isinstance(row, CaseRow)]
    quarantined = [row.columns() for row in batch if isinstance(row, QuarantineRow)]
    # Core statements with a list of rows run as one executemany; the ORM
    # would instead flush objects one by one.
    if cases:
        session.execute(insert(_table(Case)), [row.columns() for row in cases])
        with_files = {row.envelope_id: row for row in cases if row.attachments}
        if with_files:
            # The new ids, for the attachments' case_id.
            found = session.execute(select(Case.envelope_id, Case.id).where(Case.envelope_id.in_(with_files)))
            attachments = [
                {
                    "case_id": case_id,
                    "position": a.position,
                    "ciphertext_size": a.ciphertext_size,
                    "blob": a.blob,
                    "meta_ct": a.meta_ct,
                }
                for envelope_id, case_id in found
                for a in with_files[envelope_id].attachments
            ]
            session.execute(insert(_table(CaseAttachment)), attachments)
    if quarantined:
        session.execute(insert(_table(Quarantine)), quarantined)


def _table(model: type[Base]) -> Table:
    return model.metadata.tables[model.__tablename__]


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _header_bytes(item: Mapping[str, Any]) -> bytes | None:
    try:
        return b64decode(item.get("header"), "header")
    except ValueError:
        return None


def _open_item(
    item: Mapping[str, Any],
    seq: int,
    keys: Sequence[RecipientPrivateKey],
    encryptor: FieldEncryptor,
    client: IntakeClient,
    blobs: Path,
    bounds: _Bounds,
    pins: Pins | None = None,
) -> CaseRow:
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
    auth: dict[str, bytes] | None = inner.get("auth")

    attachments: list[AttachmentRow] = []
    for index, (meta, slot) in enumerate(zip(inner["attachments"], header.attachments, strict=True)):
        name = blob_name(envelope_id, index)
        # A name of its own (mkstemp: created exclusively, mode 0600): two
        # syncs writing one envelope's blob never share a partial file.
        fd, partial_name = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=blobs)
        partial = Path(partial_name)
        try:
            with client.attachment(envelope_id, index) as pieces, os.fdopen(fd, "wb") as out:

                def kept(stream: Iterator[bytes], limit: int) -> Iterator[bytes]:
                    # Counted before it is written: never a byte past what
                    # the header declares, nor past the sync's cap.
                    received = 0
                    for piece in stream:
                        received += len(piece)
                        if received > limit:
                            raise TamperedEnvelopeError("attachment is longer than its header says")
                        bounds.take(len(piece))
                        out.write(piece)  # ciphertext as received
                        yield piece

                chunks = rechunk(
                    kept(pieces, slot.ciphertext_size), slot.chunk + TAG_SIZE, slot.ciphertext_size
                )
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
            AttachmentRow(
                position=index,
                ciphertext_size=slot.ciphertext_size,
                blob=name,
                meta_ct=encryptor.encrypt(envelope_id, f"attachment/{index}", _json(meta_doc)),
            )
        )
    return CaseRow(
        envelope_id=envelope_id,
        seq=seq,
        day=header.day,
        sealed_by=header.sealed_by,
        follows=_follows(item, inner["report"], envelope_id),
        consent_statistics=_consented(inner["report"], "statistics"),
        consent_quote=_consented(inner["report"], "quote"),
        header=header_raw,
        content_key_ct=encryptor.encrypt(envelope_id, "content-key", content_key),
        report_ct=encryptor.encrypt(envelope_id, "report", _json(inner["report"])),
        attachments=attachments,
        auth=auth,
    )


#: The alarm kind (admin/alarms/service.py) of a forged follow-up.
FORGED_FOLLOWUP_ALARM = "conversation.forged_followup"


class ForgedFollowupError(UnauthenticatedError):
    """A follow-up of a v2 report without a proof that verifies under the
    report's auth key: whoever sealed it did not know the receipt (for
    example an intake writing to its own database). Quarantined under this
    class, never filed on the case."""


class Conversations:
    """The conversation keys of the reports this console holds (envelope
    format v2, core/envelope/conversation.py), for checking follow-ups
    while a sync opens them.

    A report's auth key is read from its case (sealed under the data key)
    or from this sync's own earlier rows, and kept for the sync only."""

    def __init__(self, db: Database, data_key: bytes, encryptor: FieldEncryptor) -> None:
        self._db = db
        self._data_key = data_key
        self._encryptor = encryptor
        # envelope id -> auth key (v2), None (a v1 report), absent: unknown.
        self._keys: dict[str, bytes | None] = {}

    def _key_of(self, envelope_id: str) -> tuple[bool, bytes | None]:
        if envelope_id in self._keys:
            return True, self._keys[envelope_id]
        with self._db.session() as session:
            found = session.execute(
                select(Case.id, Case.auth_key_ct).where(Case.envelope_id == envelope_id)
            ).first()
        if found is None:
            return False, None
        stored = found[1]
        key = None if stored is None else decrypt_field(self._data_key, envelope_id, "auth-key", stored)
        self._keys[envelope_id] = key
        return True, key

    def check(self, row: CaseRow) -> None:
        """Check one opened envelope's place in its conversation, and fill
        its columns: a v2 report's auth key is sealed for storage; a
        follow-up of a v2 report must carry a proof that verifies under
        that report's key (``followup_verified``). A follow-up of an older
        (v1) report, or of a report this console does not hold, has nothing
        to be checked against: it is stored unverified and the case page
        says "not authenticated (older report)".

        Raises:
            ForgedFollowupError: a follow-up of a v2 report without a valid
                proof, or a report that carries a proof instead of a key.
            MalformedEnvelopeError: a follow-up that carries a key.
        """
        auth = row.auth
        row.auth = None
        if row.follows is None:
            if auth is not None and "key" not in auth:
                raise ForgedFollowupError("a report carries a proof instead of its conversation key")
            key = auth.get("key") if auth is not None else None
            if key is not None:
                row.auth_key_ct = self._encryptor.encrypt(row.envelope_id, "auth-key", key)
            self._keys[row.envelope_id] = key
            return
        if auth is not None and "proof" not in auth:
            raise MalformedEnvelopeError("a follow-up carries a key instead of a proof")
        held, key = self._key_of(row.follows)
        if not held or key is None:
            return
        proof = auth.get("proof") if auth is not None else None
        if not verify(followup_proof(key, row.follows, row.envelope_id), proof):
            raise ForgedFollowupError(
                "forged follow-up: its proof does not verify under the report's key; not filed on the case"
            )
        row.followup_verified = True


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
