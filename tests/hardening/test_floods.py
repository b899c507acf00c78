"""Floods over real HTTP against the intake under gunicorn: what costs the
attacker nothing must spend nothing real reporters share.

* empty and junk posts to ``/<lang>/`` leave the submission allowance to
  real reports on both paths;
* one solved proof of work is accepted once, by every worker, and not again
  after a restart (spent challenges live in the database);
* one receipt-check page replayed in bulk cannot refuse real checks;
* follow-ups meet a per-report daily quota, and every upload meets the
  free-disk floor, with a translated message that keeps what was typed.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import altcha
import pytest
import requests
import sqlalchemy

from core.envelope import RecipientPrivateKey, seal
from core.receipts import new_receipt
from core.timing import today_utc

from ..conftest import Databases
from ..helpers import write_key_file
from . import servers
from .servers import Server

RECEIPT = re.compile(r"<output>([\d ]+)</output>")
#: Cheap challenges, so the test solves them in milliseconds.
CHEAP_WORK = {"INTAKE_ALTCHA_COST": "10", "INTAKE_ALTCHA_COUNTER_MIN": "1", "INTAKE_ALTCHA_COUNTER_MAX": "20"}


@pytest.fixture
def org(tmp_path: Path) -> RecipientPrivateKey:
    return write_key_file(tmp_path / "keys", "test-org")


def _env(tmp_path: Path, databases: Databases, **settings: str) -> dict[str, str]:
    return {
        "INTAKE_DATA_DIR": str(tmp_path / "intake"),
        "INTAKE_KEYS_DIR": str(tmp_path / "keys"),
        **CHEAP_WORK,
        **databases.env(),
        **{f"INTAKE_{k}": v for k, v in settings.items()},
    }


@pytest.fixture
def start(tmp_path: Path) -> Iterator[object]:
    started: list[Server] = []

    def _start(env: dict[str, str], workers: int = 1) -> Server:
        server = servers.start("intake", env, tmp_path / "gunicorn.log", workers=workers)
        started.append(server)
        return server

    yield _start
    for server in started:
        server.stop()


def _form(session: requests.Session, url: str, lang: str = "en") -> tuple[str, str]:
    page = session.get(f"{url}/{lang}/", timeout=30).text
    return servers.csrf_token(page), servers.hidden(page, "submission")


def _no_js_report(url: str, narrative: str = "They followed me.", lang: str = "en") -> requests.Response:
    with requests.Session() as session:
        csrf, submission = _form(session, url, lang)
        return session.post(
            f"{url}/{lang}/",
            data={"csrf_token": csrf, "submission": submission, "narrative": narrative},
            timeout=60,
        )


def _proof(session: requests.Session, url: str) -> str:
    challenge = altcha.Challenge.from_dict(session.get(f"{url}/en/challenge", timeout=30).json())
    solution = altcha.solve_challenge(challenge)
    assert solution is not None
    return str(altcha.Payload(challenge, solution).to_base64())


def _browser_report(url: str, org: RecipientPrivateKey, proof: str | None = None) -> requests.Response:
    """A report as js/form.js sends it: sealed here, with the work done."""
    envelope = seal(
        {"form_version": 1, "language": "en", "narrative": "sealed in the browser"},
        [org.public_key],
        day=today_utc(),
        sealed_by="browser",
    )
    with requests.Session() as session:
        csrf, submission = _form(session, url)
        fields = {
            "csrf_token": csrf,
            "submission": submission,
            "receipt": new_receipt(),
            "altcha": proof or _proof(session, url),
        }
        files = {
            "header": ("header", envelope.header, "application/json"),
            "body": ("body", envelope.body, "application/octet-stream"),
        }
        return session.post(f"{url}/en/sealed", data=fields, files=files, timeout=60)


def test_empty_and_junk_posts_leave_the_allowance_to_real_reporters(
    tmp_path: Path, databases: Databases, org: RecipientPrivateKey, start: object
) -> None:
    # Everyone together may send 4 reports an hour here: 60 junk posts
    # would empty that 15 times over if they could take from it.
    env = _env(tmp_path, databases, SUBMISSION_GLOBAL_BURST="4", SUBMISSION_GLOBAL_INTERVAL="3600")
    server = start(env)  # type: ignore[operator]
    with requests.Session() as attacker:
        csrf, _ = _form(attacker, server.url)

        def junk(i: int) -> int:
            if i % 2:  # an empty post, no token at all
                return attacker.post(f"{server.url}/en/", data={}, timeout=30).status_code
            # the attacker's own valid CSRF token, an empty form
            return attacker.post(f"{server.url}/en/", data={"csrf_token": csrf}, timeout=30).status_code

        with ThreadPoolExecutor(4) as pool:
            statuses = Counter(pool.map(junk, range(60)))
    assert statuses == {400: 60}
    # Real reporters, both paths: every one is stored.
    for _ in range(2):
        answer = _no_js_report(server.url)
        assert answer.status_code == 200 and RECEIPT.search(answer.text)
        uploaded = _browser_report(server.url, org)
        assert uploaded.status_code == 200, uploaded.text
        assert "receipt" in uploaded.json()


def test_one_solved_challenge_is_accepted_once_by_every_worker_and_after_a_restart(
    tmp_path: Path, databases: Databases, org: RecipientPrivateKey, start: object
) -> None:
    env = _env(tmp_path, databases)
    server = start(env, workers=2)  # type: ignore[operator]
    deadline = time.monotonic() + 20
    while len(server.worker_pids()) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(server.worker_pids()) == 2
    with requests.Session() as session:
        proof = _proof(session, server.url)
    assert _browser_report(server.url, org, proof).status_code == 200
    # Replayed on fresh connections (either worker answers), then checked
    # against a receipt: refused every time.
    replies = [_browser_report(server.url, org, proof) for _ in range(8)]
    assert {(r.status_code, r.json()["error"]) for r in replies} == {(400, "altcha")}
    server.stop()
    server = start(env, workers=2)  # type: ignore[operator]
    again = _browser_report(server.url, org, proof)
    assert (again.status_code, again.json()["error"]) == (400, "altcha")
    # A fresh one still goes in.
    assert _browser_report(server.url, org).status_code == 200


def _check_page(session: requests.Session, url: str) -> tuple[str, str]:
    page = session.get(f"{url}/en/receipt", timeout=30).text
    return servers.csrf_token(page), _check_token(page)


def _check_token(page: str) -> str:
    # "" where a page has none (how the test ran against the code before).
    found = re.search(r'name="check" type="hidden" value="([^"]*)"', page)
    return found.group(1) if found else ""


def test_one_check_page_replayed_in_bulk_cannot_refuse_real_checks(
    tmp_path: Path, databases: Databases, org: RecipientPrivateKey, start: object
) -> None:
    # Everyone together may try 5 receipts an hour here.
    env = _env(tmp_path, databases, RECEIPT_GLOBAL_BURST="5", RECEIPT_GLOBAL_INTERVAL="3600")
    server = start(env)  # type: ignore[operator]
    found = RECEIPT.search(_no_js_report(server.url).text)
    assert found is not None
    receipt = found.group(1)
    with requests.Session() as attacker:
        csrf, check = _check_page(attacker, server.url)

        def guess(_i: int) -> int:
            data = {"csrf_token": csrf, "check": check, "receipt": new_receipt()}
            return attacker.post(f"{server.url}/en/receipt", data=data, timeout=30).status_code

        with ThreadPoolExecutor(4) as pool:
            statuses = Counter(pool.map(guess, range(40)))
    assert statuses == {404: 1, 400: 39}  # one lookup, then "the page expired"
    # Three real reporters check their receipt: each is let in.
    for _ in range(3):
        with requests.Session() as reporter:
            csrf, check = _check_page(reporter, server.url)
            data = {"csrf_token": csrf, "check": check, "receipt": receipt}
            answer = reporter.post(f"{server.url}/en/receipt", data=data, timeout=30)
            assert answer.status_code == 200, answer.status_code
            assert 'name="access"' in answer.text


def test_checks_the_buckets_refuse_write_nothing(
    tmp_path: Path, databases: Databases, org: RecipientPrivateKey, start: object
) -> None:
    """A fresh check page is free to load, so its token is no cost: a
    flood of fresh-page checks past the guess buckets must not write a
    spent-token row each (kept two days) and grow the database without
    bound. Only the checks the buckets let through are recorded."""
    env = _env(tmp_path, databases, RECEIPT_GLOBAL_BURST="2", RECEIPT_GLOBAL_INTERVAL="3600")
    server = start(env)  # type: ignore[operator]

    def fresh_page_guess(_i: int) -> int:
        with requests.Session() as attacker:
            csrf, check = _check_page(attacker, server.url)
            data = {"csrf_token": csrf, "check": check, "receipt": new_receipt()}
            return attacker.post(f"{server.url}/en/receipt", data=data, timeout=30).status_code

    with ThreadPoolExecutor(4) as pool:
        statuses = Counter(pool.map(fresh_page_guess, range(12)))
    assert statuses == {404: 2, 429: 10}
    url = databases.intake or f"sqlite:///{tmp_path / 'intake' / 'intake.db'}"
    engine = sqlalchemy.create_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(sqlalchemy.text("SELECT count(*) FROM spent_challenge")).scalar()
    finally:
        engine.dispose()
    assert rows == 2


def _status_page(session: requests.Session, url: str, receipt: str, lang: str = "en") -> str:
    page = session.get(f"{url}/{lang}/receipt", timeout=30).text
    data = {
        "csrf_token": servers.csrf_token(page),
        "check": _check_token(page),
        "receipt": receipt,
    }
    answer = session.post(f"{url}/{lang}/receipt", data=data, timeout=30)
    assert answer.status_code == 200
    return answer.text


def _no_js_followup(
    session: requests.Session, url: str, status_page: str, text: str, lang: str = "en"
) -> requests.Response:
    data = {
        "csrf_token": servers.csrf_token(status_page),
        "access": servers.hidden(status_page, "access"),
        "submission": servers.hidden(status_page, "submission"),
        "narrative": text,
    }
    files = {"attachments": ("evidence.bin", b"\x00" * 300_000, "application/octet-stream")}
    return session.post(f"{url}/{lang}/followup", data=data, files=files, timeout=60)


def test_follow_ups_meet_a_daily_quota_per_report(
    tmp_path: Path, databases: Databases, org: RecipientPrivateKey, start: object
) -> None:
    env = _env(tmp_path, databases, FOLLOWUP_DAILY_COUNT="3", FOLLOWUP_DAILY_BYTES=str(10 * 1024 * 1024))
    server = start(env)  # type: ignore[operator]
    found = RECEIPT.search(_no_js_report(server.url).text)
    assert found is not None
    with requests.Session() as reporter:
        page = _status_page(reporter, server.url, found.group(1), "fr")
        statuses = []
        for i in range(5):
            answer = _no_js_followup(reporter, server.url, page, f"ajout {i}", "fr")
            statuses.append(answer.status_code)
            if answer.status_code == 429:
                assert "ont déjà été ajoutées à ce signalement aujourd" in answer.text
                assert f"ajout {i}</textarea>" in answer.text  # what was typed is kept
            page = _status_page(reporter, server.url, found.group(1), "fr")
    assert statuses == [200, 200, 200, 429, 429]


def test_the_free_disk_floor_refuses_uploads_and_keeps_what_was_typed(
    tmp_path: Path, databases: Databases, org: RecipientPrivateKey, start: object
) -> None:
    # A floor above any disk's size: every upload meets it.
    server = start(_env(tmp_path, databases, MIN_FREE_DISK=str(2**60)))  # type: ignore[operator]
    answer = _no_js_report(server.url, "Ils m'ont suivi.", "fr")
    assert answer.status_code == 507
    assert "Ce service ne peut plus rien enregistrer" in answer.text
    assert "Ils m'ont suivi.</textarea>" in answer.text or "Ils m&#39;ont suivi.</textarea>" in answer.text
    uploaded = _browser_report(server.url, org)
    assert uploaded.status_code == 507
    assert uploaded.json()["error"] == "disk_full"
    assert json.loads(uploaded.text)["message"]


def test_another_sites_followup_post_opens_no_status_page(
    tmp_path: Path, databases: Databases, org: RecipientPrivateKey, start: object
) -> None:
    """With its own report's access token, another site's post must not put
    the reporter on the attacker's case (they would add evidence to it)."""
    server = start(_env(tmp_path, databases))  # type: ignore[operator]
    found = RECEIPT.search(_no_js_report(server.url).text)
    assert found is not None
    with requests.Session() as attacker:
        access = servers.hidden(_status_page(attacker, server.url, found.group(1)), "access")
    with requests.Session() as reporter:
        reporter.get(f"{server.url}/en/", timeout=30)
        answer = reporter.post(
            f"{server.url}/en/followup",
            data={"access": access, "narrative": ""},
            headers={"Sec-Fetch-Site": "cross-site"},
            timeout=30,
        )
    assert 'name="access"' not in answer.text
    assert "This page has expired" in answer.text


