"""Sync commits a page at a time (multi-row inserts, the cursor in the same
transaction) while a worker downloads the next page: a bad envelope is
quarantined without its page, a page whose commit fails leaves the cursor
before it, a failure fetching ahead still leaves the pages opened before it
stored, pages shorter than asked are read on, and an oversized page is
refused."""

from __future__ import annotations

import fcntl
import gzip
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from admin.errors import IntakeError, KeyLockedError, SyncBusyError
from admin.extensions import DB_EXTENSION, KEYRING_EXTENSION
from admin.models import Case, CaseAttachment, Quarantine
from admin.sync.client import IntakeClient
from admin.sync.run import SyncProgress, sync
from admin.sync.storage import SyncResult, get_cursor
from core.envelope import AttachmentInput
from tests.admin.admin_testlib import FakeIntake, Served, sync_from, unlock


def run_sync(app: Flask, fake: FakeIntake, page_size: int, progress: list[SyncProgress]) -> SyncResult:
    return sync_from(app, fake, page_size, progress=progress.append)


def stored_seqs(app: Flask) -> tuple[list[int], list[int]]:
    with app.extensions[DB_EXTENSION].session() as session:
        cases = list(session.scalars(select(Case.seq).order_by(Case.seq)))
        quarantined = list(session.scalars(select(Quarantine.seq).order_by(Quarantine.seq)))
    return cases, quarantined


def test_one_bad_envelope_is_quarantined_and_the_rest_of_its_page_stored(
    console_app: Flask, fake_intake: FakeIntake
) -> None:
    for n in range(3):
        fake_intake.add(
            {"narrative": f"fine {n}"}, (AttachmentInput(f"{n}.txt", "text/plain", b"n" * (n + 1)),)
        )
    bad = fake_intake.add({"narrative": "bad"})
    bad.body = bad.body[:-1] + bytes([bad.body[-1] ^ 1])
    fake_intake.add({"narrative": "fine 3"})
    unlock(console_app)
    progress: list[SyncProgress] = []
    assert run_sync(console_app, fake_intake, 5, progress) == SyncResult(added=4, quarantined=1, skipped=0)
    assert progress == [SyncProgress(1, 5, 4, 1, 0)]
    assert stored_seqs(console_app) == ([1, 2, 3, 5], [4])
    assert get_cursor(console_app.extensions[DB_EXTENSION]) == 5
    with console_app.extensions[DB_EXTENSION].session() as session:
        # Each attachment row points at its own case (ids from the multi-row insert).
        pairs = session.execute(select(Case.envelope_id, CaseAttachment.blob).join(CaseAttachment.case))
        assert sorted(blob.split("-")[0] for _, blob in pairs) == sorted(
            e.envelope_id for e in fake_intake.envelopes[:3]
        )
        reason = session.scalars(select(Quarantine.error_class)).one()
    assert reason == "TamperedEnvelopeError"


