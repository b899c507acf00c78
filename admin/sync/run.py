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

This module is the run: its threading and locks, and the order of things.
The parts: the intake's API (:mod:`.client`), what a sync may cost
(:mod:`.limits`), opening an item into a row (:mod:`.opening`, pure), the
conversation checks (:mod:`.conversations`), writing blobs
(admin/attachments/blobs.py) and storing rows with the cursor
(:mod:`.storage`).

Speed (``bench/console.py``): one worker thread downloads the next page's
bytes while the caller's thread parses, opens and stores the current one
(see :func:`sync` for why nothing else is on the worker).
"""

from __future__ import annotations

import fcntl
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.db import Database
from core.envelope import KeyFileError, RecipientPrivateKey

from ..attachments.blobs import blob_dir, write_blob
from ..errors import (
    ConsoleError,
    IntakeError,
    KeyLockedError,
    SyncBusyError,
    SyncDeadlineError,
    SyncNotConfiguredError,
    SyncStoppedError,
)
from ..keys.custody import FieldEncryptor, UnlockedKeyring
from ..keys.roster import Pins
from .client import IntakeClient, parse_envelope_page
from .conversations import Conversations
from .limits import Bounds, SyncLimits, usable_seq
from .opening import CaseRow, QuarantineRow, api_id, case_row, open_item, quarantine_row
from .storage import Batch, SyncResult, get_cursor, known_ids, quarantined_ids, rescan, store_page

#: Envelopes asked for per page (the intake's API allows 1-500; it sends
#: fewer when their bytes pass its API_PAGE_BYTES).
MAX_PAGE_SIZE = 500
#: The most an intake from before pages of 500 accepts.
LEGACY_PAGE_SIZE = 100
#: Seconds between looks at the stop button while a page downloads.
STOP_POLL = 0.25

# One sync at a time in this process; across processes the unique envelope
# id keeps a case from being stored twice.
_SYNC_LOCK = threading.Lock()


@dataclass(frozen=True)
class SyncProgress:
    """After each committed page: its number (from 1), how many envelopes
    it held, and the run's counts so far. Counts only, never ids or content."""

    page: int
    envelopes: int
    added: int
    quarantined: int
    skipped: int


@dataclass
class SyncContext:
    """What every page of one sync is opened and stored with.

    Attributes:
        keys: the organization's unlocked private keys (taken again each
            page: a sync is use of the key).
        encryptor: encrypts content under the data key for storage.
        client: the intake's API, for the attachments.
        blobs: ``DATA_DIR/blobs``.
        commit: stores a page's :class:`Batch` with the cursor.
        watch: ends the sync on Stop, lock or deadline.
        bounds: the byte caps, counted as attachments arrive.
        pins: the pinned roster, when a roster key check applies.
        conversations: the conversation checks of follow-ups.
        known: envelope ids handled in this run or found stored; each id
            handled is added.
    """

    keys: Sequence[RecipientPrivateKey]
    encryptor: FieldEncryptor
    client: IntakeClient
    blobs: Path
    commit: Callable[[Batch], None]
    watch: _Watch
    bounds: Bounds
    pins: Pins | None = None
    conversations: Conversations | None = None
    known: set[str] = field(default_factory=set)


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
    encryptor = FieldEncryptor(keyring.data_key())
    try:
        with db.session() as session:
            pins = Pins.load(session, data_dir)
    except KeyFileError as exc:
        raise SyncNotConfiguredError(f"a private key file cannot be read: {exc}") from exc
    blobs = blob_dir(data_dir)
    blobs.mkdir(mode=0o700, parents=True, exist_ok=True)
    result = into if into is not None else SyncResult()

    def commit(batch: Batch) -> None:
        store_page(db, batch, result, blobs)

    ctx = SyncContext(
        keys=keyring.private_keys(),
        encryptor=encryptor,
        client=client,
        blobs=blobs,
        commit=commit,
        watch=_Watch(keyring, stop, limits.deadline, client),
        bounds=Bounds(limits),
        pins=pins,
        conversations=Conversations(db, keyring.data_key(), encryptor),
    )

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
        pager = _Pager(client, max(1, min(page_size, MAX_PAGE_SIZE)))
        client.resume()
        ctx.watch.start()
        try:
            if from_start:
                rescan(db)
            _run_pages(db, keyring, ctx, pager, result, progress, from_start=from_start)
        except IntakeError as exc:
            # A download cut short by the watch: say why it ended.
            ctx.watch.raise_reason(exc)
            raise
        finally:
            ctx.watch.close()
            pager.close()
    return result


class _Pager:
    """Downloads the next page on one worker thread (network only) while
    the sync's thread opens the current one, at the page size the intake
    accepts."""

    def __init__(self, client: IntakeClient, limit: int) -> None:
        self._client = client
        self.limit = limit
        self._net = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sync-fetch")
        #: The download in progress or done and not yet taken.
        self.pending: Future[bytes] | None = None

    def fetch(self, after: int | None) -> None:
        """Start downloading the page after ``after`` (None: no next page)."""
        self.pending = self._net.submit(self._download, after) if after is not None else None

    def close(self) -> None:
        """Stop the worker. A page fetched ahead and not used (a failure,
        or the key was locked): a download in progress is cut short, and
        not waited for; it ends on its own, its error moot."""
        if self.pending is not None and not self.pending.cancel():
            self._client.abort_page()
        self._net.shutdown(wait=False, cancel_futures=True)

    def _download(self, after: int) -> bytes:
        # An intake from before pages of 500 refuses a limit over 100 (400):
        # ask again with 100, and keep that for the rest of this sync.
        try:
            return self._client.envelope_page(after, self.limit)
        except IntakeError as exc:
            if exc.status != 400 or self.limit <= LEGACY_PAGE_SIZE:
                raise
            self.limit = LEGACY_PAGE_SIZE
            return self._client.envelope_page(after, self.limit)


