"""Sync against a fake intake on 127.0.0.1: adds, idempotence, resuming,
quarantine, refusals, and no plaintext at rest."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select

from admin.errors import IntakeAuthError, IntakeError, KeyLockedError
from admin.extensions import DB_EXTENSION, KEYRING_EXTENSION
from admin.models import Case, Quarantine, SyncState
from admin.sync.client import IntakeClient
from admin.sync.run import sync
from admin.sync.storage import SyncResult, get_cursor
from core.envelope import AttachmentInput, RecipientPrivateKey, seal
from tests.admin.admin_testlib import (
    PASSPHRASE,
    AuthActions,
    FakeIntake,
    Served,
    canary,
    files_containing,
    pin_roster,
    sync_from,
    unlock,
)


def run_sync(app: Flask, fake: FakeIntake, page_size: int = 100) -> SyncResult:
    return sync_from(app, fake, page_size)


def stored(app: Flask) -> tuple[list[Case], list[Quarantine]]:
    with app.extensions[DB_EXTENSION].session() as session:
        return list(session.scalars(select(Case).order_by(Case.seq))), list(
            session.scalars(select(Quarantine))
        )


def test_sync_adds_then_nothing(console_app: Flask, fake_intake: FakeIntake) -> None:
    for n in range(5):
        fake_intake.add({"narrative": f"report {n}", "language": "en"})
    unlock(console_app)
    assert run_sync(console_app, fake_intake, page_size=2) == SyncResult(added=5, quarantined=0, skipped=0)
    cases, quarantined = stored(console_app)
    assert [c.seq for c in cases] == [1, 2, 3, 4, 5]
    assert [c.envelope_id for c in cases] == [e.envelope_id for e in fake_intake.envelopes]
    assert quarantined == []
    assert get_cursor(console_app.extensions[DB_EXTENSION]) == 5

    assert run_sync(console_app, fake_intake) == SyncResult(added=0, quarantined=0, skipped=0)
    fake_intake.add({"narrative": "later"})
    assert run_sync(console_app, fake_intake) == SyncResult(added=1, quarantined=0, skipped=0)


def test_sync_is_idempotent_after_a_cursor_reset(console_app: Flask, fake_intake: FakeIntake) -> None:
    fake_intake.add({"narrative": "one"})
    fake_intake.add({"narrative": "two"}, (AttachmentInput("a.txt", "text/plain", b"x" * 70_000),))
    unlock(console_app)
    assert run_sync(console_app, fake_intake).added == 2
    with console_app.extensions[DB_EXTENSION].session() as session:
        state = session.get(SyncState, "intake")
        assert state is not None
        state.cursor = 0
    assert run_sync(console_app, fake_intake) == SyncResult(added=0, quarantined=0, skipped=2)
    assert len(stored(console_app)[0]) == 2


def test_tampered_envelopes_are_quarantined_and_the_rest_sync(
    console_app: Flask, fake_intake: FakeIntake
) -> None:
    fake_intake.add({"narrative": "fine 1"})
    bad_body = fake_intake.add({"narrative": "bad body"})
    bad_body.body = bad_body.body[:100] + bytes([bad_body.body[100] ^ 1]) + bad_body.body[101:]
    bad_file = fake_intake.add(
        {"narrative": "bad file"}, (AttachmentInput("f.bin", "application/pdf", b"%PDF" * 40_000),)
    )
    data = bad_file.attachments[0]
    bad_file.attachments[0] = data[:70_000] + bytes([data[70_000] ^ 1]) + data[70_001:]
    swapped = fake_intake.add({"narrative": "swapped header"})
    swapped.header = fake_intake.envelopes[0].header
    fake_intake.add({"narrative": "fine 2"})
    unlock(console_app)

    assert run_sync(console_app, fake_intake) == SyncResult(added=2, quarantined=3, skipped=0)
    cases, quarantined = stored(console_app)
    assert [c.seq for c in cases] == [1, 5]
    by_seq = {q.seq: q for q in quarantined}
    assert by_seq[2].error_class == "TamperedEnvelopeError"
    assert by_seq[2].envelope_id == bad_body.envelope_id
    assert by_seq[3].error_class == "TamperedEnvelopeError"
    assert "chunk" in by_seq[3].message
    assert by_seq[4].error_class == "MalformedEnvelopeError"
    assert by_seq[4].header == fake_intake.envelopes[0].header
    # No partial blob of the quarantined attachment remains.
    assert list((Path(console_app.config["DATA_DIR"]) / "blobs").iterdir()) == []
    # A second sync neither re-adds nor re-quarantines.
    assert run_sync(console_app, fake_intake) == SyncResult()


def test_envelope_for_another_key_is_quarantined(console_app: Flask, fake_intake: FakeIntake) -> None:
    # A key of the pinned roster, but not ours: quarantined as not for us.
    stranger = RecipientPrivateKey.generate().public_key
    pin_roster(console_app, stranger)
    sealed = seal({"narrative": "not for us"}, [stranger], day=date(2026, 11, 2))
    fake_intake.envelopes.append(Served(seq=1, sealed=sealed, header=sealed.header, body=sealed.body))
    unlock(console_app)
    assert run_sync(console_app, fake_intake).quarantined == 1
    assert stored(console_app)[1][0].error_class == "NotARecipientError"


@pytest.mark.parametrize("seq", [2**31, 2**63, 10**30])
def test_a_sequence_number_past_the_database_integer_is_the_intakes_fault(
    console_app: Flask, fake_intake: FakeIntake, seq: int
) -> None:
    """A seized intake numbering an envelope past the integer both sides
    store it in (32 bits on PostgreSQL): the
    sync stops with an intake error (which raises the alarm) and keeps what
    came before, not a database overflow that ends the sync job as a crash."""
    fake_intake.add({"narrative": "one"})
    fake_intake.add({"narrative": "two"}).seq = seq
    unlock(console_app)
    with pytest.raises(IntakeError, match="out of order"):
        run_sync(console_app, fake_intake)
    assert [c.seq for c in stored(console_app)[0]] == [1]
    assert get_cursor(console_app.extensions[DB_EXTENSION]) == 1


def test_sync_resumes_after_an_interruption(console_app: Flask, fake_intake: FakeIntake) -> None:
    fake_intake.add({"narrative": "one"})
    broken = fake_intake.add({"narrative": "two"}, (AttachmentInput("a.txt", "text/plain", b"data"),))
    fake_intake.add({"narrative": "three"})
    broken.fail_download = True
    unlock(console_app)
    with pytest.raises(IntakeError, match="503"):
        run_sync(console_app, fake_intake)
    assert [c.seq for c in stored(console_app)[0]] == [1]
    assert get_cursor(console_app.extensions[DB_EXTENSION]) == 1
    broken.fail_download = False
    assert run_sync(console_app, fake_intake) == SyncResult(added=2)
    assert [c.seq for c in stored(console_app)[0]] == [1, 2, 3]


def test_sync_refuses_when_locked(console_app: Flask, fake_intake: FakeIntake) -> None:
    fake_intake.add({"narrative": "x"})
    with pytest.raises(KeyLockedError):
        run_sync(console_app, fake_intake)
    assert stored(console_app) == ([], [])


def test_sync_refuses_a_bad_token(console_app: Flask, fake_intake: FakeIntake) -> None:
    fake_intake.add({"narrative": "x"})
    unlock(console_app)
    with IntakeClient(fake_intake.url, "wrong-token") as client, pytest.raises(IntakeAuthError):
        sync(
            console_app.extensions[DB_EXTENSION],
            console_app.extensions[KEYRING_EXTENSION],
            Path(console_app.config["DATA_DIR"]),
            client,
        )


def test_sync_refuses_an_unreachable_intake(console_app: Flask, org_key: RecipientPrivateKey) -> None:
    unlock(console_app)
    with IntakeClient("http://127.0.0.1:9", "token", timeout=2) as client, pytest.raises(IntakeError):
        sync(
            console_app.extensions[DB_EXTENSION],
            console_app.extensions[KEYRING_EXTENSION],
            Path(console_app.config["DATA_DIR"]),
            client,
        )


def test_no_plaintext_at_rest(console_app: Flask, fake_intake: FakeIntake) -> None:
    text, name, content = canary(), canary(), canary()
    fake_intake.add(
        {"narrative": f"They called my mother. {text}", "language": "zh"},
        (AttachmentInput(f"{name}.jpg", "image/jpeg", (content * 5000).encode()),),
    )
    fake_intake.add({"narrative": f"again {text}"})
    unlock(console_app)
    assert run_sync(console_app, fake_intake).added == 2
    data_dir = Path(console_app.config["DATA_DIR"])
    assert list((data_dir / "blobs").iterdir())
    for needle in (text, name, content, "They called my mother"):
        assert files_containing(data_dir, needle.encode()) == []
    # The content is there, just closed: the canary is readable when unlocked.
    with console_app.test_request_context():
        from admin.cases.service import find_case, open_case

        with console_app.extensions[DB_EXTENSION].session() as session:
            opened = open_case(find_case(session, "1"), console_app.extensions[KEYRING_EXTENSION])
            assert text in opened.report["narrative"]


def test_sync_button(
    console_app: Flask, console_client: FlaskClient, auth: AuthActions, fake_intake: FakeIntake
) -> None:
    fake_intake.add({"narrative": "x"})
    auth.login_as("reviewer")
    locked = console_client.post("/sync", follow_redirects=True)
    assert b"Unlock the organization key to sync." in locked.data
    unlock(console_app)
    done = console_client.post("/sync", follow_redirects=True)
    assert b"Sync done: 1 added, 0 quarantined, 0 skipped." in done.data
    console_app.config["INTAKE_TOKEN"] = "wrong"
    refused = console_client.post("/sync", follow_redirects=True)
    assert b"Sync failed: the intake refused the API token" in refused.data


def test_sync_cli(console_app: Flask, console_runner: FlaskCliRunner, fake_intake: FakeIntake) -> None:
    fake_intake.add({"narrative": "a"})
    fake_intake.add({"narrative": "b"})
    result = console_runner.invoke(args=["sync"], input=PASSPHRASE + "\n")
    assert result.exit_code == 0, result.output
    assert "added 2, quarantined 0" in result.output
    assert not console_app.extensions[KEYRING_EXTENSION].unlocked  # locked again after the command
    again = console_runner.invoke(args=["sync"], input=PASSPHRASE + "\n")
    assert "added 0, quarantined 0" in again.output
    wrong = console_runner.invoke(args=["sync"], input="wrong passphrase\n")
    assert wrong.exit_code == 1
    assert "wrong passphrase" in wrong.output


def test_sync_cli_not_configured(console_runner: FlaskCliRunner, org_key: RecipientPrivateKey) -> None:
    result = console_runner.invoke(args=["sync"], input=PASSPHRASE + "\n")
    assert result.exit_code == 1
    assert "ADMIN_INTAKE_URL" in result.output


def test_sync_batch_survives_a_concurrent_sync(
    console_app: Flask, fake_intake: FakeIntake, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process stores an envelope of this page meanwhile: the page
    falls back to one transaction per envelope, skipping that one."""
    import admin.sync.run as sync_module

    fake_intake.add({"narrative": "one"}, (AttachmentInput("a.txt", "text/plain", b"data"),))
    second = fake_intake.add({"narrative": "two"})
    fake_intake.add({"narrative": "three"}, (AttachmentInput("b.txt", "text/plain", b"more"),))
    real_open = sync_module._open_item

    def racing_open(item: dict[str, object], seq: int, *args: object) -> Case:
        case = real_open(item, seq, *args)  # type: ignore[arg-type]
        if seq == 2:
            with console_app.extensions[DB_EXTENSION].session() as session:
                session.add(
                    Case(
                        envelope_id=second.envelope_id,
                        seq=2,
                        day=case.day,
                        sealed_by=case.sealed_by,
                        status="new",
                        header=case.header,
                        content_key_ct=case.content_key_ct,
                        report_ct=case.report_ct,
                    )
                )
        return case

    monkeypatch.setattr(sync_module, "_open_item", racing_open)
    unlock(console_app)
    assert run_sync(console_app, fake_intake) == SyncResult(added=2, quarantined=0, skipped=1)
    cases, _ = stored(console_app)
    assert [c.seq for c in cases] == [1, 2, 3]
    assert get_cursor(console_app.extensions[DB_EXTENSION]) == 3


