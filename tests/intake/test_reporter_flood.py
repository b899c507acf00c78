"""Floods and scripted posts on the report form: a honeypot field, and
token buckets on submissions (global, and per keyed address, never stored
or logged: intake/abuse/throttle.py). 1,000 scripted submissions are
refused or throttled, the service stays up, and a real report sent
afterwards goes through; on the JavaScript path, uploads without a solved
ALTCHA challenge are refused before they spend what everyone shares. How
fast the refusals go is measured by ``bench/flood.py --burst 1000``, not
here: a loaded machine makes a test slow, not wrong."""

from __future__ import annotations

import logging
import re
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

import intake
from core.envelope import RecipientPrivateKey, seal
from core.receipts import new_receipt
from core.timing import today_utc
from intake.store.models import Envelope

from ..helpers import database_bytes, multipart, solved_altcha

RECEIPT = re.compile(r"<output>\d{4}( \d{4}){6}</output>")


def _count(app: Flask) -> int:
    with app.extensions["intake.db"].sessions() as session:
        return int(session.scalar(select(func.count()).select_from(Envelope)) or 0)


def _post(client: FlaskClient, address: str, **fields: str) -> tuple[int, str]:
    data = {"narrative": "scripted report", **fields}
    response = client.post("/en/", data=data, environ_base={"REMOTE_ADDR": address})
    return response.status_code, response.get_data(as_text=True)


def test_the_honeypot_is_out_of_sight_and_of_the_tab_order_but_labelled(intake_client: FlaskClient) -> None:
    html = intake_client.get("/zh-hant/").get_data(as_text=True)
    field = re.search(r'<div class="trap">\s*<label for="extra_note">([^<]+)</label>\s*<input([^>]+)>', html)
    assert field is not None
    assert field.group(1) == "此欄位請留空"
    attributes = field.group(2)
    assert 'tabindex="-1"' in attributes and 'autocomplete="off"' in attributes and 'value=""' in attributes
    css = (Path(intake.__file__).parent.parent / "static" / "intake.css").read_text()
    assert re.search(r"\.trap \{[^}]*inset-inline-start: -100vw", css)
    assert not re.search(r"\.trap \{[^}]*display: none", css)  # a script must see an ordinary field


def test_a_filled_honeypot_stores_nothing_and_says_so_kindly(
    intake_app: Flask, intake_client: FlaskClient
) -> None:
    status, html = _post(intake_client, "192.0.2.7", extra_note="http://spam.example", city="Ottawa")
    assert status == 200  # all a generic script looks at
    assert not RECEIPT.search(html)
    assert "A field that must stay empty had text in it" in html
    assert 'value="Ottawa"' in html and "scripted report</textarea>" in html  # kept
    assert 'id="extra_note" value=""' in html  # emptied
    assert _count(intake_app) == 0
    # Spaces only are empty; the same report with the field empty is stored.
    status, html = _post(intake_client, "192.0.2.7", extra_note="  ", city="Ottawa")
    assert status == 200 and RECEIPT.search(html)
    assert _count(intake_app) == 1


@pytest.fixture
def flood_app(tmp_path: Path, keys_dir: Path, org_key: RecipientPrivateKey) -> Iterator[Flask]:
    app = intake.create_app(
        {
            "TESTING": True,
            "DATA_DIR": str(tmp_path / "flood"),
            "KEYS_DIR": str(keys_dir),
            "WTF_CSRF_ENABLED": False,
            # Defaults per address (10, then one a minute); everyone
            # together: 50 in a row, then one a second, to keep the test short.
            "SUBMISSION_GLOBAL_BURST": 50,
            "SUBMISSION_GLOBAL_INTERVAL": 1.0,
        }
    )
    yield app
    app.extensions["intake.db"].engine.dispose()