def test_a_page_whose_commit_fails_leaves_the_cursor_before_it(
    console_app: Flask, fake_intake: FakeIntake, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crash between opening a page and committing it: none of its
    envelopes are stored and the cursor stays after the previous page; the
    next sync stores them."""
    import admin.sync.storage as sync_module

    for n in range(7):
        fake_intake.add({"narrative": f"report {n}"})
    real_set_cursor = sync_module._set_cursor

    def crash_on_page_two(session: Any, seq: int) -> None:
        real_set_cursor(session, seq)
        if seq == 6:
            session.flush()  # the rows and the cursor are written, not committed
            raise RuntimeError("power cut")

    monkeypatch.setattr(sync_module, "_set_cursor", crash_on_page_two)
    unlock(console_app)
    progress: list[SyncProgress] = []
    with pytest.raises(RuntimeError, match="power cut"):
        run_sync(console_app, fake_intake, 3, progress)
    assert stored_seqs(console_app) == ([1, 2, 3], [])
    assert get_cursor(console_app.extensions[DB_EXTENSION]) == 3
    assert progress == [SyncProgress(1, 3, 3, 0, 0)]

    monkeypatch.setattr(sync_module, "_set_cursor", real_set_cursor)
    progress.clear()
    assert run_sync(console_app, fake_intake, 3, progress) == SyncResult(added=4)
    assert stored_seqs(console_app) == ([1, 2, 3, 4, 5, 6, 7], [])
    assert get_cursor(console_app.extensions[DB_EXTENSION]) == 7


def test_a_failure_fetching_ahead_keeps_the_pages_opened_before(
    console_app: Flask, fake_intake: FakeIntake, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The next page is fetched while the current one is opened: when that
    fetch fails, the current page is still committed, then the error is
    raised; nothing after it is stored."""
    for n in range(7):
        fake_intake.add({"narrative": f"report {n}"})
    real_page = IntakeClient.envelope_page

    def fail_after_four(self: IntakeClient, after: int, limit: int) -> bytes:
        if after >= 4:
            raise IntakeError("the intake answered HTTP 503 for /api/v1/envelopes")
        return real_page(self, after, limit)

    monkeypatch.setattr(IntakeClient, "envelope_page", fail_after_four)
    unlock(console_app)
    progress: list[SyncProgress] = []
    with pytest.raises(IntakeError, match="503"):
        run_sync(console_app, fake_intake, 2, progress)
    assert stored_seqs(console_app) == ([1, 2, 3, 4], [])
    assert get_cursor(console_app.extensions[DB_EXTENSION]) == 4
    assert [p.page for p in progress] == [1, 2]


def test_an_envelope_served_twice_in_one_run_is_stored_once(
    console_app: Flask, fake_intake: FakeIntake
) -> None:
    """A hostile or broken intake lists the same envelope again on a later
    page, while the first page's commit may still be in flight: skipped."""
    first = fake_intake.add({"narrative": "once"})
    fake_intake.add({"narrative": "other"})
    fake_intake.envelopes.append(
        Served(seq=3, sealed=first.sealed, header=first.header, body=first.body, attachments=[])
    )
    unlock(console_app)
    progress: list[SyncProgress] = []
    assert run_sync(console_app, fake_intake, 2, progress) == SyncResult(added=2, quarantined=0, skipped=1)
    assert stored_seqs(console_app) == ([1, 2], [])
    assert get_cursor(console_app.extensions[DB_EXTENSION]) == 3


def test_pages_shorter_than_asked_are_read_on_while_more(console_app: Flask, fake_intake: FakeIntake) -> None:
    """The intake sends fewer envelopes than the limit when their bytes
    pass its page budget: the sync keeps asking while ``more`` is true."""
    for n in range(5):
        fake_intake.add({"narrative": f"report {n}"})
    fake_intake.page_cap = 2
    unlock(console_app)
    progress: list[SyncProgress] = []
    assert run_sync(console_app, fake_intake, 500, progress) == SyncResult(added=5)
    assert [(p.page, p.envelopes) for p in progress] == [(1, 2), (2, 2), (3, 1)]
    assert stored_seqs(console_app) == ([1, 2, 3, 4, 5], [])
    assert get_cursor(console_app.extensions[DB_EXTENSION]) == 5


def test_a_page_larger_than_a_console_reads_is_refused_unparsed(
    console_app: Flask, fake_intake: FakeIntake, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hostile or broken intake cannot make the console hold a reply of
    any size: past MAX_PAGE_BYTES the sync stops with nothing stored and
    the cursor where it was."""
    import admin.sync.client as sync_module

    fake_intake.add({"narrative": "x" * 3000})
    monkeypatch.setattr(sync_module, "MAX_PAGE_BYTES", 2000)
    unlock(console_app)
    with pytest.raises(IntakeError, match="larger than a console reads"):
        run_sync(console_app, fake_intake, 500, [])
    # Compressed, the page is under the cap on the wire; it is what it
    # expands to that counts.
    fake_intake.gzip_pages, fake_intake.page_padding = True, 5_000_000
    monkeypatch.setattr(sync_module, "MAX_PAGE_BYTES", 100_000)
    with pytest.raises(IntakeError, match="larger than a console reads"):
        run_sync(console_app, fake_intake, 500, [])
    fake_intake.page_padding = 0
    assert len(gzip.compress(b"a" * 5_000_000)) < 100_000
    assert stored_seqs(console_app) == ([], [])
    assert get_cursor(console_app.extensions[DB_EXTENSION]) == 0
    monkeypatch.setattr(sync_module, "MAX_PAGE_BYTES", 64 * 1024 * 1024)
    assert run_sync(console_app, fake_intake, 500, []) == SyncResult(added=1)


def test_an_intake_from_before_pages_of_500_is_asked_for_100(
    console_app: Flask, fake_intake: FakeIntake
) -> None:
    """A console upgraded before its intake: the intake refuses a limit
    over 100 (HTTP 400), and the sync asks again with 100."""
    for n in range(3):
        fake_intake.add({"narrative": f"report {n}"})
    fake_intake.max_limit = 100
    unlock(console_app)
    assert run_sync(console_app, fake_intake, 500, []) == SyncResult(added=3)


def test_an_error_message_names_no_envelope(console_app: Flask, fake_intake: FakeIntake) -> None:
    """Sync errors reach the status page, flashes and a timer's journal:
    they name the endpoint, not the envelope."""
    served = fake_intake.add({"narrative": "x"}, (AttachmentInput("a.txt", "text/plain", b"a"),))
    served.fail_download = True  # its download answers 503
    unlock(console_app)
    with pytest.raises(IntakeError) as failed:
        run_sync(console_app, fake_intake, 500, [])
    assert served.envelope_id not in str(failed.value)
    assert "/api/v1/envelopes/<id>/attachments/0" in str(failed.value)


def test_locking_the_key_stops_a_running_sync_after_what_it_opened(
    console_app: Flask, fake_intake: FakeIntake
) -> None:
    """A coordinator presses Lock while a long sync runs: nothing more is
    opened, what was opened is stored, and the next sync goes on."""
    for n in range(5):
        fake_intake.add({"narrative": f"report {n}"})
    unlock(console_app)
    keyring = console_app.extensions[KEYRING_EXTENSION]

    def lock_after_first_page(step: SyncProgress) -> None:
        keyring.lock()

    with IntakeClient(fake_intake.url, fake_intake.token) as client, pytest.raises(KeyLockedError):
        sync(
            console_app.extensions[DB_EXTENSION],
            keyring,
            Path(console_app.config["DATA_DIR"]),
            client,
            2,
            progress=lock_after_first_page,
        )
    assert stored_seqs(console_app) == ([1, 2], [])
    assert get_cursor(console_app.extensions[DB_EXTENSION]) == 2
    unlock(console_app)
    assert run_sync(console_app, fake_intake, 2, []) == SyncResult(added=3)


def test_a_page_that_trickles_in_past_its_deadline_is_given_up(
    console_app: Flask, fake_intake: FakeIntake
) -> None:
    """However its bytes arrive, a page download ends by its deadline."""
    fake_intake.add({"narrative": "x"})
    unlock(console_app)
    with (
        IntakeClient(fake_intake.url, fake_intake.token, page_deadline=-1) as client,
        pytest.raises(IntakeError, match="too slowly"),
    ):
        sync(
            console_app.extensions[DB_EXTENSION],
            console_app.extensions[KEYRING_EXTENSION],
            Path(console_app.config["DATA_DIR"]),
            client,
        )
    assert stored_seqs(console_app) == ([], [])


def test_a_second_process_syncing_at_once_is_refused(console_app: Flask, fake_intake: FakeIntake) -> None:
    """The web console and a timer's command never sync at once
    (DATA_DIR/sync.lock): the second says another sync is running."""
    fake_intake.add({"narrative": "x"}, (AttachmentInput("a.txt", "text/plain", b"a" * 100),))
    unlock(console_app)
    data_dir = Path(console_app.config["DATA_DIR"])
    with (data_dir / "sync.lock").open("a") as other:
        fcntl.flock(other.fileno(), fcntl.LOCK_EX)  # another process's sync
        with pytest.raises(SyncBusyError, match="another sync is running"):
            run_sync(console_app, fake_intake, 500, [])
        fcntl.flock(other.fileno(), fcntl.LOCK_UN)
    assert run_sync(console_app, fake_intake, 500, []) == SyncResult(added=1)
    assert [p.name for p in (data_dir / "blobs").rglob("*.part")] == []
