"""Text over the form's limits, sent to the intake under gunicorn over real
HTTP: a text field over ``MAX_FORM_MEMORY_SIZE``, more parts than
``MAX_FORM_PARTS``, a URL-encoded body of 200 MB. The form comes back with
what was typed kept (the beginning of an over-long field) and says which
limit, in the reporter's language; nothing is stored, never a 413 page
about files, and a huge body is never held whole in memory."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from ..conftest import Databases
from ..helpers import multipart, write_key_file
from . import servers
from .servers import RECEIPT, Server, csrf_token, hidden

MIB = 1024 * 1024
FILES_TOO_LARGE = "The files are too large"


@pytest.fixture
def server(tmp_path: Path, databases: Databases) -> Iterator[Server]:
    write_key_file(tmp_path / "keys", "test-org")
    with servers.running_intake(tmp_path, databases.env()) as running:
        yield running


def _form_fields(session: requests.Session, url: str) -> dict[str, object]:
    form = session.get(url, timeout=30).text
    return {
        "csrf_token": csrf_token(form),
        "submission": hidden(form, "submission"),
        "recipients_shown": "1",
        "recipients": "test-org",
        "city": "Richmond",
    }


def _textarea(html: str) -> str:
    found = re.search(r'<textarea[^>]*name="narrative"[^>]*>(.*?)</textarea>', html, re.S)
    assert found is not None
    return found.group(1)


@pytest.mark.e2e
def test_a_text_field_over_the_limit_keeps_its_beginning_and_says_so(server: Server) -> None:
    session = requests.Session()
    narrative = "他們又打電話給我父母。" * 40_000  # 1.3 MB of UTF-8, over the 1 MiB field limit
    body, content_type = multipart(
        {**_form_fields(session, server.url + "/zh-hant/"), "narrative": narrative}
    )
    response = session.post(
        server.url + "/zh-hant/", data=body, headers={"Content-Type": content_type}, timeout=60
    )
    html = response.text
    assert response.status_code == 413
    assert FILES_TOO_LARGE not in html and "檔案太大" not in html
    assert "只保留了開頭" in html  # which limit, in the reporter's language
    kept = _textarea(html).lstrip()
    assert kept.startswith("他們又打電話給我父母。他們又打電話給我父母。")
    assert 900_000 // 3 < len(kept) < len(narrative)
    assert "\ufffd" not in kept  # cut on a character, not inside one
    assert 'value="Richmond"' in html


@pytest.mark.e2e
def test_more_fields_than_the_limit_keep_the_first_and_say_so(server: Server) -> None:
    session = requests.Session()
    fields = {
        **_form_fields(session, server.url + "/fr/"),
        "narrative": "Ils ont appelé mes parents.",
        "tactics": ["T04"] * 1_100,
    }
    body, content_type = multipart(fields)
    response = session.post(
        server.url + "/fr/", data=body, headers={"Content-Type": content_type}, timeout=60
    )
    html = response.text
    assert response.status_code == 413
    assert FILES_TOO_LARGE not in html and "trop volumineux" not in html
    assert "plus de champs" in html
    assert "Ils ont appelé mes parents." in _textarea(html).replace("&#39;", "'")
    assert 'value="Richmond"' in html


class _HugeBody:
    """A URL-encoded body of ``size`` bytes made as it is read: a narrative
    field of ``size`` bytes of ``a`` after a CSRF token (if any) and a
    short city field."""

    def __init__(self, size: int, csrf: str | None = None) -> None:
        token = f"csrf_token={csrf}&".encode("ascii") if csrf is not None else b""
        self.head = token + b"city=Richmond&narrative="
        self.size = size
        self.sent = 0

    def __len__(self) -> int:
        return self.size

    def read(self, n: int = -1) -> bytes:
        left = self.size - self.sent
        n = left if n < 0 else min(n, left)
        chunk = (self.head + b"a" * n)[:n] if self.sent == 0 else b"a" * n
        self.sent += len(chunk)
        return chunk


def _peak_rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    found = re.search(r"VmHWM:\s+(\d+) kB", status)
    assert found is not None
    return int(found.group(1))


@pytest.mark.e2e
def test_a_200_mb_url_encoded_post_is_never_held_or_echoed(server: Server) -> None:
    (worker,) = server.worker_pids()
    size = 200 * MIB
    # From another site (no session, no CSRF token): refused, nothing echoed.
    foreign = requests.post(
        server.url + "/en/",
        data=_HugeBody(size),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=300,
    )
    assert foreign.status_code == 400
    assert 'value="Richmond"' not in foreign.text
    assert len(foreign.content) < 8 * MIB
    # From the reporter's own page: the beginning is kept and shown.
    session = requests.Session()
    token = csrf_token(session.get(server.url + "/en/", timeout=30).text)
    response = session.post(
        server.url + "/en/",
        data=_HugeBody(size, token),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=300,
    )
    assert response.status_code == 413
    assert FILES_TOO_LARGE not in response.text
    assert "only its beginning is kept" in response.text
    assert 'value="Richmond"' in response.text
    # The answer holds the kept beginning (a few MB at most), not the body.
    assert len(response.content) < 8 * MIB
    # The worker never held the body: its peak resident size stays far
    # below 200 MB (Werkzeug's own parser read it whole).
    assert _peak_rss_kib(worker) < 150 * 1024


@pytest.mark.e2e
def test_the_follow_up_page_keeps_its_text_over_the_field_limit(server: Server) -> None:
    session = requests.Session()
    form = session.get(server.url + "/zh-hans/", timeout=30).text
    sent = session.post(
        server.url + "/zh-hans/",
        data={"csrf_token": csrf_token(form), "submission": hidden(form, "submission"), "narrative": "first"},
        timeout=30,
    ).text
    found = RECEIPT.search(sent)
    assert found is not None
    check = session.get(server.url + "/zh-hans/receipt", timeout=30).text
    status = session.post(
        server.url + "/zh-hans/receipt",
        data={"csrf_token": csrf_token(check), "check": hidden(check, "check"), "receipt": found.group(1)},
        timeout=30,
    ).text
    added = "他们又来了。" * 70_000  # 1.2 MB of UTF-8
    body, content_type = multipart(
        {
            "csrf_token": csrf_token(status),
            "submission": hidden(status, "submission"),
            "access": hidden(status, "access"),
            "narrative": added,
        }
    )
    response = session.post(
        server.url + "/zh-hans/followup", data=body, headers={"Content-Type": content_type}, timeout=60
    )
    assert response.status_code == 413
    assert "只保留了开头部分" in response.text
    assert _textarea(response.text).lstrip().startswith("他们又来了。他们又来了。")