def test_a_thousand_scripted_submissions_are_refused_or_throttled(
    flood_app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    client = flood_app.test_client()
    caplog.set_level(logging.DEBUG)
    started = time.monotonic()
    statuses: Counter[int] = Counter()
    # From one address: ten go through, the rest are refused before any work.
    for i in range(500):
        status, html = _post(client, "198.51.100.9", city=f"flood {i}")
        statuses[status] += 1
        if status == 429:
            assert f'value="flood {i}"' in html  # a real reporter would keep their text
        if i % 100 == 0:  # the service stays up for everyone else
            assert client.get("/healthz").status_code == 200
            assert client.get("/fr/", environ_base={"REMOTE_ADDR": "203.0.113.1"}).status_code == 200
    assert statuses == {200: 10, 429: 490}
    # From 500 addresses (a botnet): everyone's bucket holds.
    for i in range(500):
        status, _html = _post(client, f"10.{i // 250}.{i % 250}.1")
        statuses[status] += 1
    elapsed = time.monotonic() - started
    assert set(statuses) == {200, 429}  # never a 500
    stored = _count(flood_app)
    assert stored == statuses[200]
    # Everyone's bucket: 50 in a row, then one a second however long it took.
    assert stored <= 50 + int(elapsed) + 1
    assert statuses[429] >= 1000 - stored
    # A real reporter, a moment later, from their own address: stored.
    time.sleep(1.1)
    status, html = _post(client, "203.0.113.50", narrative="a real report")
    assert status == 200 and RECEIPT.search(html)
    assert _count(flood_app) == stored + 1
    # No address, nor its keyed hash, is kept or logged.
    kept = database_bytes(flood_app)
    for address in (b"198.51.100.9", b"203.0.113.50", b"10.1.1.1"):
        assert address not in kept
        assert not any(address.decode() in r.getMessage() for r in caplog.records)


def test_the_browser_upload_is_throttled_too(flood_app: Flask) -> None:
    client = flood_app.test_client()
    answers: Counter[int] = Counter()
    for _ in range(30):
        data, content_type = multipart({"receipt": "x"})
        response = client.post(
            "/en/sealed", data=data, content_type=content_type, environ_base={"REMOTE_ADDR": "198.51.100.10"}
        )
        answers[response.status_code] += 1
        if response.status_code == 429:
            assert response.get_json()["error"] == "busy"
    assert answers == {400: 10, 429: 20}  # incomplete (no envelope), then refused before reading it


def test_an_address_that_stands_for_many_clients_meets_only_the_global_bucket(flood_app: Flask) -> None:
    """Behind nginx or the onion service every reporter arrives from the
    proxy's loopback address: ten scripted posts must not stop them all."""
    # No refill during the 60 posts: on a loaded machine sealing takes more
    # than the fixture's one second per token, and the bucket never emptied.
    flood_app.config["SUBMISSION_GLOBAL_INTERVAL"] = 3600.0
    client = flood_app.test_client()
    statuses = Counter(_post(client, "127.0.0.1")[0] for _ in range(30))
    assert statuses == {200: 30}
    statuses = Counter(_post(client, "::1")[0] for _ in range(30))
    assert statuses[429] > 0  # the global bucket (50 in a row here) still holds


def _sealed_fields(org_key: RecipientPrivateKey) -> dict[str, object]:
    envelope = seal(
        {"form_version": 1, "language": "en", "narrative": "scripted"},
        [org_key.public_key],
        day=today_utc(),
        sealed_by="browser",
    )
    return {
        "receipt": new_receipt(),
        "header": (envelope.header, "header", "application/json"),
        "body": (envelope.body, "body", "application/octet-stream"),
    }


def test_a_thousand_scripted_browser_uploads_without_the_work_are_refused(
    flood_app: Flask, org_key: RecipientPrivateKey
) -> None:
    """Proof of work, JavaScript path: 1,000 scripted uploads from the
    address everyone shares behind Tor (127.0.0.1), well formed
    but without a solved ALTCHA challenge (none, forged, or one solved
    payload replayed), are all refused and spend nothing everyone shares;
    a real upload with the work done right after is stored at once."""
    client = flood_app.test_client()
    real = solved_altcha(client)
    replayed = solved_altcha(client)
    fields = _sealed_fields(org_key)
    data, content_type = multipart({**fields, "altcha": replayed})
    assert client.post("/en/sealed", data=data, content_type=content_type).status_code == 200
    stored = _count(flood_app)
    statuses: Counter[tuple[int, str]] = Counter()
    forged = replayed[:-8] + "AAAAAAA="
    for i in range(1000):
        proof = ("", forged, replayed)[i % 3]
        data, content_type = multipart({**_sealed_fields(org_key), "altcha": proof})
        response = client.post("/en/sealed", data=data, content_type=content_type)
        statuses[(response.status_code, response.get_json()["error"])] += 1
    assert statuses == {(400, "altcha"): 1000}
    assert _count(flood_app) == stored
    # The work done (as the page's script does), the real report goes in.
    data, content_type = multipart({**_sealed_fields(org_key), "altcha": real})
    response = client.post("/en/sealed", data=data, content_type=content_type)
    assert response.status_code == 200 and "receipt" in response.get_json()
    assert _count(flood_app) == stored + 1
