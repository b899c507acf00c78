"""JSON nested thousands deep (``[[[[…``), sent to the intake under gunicorn
over real HTTP: it fits well within every size bound but exhausts the JSON
parser's stack (``RecursionError``, which is not a ``ValueError``). The
public sealed upload and the reviewer API must answer it as the malformed
input it is, a JSON 400, never a 500 with an error in the log."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from core.envelope import RecipientPublicKey, seal
from core.envelope.conversation import lookup_value
from core.envelope.replykey import reply_private_key, reply_seed
from core.receipts import new_receipt
from core.timing import today_utc

from ..conftest import Databases
from ..helpers import write_key_file
from . import servers
from .servers import Server, csrf_token

#: Deep enough for any JSON parser's stack, far below the header's 128 KiB.
DEEP = b"[" * 100_000


@pytest.fixture
def org_public_key(tmp_path: Path) -> RecipientPublicKey:
    return write_key_file(tmp_path / "keys", "test-org").public_key


@pytest.fixture
def server(tmp_path: Path, databases: Databases, org_public_key: RecipientPublicKey) -> Iterator[Server]:
    with servers.running_intake(tmp_path, databases.env()) as running:
        yield running


def _token(server: Server) -> str:
    made = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "intake", "api-token", "create", "test-org"],
        cwd=servers.ROOT,
        env=server.env,
        capture_output=True,
        check=True,
    )
    return made.stdout.decode().strip().splitlines()[-1]


def _no_recursion_error(server: Server) -> None:
    assert b"RecursionError" not in server.log_text()
    assert b"Traceback" not in server.log_text()


@pytest.mark.e2e
def test_a_deeply_nested_header_on_the_public_upload_is_a_400(server: Server) -> None:
    session = requests.Session()
    token = csrf_token(session.get(server.url + "/en/", timeout=30).text)
    answer = session.post(
        server.url + "/en/sealed",
        data={"csrf_token": token, "lookup": os.urandom(32).hex()},
        files={"header": ("header", DEEP), "body": ("body", b"")},
        timeout=30,
    )
    assert answer.status_code == 400
    assert isinstance(answer.json().get("error"), str)
    _no_recursion_error(server)


@pytest.mark.e2e
def test_deeply_nested_json_on_the_reviewer_api_is_a_400(
    server: Server, org_public_key: RecipientPublicKey
) -> None:
    bearer = {"Authorization": f"Bearer {_token(server)}"}
    filed = requests.post(
        server.url + "/api/v1/envelopes",
        headers=bearer,
        data={"lookup": os.urandom(32).hex()},
        files={"header": ("header", DEEP), "body": ("body", b"")},
        timeout=30,
    )
    assert filed.status_code == 400
    assert filed.json()["error"] == "header"

    # A report with a reply key, so that a reply to it is parsed at all.
    receipt = new_receipt()
    report = seal(
        {"form_version": 2, "kind": "report", "language": "en", "narrative": "by phone"},
        [org_public_key],
        day=today_utc(),
        sealed_by="console",
        reply_key=reply_private_key(receipt).public_key.raw,
        attachments=[],
    )
    stored = requests.post(
        server.url + "/api/v1/envelopes",
        headers=bearer,
        data={"lookup": lookup_value(reply_seed(receipt))},
        files={"header": ("header", report.header), "body": ("body", report.body)},
        timeout=30,
    )
    assert stored.status_code == 201
    envelope_id = stored.json()["id"]
    replied = requests.post(
        f"{server.url}/api/v1/envelopes/{envelope_id}/replies",
        headers={**bearer, "Content-Type": "application/json"},
        data=DEEP,
        timeout=30,
    )
    assert replied.status_code == 400
    assert isinstance(replied.json().get("error"), str)
    _no_recursion_error(server)
