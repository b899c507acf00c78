"""Several intake hosts on one PostgreSQL: two gunicorn
intakes, each with its own data folder, share the database and the two
secrets; a form fetched from one is accepted by the other, and every
envelope and attachment stored through either is served by both."""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from core.db import Database
from core.envelope import SealedEnvelope, open_envelope
from intake.api.tokens import create_token
from intake.store.models import Base, Envelope

from ..conftest import Databases
from ..helpers import write_key_file
from . import servers
from .servers import RECEIPT, csrf_token, hidden

pytestmark = [pytest.mark.postgres_only, pytest.mark.e2e]


def test_two_intake_hosts_share_one_database(tmp_path: Path, databases: Databases) -> None:
    assert databases.intake is not None
    keys = tmp_path / "keys"
    key = write_key_file(keys, "test-org")
    shared = {
        "INTAKE_KEYS_DIR": str(keys),
        "INTAKE_DATABASE_URL": databases.intake,
        # What every host must share (docs/deployment.md): the session key,
        # so a form from one host posts to another, and the receipt key.
        "INTAKE_SECRET_KEY": "s" + secrets.token_urlsafe(32),
        "INTAKE_RECEIPT_SECRET": "r" + secrets.token_urlsafe(32),
    }
    hosts = [
        servers.start(
            "intake", {**shared, "INTAKE_DATA_DIR": str(tmp_path / name)}, tmp_path / f"{name}.log", workers=1
        )
        for name in ("host-a", "host-b")
    ]
    attachments = {name: os.urandom(300_000) for name in ("from-a", "from-b")}
    try:
        for (name, data), (get_host, post_host) in zip(
            attachments.items(), [(hosts[0], hosts[1]), (hosts[1], hosts[0])], strict=True
        ):
            session = requests.Session()
            form = session.get(f"{get_host.url}/en/", timeout=10).text
            sent = session.post(
                f"{post_host.url}/en/",
                data={
                    "csrf_token": csrf_token(form),
                    "submission": hidden(form, "submission"),
                    "narrative": name,
                },
                files={"attachments": (f"{name}.bin", data, "application/octet-stream")},
                timeout=30,
            )
            errors = re.findall(r"class=\"errors\"[^>]*>\s*(?:<li>)?[^<]*", sent.text)
            assert sent.status_code == 200 and RECEIPT.search(sent.text), errors

        db = Database(databases.intake, Path("migrations/intake"), Base)
        try:
            with db.sessions() as session:
                token = create_token(session, "test-org")
                rows = list(session.scalars(select(Envelope).order_by(Envelope.seq)))
        finally:
            db.engine.dispose()
        assert len(rows) == 2
        # No host keeps attachment files of its own.
        for name in ("host-a", "host-b"):
            assert not any((tmp_path / name / "blobs").glob("*/*"))
        auth = {"Authorization": f"Bearer {token}"}
        for host in hosts:
            listed = requests.get(f"{host.url}/api/v1/envelopes", headers=auth, timeout=10).json()[
                "envelopes"
            ]
            assert [e["id"] for e in listed] == [r.envelope_id for r in rows]
            opened = []
            for row in rows:
                blob = requests.get(
                    f"{host.url}/api/v1/envelopes/{row.envelope_id}/attachments/0", headers=auth, timeout=30
                )
                assert blob.status_code == 200
                sealed = SealedEnvelope(row.header, row.body, (blob.content,))
                envelope = open_envelope(sealed, [key])
                opened.append(
                    (envelope.report["narrative"], hashlib.sha256(envelope.attachments[0].data).hexdigest())
                )
            assert opened == [(name, hashlib.sha256(data).hexdigest()) for name, data in attachments.items()]
    finally:
        for host in hosts:
            host.stop()