def test_an_unexpected_failure_quarantines_one_envelope_not_the_sync(
    console_app: Flask, fake_intake: FakeIntake, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Anyone can seal to the public key: whatever one envelope makes the
    opener raise, later reports still arrive."""
    import admin.sync.run as sync_module

    fake_intake.add({"narrative": "hostile"})
    fake_intake.add({"narrative": "fine"})
    real_open = sync_module._open_item

    def open_or_explode(item: dict[str, object], seq: int, *args: object) -> object:
        if seq == 1:
            raise UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed")
        return real_open(item, seq, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(sync_module, "_open_item", open_or_explode)
    unlock(console_app)
    assert run_sync(console_app, fake_intake) == SyncResult(added=1, quarantined=1, skipped=0)
    cases, quarantined = stored(console_app)
    assert [c.seq for c in cases] == [2]
    assert quarantined[0].error_class == "UnicodeEncodeError"
    assert quarantined[0].message == "unexpected error while opening"
    assert run_sync(console_app, fake_intake) == SyncResult()


def test_a_network_failure_mid_envelope_is_not_quarantined(
    console_app: Flask, fake_intake: FakeIntake, monkeypatch: pytest.MonkeyPatch
) -> None:
    import admin.sync.run as sync_module

    fake_intake.add({"narrative": "one"})

    def unreachable(*_args: object) -> object:
        raise IntakeError("the intake did not answer")

    monkeypatch.setattr(sync_module, "_open_item", unreachable)
    unlock(console_app)
    with pytest.raises(IntakeError):
        run_sync(console_app, fake_intake)
    assert stored(console_app) == ([], [])
    assert get_cursor(console_app.extensions[DB_EXTENSION]) == 0
