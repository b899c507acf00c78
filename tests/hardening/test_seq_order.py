"""On PostgreSQL, envelopes commit in seq order (intake/store/envelopes.py,
SEQ_ORDER_LOCK): an upload waits while another holds the lock between
its INSERT and its commit, so a console reading "after the last seq"
can never pass a number that commits later."""

from __future__ import annotations

import threading
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import text

from core.db import ROOT, Database
from core.envelope import RecipientPrivateKey, seal
from intake.store.blobs import DatabaseBlobStore
from intake.store.envelopes import SEQ_ORDER_LOCK, store_envelope
from intake.store.models import Base

from ..conftest import Databases

pytestmark = [pytest.mark.postgres_only]


def test_an_upload_waits_for_the_one_before_it_to_commit(databases: Databases, tmp_path: Path) -> None:
    assert databases.intake is not None
    db = Database(databases.intake, ROOT / "migrations" / "intake", Base)
    db.upgrade()
    key = RecipientPrivateKey.generate()
    sealed = seal({"narrative": "x"}, [key.public_key], day=date(2026, 11, 2))
    done = threading.Event()
    stored: list[int] = []

    def upload() -> None:
        with db.sessions() as session:
            stored.append(store_envelope(session, DatabaseBlobStore(db), sealed, {key.key_id: "org"}))
        done.set()

    try:
        with db.engine.connect() as other:
            # Another upload between its INSERT and its commit holds the lock.
            other.execute(text("SELECT pg_advisory_lock(:k)"), {"k": SEQ_ORDER_LOCK})
            worker = threading.Thread(target=upload)
            worker.start()
            assert not done.wait(1.0), "stored while an earlier upload had not committed"
            other.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": SEQ_ORDER_LOCK})
            other.commit()
            assert done.wait(30)
            worker.join(30)
        assert len(stored) == 1
    finally:
        db.engine.dispose()