def _browser_followup(
    session: requests.Session, url: str, status_page: str, org: RecipientPrivateKey, proof: str | None
) -> requests.Response:
    """A follow-up as js/form.js sends it from the status page (``proof``
    None: without the ``altcha`` field)."""
    follows = re.search(r'data-follows="([^"]+)"', status_page)
    assert follows is not None
    envelope = seal(
        {"form_version": 2, "kind": "followup", "language": "en", "follows": follows.group(1),
         "narrative": "sealed in the browser"},
        [org.public_key], day=today_utc(), sealed_by="browser",
    )  # fmt: skip
    fields = {
        "csrf_token": servers.csrf_token(status_page),
        "access": servers.hidden(status_page, "access"),
        "submission": servers.hidden(status_page, "submission"),
    }
    if proof is not None:
        fields["altcha"] = proof
    files = {
        "header": ("header", envelope.header, "application/json"),
        "body": ("body", envelope.body, "application/octet-stream"),
    }
    return session.post(f"{url}/en/followup/sealed", data=fields, files=files, timeout=60)


def test_follow_ups_are_throttled_and_need_the_proof_of_work_like_reports(
    tmp_path: Path, databases: Databases, org: RecipientPrivateKey, start: object
) -> None:
    """The follow-up pages live apart from the report form but meet the same
    abuse control: the language in their address, the proof of work on the
    JavaScript path, and buckets of their own (everyone together: two
    follow-ups an hour here; loopback is a shared address, so only the
    global bucket applies)."""
    env = _env(tmp_path, databases, FOLLOWUP_GLOBAL_BURST="2", FOLLOWUP_GLOBAL_INTERVAL="3600")
    server = start(env)  # type: ignore[operator]
    for path in ("/xx/receipt", "/xx/followup", "/xx/followup/sealed", "/xx/challenge"):
        assert requests.post(f"{server.url}{path}", timeout=30).status_code in (404, 405), path
        assert requests.get(f"{server.url}{path}", timeout=30).status_code in (404, 405), path
    found = RECEIPT.search(_no_js_report(server.url).text)
    assert found is not None
    with requests.Session() as reporter:
        page = _status_page(reporter, server.url, found.group(1))
        assert 'data-challenge-url="/en/challenge"' in page and 'action="/en/followup"' in page
        # Without a proof of work, or with a forged one: refused, and
        # nothing everyone shares is spent.
        for proof in (None, "forged"):
            answer = _browser_followup(reporter, server.url, page, org, proof)
            assert (answer.status_code, answer.json()["error"]) == (400, "altcha")
        proof = _proof(reporter, server.url)
        assert _browser_followup(reporter, server.url, page, org, proof).json() == {"followup": "received"}
        # The same proof again is spent.
        page = _status_page(reporter, server.url, found.group(1))
        answer = _browser_followup(reporter, server.url, page, org, proof)
        assert (answer.status_code, answer.json()["error"]) == (400, "altcha")
        # Without JavaScript: one more fits everyone's allowance, then 429
        # with what was typed kept.
        assert _no_js_followup(reporter, server.url, page, "one more").status_code == 200
        page = _status_page(reporter, server.url, found.group(1))
        answer = _no_js_followup(reporter, server.url, page, "and another")
        assert answer.status_code == 429
        assert "Too many attempts in a short time" in answer.text and "and another</textarea>" in answer.text
        page = _status_page(reporter, server.url, found.group(1))
        answer = _browser_followup(reporter, server.url, page, org, _proof(reporter, server.url))
        assert (answer.status_code, answer.json()["error"]) == (429, "busy")
