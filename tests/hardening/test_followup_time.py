"""Time limits on the reporter's forms, over real HTTP against gunicorn: the
follow-up page's access expires while the reporter writes (the text must be
kept through a new receipt check), and a CSRF time limit shorter than an
upload (a token valid when the upload began must not be refused when the
last byte arrives)."""

from __future__ import annotations

import html as htmllib
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from ..conftest import Databases
from ..helpers import multipart, write_key_file
from . import servers
from .servers import RECEIPT, Server, csrf_token, hidden


def _server(tmp_path: Path, databases: Databases, **settings: str) -> Server:
    keys_dir = tmp_path / "keys"
    write_key_file(keys_dir, "test-org")
    env = {
        "INTAKE_DATA_DIR": str(tmp_path / "data"),
        "INTAKE_KEYS_DIR": str(keys_dir),
        "INTAKE_ALTCHA": "false",
        **{f"INTAKE_{k}": v for k, v in settings.items()},
        **databases.env(),
    }
    return servers.start("intake", env, tmp_path / "gunicorn.log", workers=1)


@pytest.fixture
def short_access(tmp_path: Path, databases: Databases) -> Iterator[Server]:
    server = _server(tmp_path, databases, FOLLOWUP_ACCESS_MAX_AGE="1")
    try:
        yield server
    finally:
        server.stop()


def _report(session: requests.Session, url: str) -> str:
    form = session.get(url + "/en/", timeout=30).text
    answer = session.post(
        url + "/en/",
        data={"csrf_token": csrf_token(form), "submission": hidden(form, "submission"), "narrative": "first"},
        timeout=30,
    ).text
    found = RECEIPT.search(answer)
    assert found is not None
    return found.group(1)


def _textarea(page: str) -> str:
    found = re.search(r'<textarea[^>]*name="narrative"[^>]*>(.*?)</textarea>', page, re.S)
    assert found is not None
    return htmllib.unescape(found.group(1)).strip()


@pytest.mark.e2e
def test_text_written_past_the_access_time_is_kept_through_a_new_check(short_access: Server) -> None:
    url = short_access.url
    session = requests.Session()
    receipt = _report(session, url)
    check = session.get(url + "/en/receipt", timeout=30).text
    status = session.post(
        url + "/en/receipt",
        data={"csrf_token": csrf_token(check), "check": hidden(check, "check"), "receipt": receipt},
        timeout=30,
    )
    assert status.status_code == 200
    page = status.text
    time.sleep(2.5)  # the reporter writes longer than the access lasts
    written = "They came to my sister's shop again.\nThree of them, on 12 July."
    body, content_type = multipart(
        {
            "csrf_token": csrf_token(page),
            "submission": hidden(page, "submission"),
            "access": hidden(page, "access"),
            "narrative": written,
            "attachments": (b"%PDF-1.4 letter", "letter.pdf", "application/pdf"),
        }
    )
    expired = session.post(
        url + "/en/followup", data=body, headers={"Content-Type": content_type}, timeout=30
    )
    assert expired.status_code == 400
    assert "expired while you were writing" in expired.text
    assert "Please choose your files again." in expired.text
    kept = re.search(r'<input type="hidden" name="narrative" value="([^"]*)"', expired.text)
    assert kept is not None and htmllib.unescape(kept.group(1)) == written
    # The receipt again: the status page shows the text, ready to send.
    again = session.post(
        url + "/en/receipt",
        data={
            "csrf_token": csrf_token(expired.text),
            "check": hidden(expired.text, "check"),
            "receipt": receipt,
            "narrative": htmllib.unescape(kept.group(1)),
        },
        timeout=30,
    )
    assert again.status_code == 200
    assert _textarea(again.text) == htmllib.unescape(kept.group(1))
    sent = session.post(
        url + "/en/followup",
        data={
            "csrf_token": csrf_token(again.text),
            "submission": hidden(again.text, "submission"),
            "access": hidden(again.text, "access"),
            "narrative": _textarea(again.text),
        },
        timeout=30,
    )
    assert "Your information was received" in sent.text


class _SlowBody:
    """A request body sent over ``seconds``: the bytes of ``data`` in
    pieces, with pauses (a slow connection)."""

    def __init__(self, data: bytes, seconds: float, pieces: int = 10) -> None:
        self.data = data
        self.pause = seconds / pieces
        self.piece = -(-len(data) // pieces)
        self.offset = 0

    def __len__(self) -> int:
        return len(self.data)

    def read(self, _n: int = -1) -> bytes:
        if self.offset >= len(self.data):
            return b""
        if self.offset:
            time.sleep(self.pause)
        chunk = self.data[self.offset : self.offset + self.piece]
        self.offset += len(chunk)
        return chunk


@pytest.mark.e2e
def test_an_upload_longer_than_the_csrf_limit_is_not_refused_at_the_end(
    tmp_path: Path, databases: Databases
) -> None:
    server = _server(tmp_path, databases, WTF_CSRF_TIME_LIMIT="3")
    try:
        session = requests.Session()
        form = session.get(server.url + "/en/", timeout=30).text
        fields = {
            "csrf_token": csrf_token(form),
            "submission": hidden(form, "submission"),
            "narrative": "a slow connection",
            "attachments": (b"\x89PNG" + b"\0" * 200_000, "photo.png", "image/png"),
        }
        body, content_type = multipart(fields)
        # The upload starts at once and lasts 6 s, twice the limit.
        answer = session.post(
            server.url + "/en/",
            data=_SlowBody(body, 6.0),
            headers={"Content-Type": content_type},
            timeout=60,
        )
        assert "The page expired" not in answer.text
        assert RECEIPT.search(answer.text) is not None
        # The limit still holds for a page left open longer than it.
        form = session.get(server.url + "/en/", timeout=30).text
        time.sleep(5.5)
        late = session.post(
            server.url + "/en/",
            data={
                "csrf_token": csrf_token(form),
                "submission": hidden(form, "submission"),
                "narrative": "late",
            },
            # As a browser says of a post from the page itself: its token
            # is checked (and has expired), what was typed is kept.
            headers={"Sec-Fetch-Site": "same-origin"},
            timeout=30,
        )
        assert "The page expired" in late.text
    finally:
        server.stop()
