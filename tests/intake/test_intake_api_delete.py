"""``DELETE /api/v1/envelopes/<id>``: an organization done with an envelope
(its console purged the case) removes its recipient entry; the envelope, its
receipt hash and blobs go when no organization is left. Also end to end: the
console's purge against this intake."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update
from werkzeug.serving import make_server

import intake
from core.envelope import AttachmentInput, RecipientPrivateKey, RecipientPublicKey, seal
from core.timing import today_utc
from intake.store.envelopes import store_envelope
from intake.store.models import Envelope, EnvelopeBlob, EnvelopeRecipient, ReceiptRecord

from ..helpers import write_key_file

Orgs = tuple[Flask, RecipientPrivateKey, RecipientPrivateKey]


@pytest.fixture(params=["files", "database"])
def two_orgs(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Orgs]:
    keys = tmp_path / "keys"
    one = write_key_file(keys, "org-one")
    two = write_key_file(keys, "org-two")
    app = intake.create_app(
        {
            "TESTING": True,
            "DATA_DIR": str(tmp_path / "data"),
            "KEYS_DIR": str(keys),
            "BLOB_STORE": request.param,
        }
    )
    yield app, one, two
    app.extensions["intake.db"].engine.dispose()


def _token(app: Flask, recipient_id: str) -> str:
    result = app.test_cli_runner().invoke(args=["api-token", "create", recipient_id])
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()[-1]


def _store(
    app: Flask, to: list[RecipientPublicKey], files: tuple[bytes, ...] = (), followup_of: int | None = None
) -> Envelope:
    sealed = seal(
        {"narrative": "x"},
        to,
        day=today_utc(),
        attachments=[AttachmentInput(f"f{i}", "application/octet-stream", d) for i, d in enumerate(files)],
    )
    with app.app_context(), app.extensions["intake.db"].sessions() as session:
        seq = store_envelope(
            session,
            app.extensions["intake.blobs"],
            sealed,
            app.extensions["intake.keyring"].recipient_of_key(),
            receipt_hash=sealed.envelope_id * 2,
            followup_of=followup_of,
        )
        row = session.get_one(Envelope, seq)
        session.expunge(row)
        return row


def _delete(client: FlaskClient, token: str, envelope_id: str) -> tuple[int, object]:
    response = client.delete(f"/api/v1/envelopes/{envelope_id}", headers={"Authorization": f"Bearer {token}"})
    return response.status_code, response.get_json(silent=True)


def _count(app: Flask, model: object) -> int:
    with app.extensions["intake.db"].sessions() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0  # type: ignore[arg-type]


def _listed(client: FlaskClient, token: str) -> list[str]:
    page = client.get("/api/v1/envelopes", headers={"Authorization": f"Bearer {token}"}).get_json()
    return [e["id"] for e in page["envelopes"]]


def test_only_ours_is_deleted_with_receipt_and_blobs(two_orgs: Orgs) -> None:
    app, one, _two = two_orgs
    row = _store(app, [one.public_key], (b"a" * 70_000, b"b"))
    client = app.test_client()
    token = _token(app, "org-one")
    assert _delete(client, token, row.envelope_id) == (200, {"deleted": True, "remaining_recipients": 0})
    for model in (Envelope, EnvelopeRecipient, ReceiptRecord, EnvelopeBlob):
        assert _count(app, model) == 0, model
    blobs = Path(app.config["DATA_DIR"]) / "blobs"
    assert not blobs.exists() or list(blobs.iterdir()) == []
    # Done already: as absent as any other id.
    assert _delete(client, token, row.envelope_id)[0] == 404


def test_shared_envelope_survives_for_the_other_organization(two_orgs: Orgs) -> None:
    app, one, two = two_orgs
    shared = _store(app, [one.public_key, two.public_key], (b"evidence",))
    client = app.test_client()
    token_one, token_two = _token(app, "org-one"), _token(app, "org-two")

    assert _delete(client, token_one, shared.envelope_id) == (
        200,
        {"deleted": False, "remaining_recipients": 1},
    )
    assert _listed(client, token_one) == []
    assert _listed(client, token_two) == [shared.envelope_id]
    blob = client.get(
        f"/api/v1/envelopes/{shared.envelope_id}/attachments/0",
        headers={"Authorization": f"Bearer {token_two}"},
    )
    assert blob.status_code == 200 and len(blob.data) > 0
    assert _count(app, ReceiptRecord) == 1
    assert _delete(client, token_one, shared.envelope_id)[0] == 404

    assert _delete(client, token_two, shared.envelope_id) == (
        200,
        {"deleted": True, "remaining_recipients": 0},
    )
    assert _count(app, Envelope) == 0 and _count(app, ReceiptRecord) == 0


def test_another_organizations_envelope_cannot_be_deleted(two_orgs: Orgs) -> None:
    app, one, two = two_orgs
    theirs = _store(app, [two.public_key], (b"x",))
    client = app.test_client()
    assert _delete(client, _token(app, "org-one"), theirs.envelope_id)[0] == 404
    assert _delete(client, "tnr_not-a-token", theirs.envelope_id)[0] == 401
    assert _listed(client, _token(app, "org-two")) == [theirs.envelope_id]


def test_followups_go_with_the_last_recipient_of_their_report(two_orgs: Orgs) -> None:
    app, one, _two = two_orgs
    report = _store(app, [one.public_key])
    followup = _store(app, [one.public_key], (b"more",), followup_of=report.seq)
    client = app.test_client()
    assert _delete(client, _token(app, "org-one"), report.envelope_id)[1] == {
        "deleted": True,
        "remaining_recipients": 0,
    }
    assert _count(app, Envelope) == 0
    assert _count(app, EnvelopeBlob) == 0
    assert followup.envelope_id  # gone with it


# --------------------------------------------------------------------------
# End to end: the console purges against this intake over HTTP.


def test_console_purge_against_the_intake(two_orgs: Orgs, tmp_path: Path) -> None:
    from admin import create_app
    from admin.extensions import DB_EXTENSION, KEYRING_EXTENSION
    from admin.keys import custody
    from admin.models import AuditEntry, Case, PurgedEnvelope
    from admin.sync.client import IntakeClient
    from admin.sync.run import sync
    from tests.admin.admin_testlib import PASSPHRASE, pin_roster, store_key

    app, one, two = two_orgs
    ours = _store(app, [one.public_key], (b"file",))
    shared = _store(app, [one.public_key, two.public_key])
    theirs = _store(app, [two.public_key])
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    cheap = {"memory_kib": 1024, "iterations": 1, "lanes": 1}
    console = create_app(
        {
            "TESTING": True,
            "DATA_DIR": str(tmp_path / "console"),
            "SECRET_KEY": "test",
            "ARGON2ID": cheap,
            "INTAKE_URL": f"http://127.0.0.1:{server.port}",
            "INTAKE_TOKEN": _token(app, "org-one"),
        }
    )
    try:
        data_dir = Path(console.config["DATA_DIR"])
        store_key(one, data_dir, recipient_id="org-one")
        # The shared envelope is sealed to org-two's key too: the coalition
        # roster pins it, or the sync would quarantine it as a planted key.
        pin_roster(console, two.public_key, recipient_id="org-two")
        database, keyring = console.extensions[DB_EXTENSION], console.extensions[KEYRING_EXTENSION]
        with console.app_context(), database.session() as session:
            custody.unlock(keyring, session, data_dir, PASSPHRASE)
        with IntakeClient(console.config["INTAKE_URL"], console.config["INTAKE_TOKEN"]) as c:
            assert sync(database, keyring, data_dir, c).added == 2
        long_ago = datetime.now(UTC).date() - timedelta(days=400)
        with database.session() as session:
            session.execute(update(Case).values(status="closed", closed_day=long_ago))

        result = console.test_cli_runner().invoke(args=["purge"])
        assert result.exit_code == 0, result.output
        assert f"{ours.envelope_id}\tintake: deleted (remaining 0)" in result.output
        assert f"{shared.envelope_id}\tintake: kept (remaining 1)" in result.output

        with app.extensions["intake.db"].sessions() as session:
            left = set(session.scalars(select(Envelope.envelope_id)))
        assert left == {shared.envelope_id, theirs.envelope_id}  # the other organization's survive
        client = app.test_client()
        assert _listed(client, _token(app, "org-two")) == [shared.envelope_id, theirs.envelope_id]
        with database.session() as session:
            assert session.scalar(select(func.count(Case.id))) == 0
            assert set(session.scalars(select(PurgedEnvelope.envelope_id))) == {
                ours.envelope_id,
                shared.envelope_id,
            }
            details = list(
                session.scalars(select(AuditEntry.detail).where(AuditEntry.action == "case.purge"))
            )
        assert details == ["intake=deleted remaining=0 blobs=1", "intake=kept remaining=1 blobs=0"]
    finally:
        server.shutdown()
        server.server_close()
        console.extensions[DB_EXTENSION].engine.dispose()