def _run_pages(
    db: Database,
    keyring: UnlockedKeyring,
    ctx: SyncContext,
    pager: _Pager,
    result: SyncResult,
    progress: Callable[[SyncProgress], None] | None,
    *,
    from_start: bool,
) -> None:
    """Open and store every page after the cursor, each downloaded by
    ``pager`` while the one before is opened."""
    cursor = get_cursor(db)
    pager.fetch(cursor)
    pages = 0
    while (page := pager.pending) is not None:
        items, more = parse_envelope_page(_page_result(page, ctx.watch))
        # A sync is use of the key (it does not idle-lock under a
        # long one), and stops when someone locks it.
        ctx.keys = keyring.private_keys()
        after = _next_after(items, cursor) if more else None
        pager.fetch(after)
        # A page's ids are checked against the database once, before it is opened.
        ids = [i for i in (api_id(item) for item in items) if i is not None and i not in ctx.known]
        retry: set[str] = set()
        if ids:
            ctx.known |= known_ids(db, ids, with_quarantine=not from_start)
            if from_start:
                retry = quarantined_ids(db, ids)
        cursor = _ingest_page(items, cursor, ctx, retry)
        pages += 1
        if progress is not None:
            progress(SyncProgress(pages, len(items), result.added, result.quarantined, result.skipped))
        if not more or not items:
            break


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


def _next_after(items: Sequence[Mapping[str, Any]], cursor: int) -> int | None:
    """Where the next page starts if this one is handled in full (its last
    seq), to fetch it meanwhile; None when the page is empty or its last seq
    is unusable (then opening it fails: out of order)."""
    seq = items[-1].get("seq") if items else None
    if not usable_seq(seq, cursor):
        return None
    return seq


def _ingest_page(
    items: Sequence[Mapping[str, Any]], cursor: int, ctx: SyncContext, retry: set[str] | None = None
) -> int:
    """Open one page of envelopes and hand them to ``ctx.commit``, which
    stores them with the cursor in one transaction (one commit per page,
    not per envelope). If the intake fails part-way, what was opened before
    is still committed and the cursor stands after it, so the next sync
    resumes there. Ids in ``ctx.known`` are skipped; every id handled is
    added to it. Ids in ``retry`` are in quarantine and opened again
    (rescan). Returns the new cursor."""
    batch = Batch(cursor=cursor)
    try:
        for item in items:
            # Stopped, locked (by hand or idle) or out of time mid-page:
            # what was opened is stored, nothing more is opened.
            ctx.watch.check()
            seq = item.get("seq")
            if not usable_seq(seq, batch.cursor):
                raise IntakeError("the intake sent envelopes out of order")
            envelope_id = api_id(item)
            if envelope_id is not None and envelope_id in ctx.known:
                batch.skipped += 1
                batch.cursor = seq
                continue
            batch.rows.append(_row(item, seq, envelope_id, ctx))
            if retry and envelope_id in retry:
                batch.retried.add(envelope_id)
            if envelope_id is not None:
                ctx.known.add(envelope_id)
            batch.cursor = seq
    finally:
        # Also on the way out of an IntakeError: keep what was opened.
        ctx.commit(batch)
    return batch.cursor


def _row(
    item: Mapping[str, Any], seq: int, envelope_id: str | None, ctx: SyncContext
) -> CaseRow | QuarantineRow:
    """The case row of an item, or its quarantine row when it does not open.

    Raises:
        ConsoleError: the intake or the keyring failed, not this envelope.
    """
    try:
        row = _open_item(item, seq, ctx)
        if ctx.conversations is not None:
            ctx.conversations.check(row)
        return row
    except ConsoleError:
        raise  # the intake or the keyring failed, not this envelope
    except Exception as exc:  # noqa: BLE001
        # A download the watch cut short (Stop, lock, deadline) can
        # look like a truncated attachment: not the envelope's fault.
        ctx.watch.raise_reason(exc)
        # Anyone can seal to the public key: one hostile envelope must
        # never stop every later report from being synced.
        return quarantine_row(item, seq, envelope_id, exc)


def _open_item(item: Mapping[str, Any], seq: int, ctx: SyncContext) -> CaseRow:
    """Open an item (:func:`open_item`), download and verify each of its
    attachments into ``ctx.blobs`` (:func:`write_blob`), and make its row
    (:func:`case_row`).

    Raises:
        EnvelopeError: it does not open or verify (quarantined).
        IntakeError, SyncLimitError: the download failed or passed the cap.
    """
    opened = open_item(item, seq, ctx.keys, ctx.bounds, ctx.pins)
    for index, (meta, _slot) in enumerate(opened.files()):
        with ctx.client.attachment(opened.envelope_id, index) as pieces:
            write_blob(ctx.blobs, opened.header, opened.content_key, index, meta, pieces, ctx.bounds.take)
    return case_row(opened, ctx.encryptor)
