"""ALTCHA proof of work (intake/abuse/proofofwork.py): the challenge the
page's script fetches, what a solution must be, and what a solved receipt
check buys (the per-address bucket skipped, for people who share one
address behind Tor)."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import altcha
from flask import Flask
from flask.testing import FlaskClient

from core.receipts import new_receipt
from intake.abuse import proofofwork

from ..helpers import solved_altcha

RECEIPT = re.compile(r"<output>([\d ]+)</output>")


def _decoded(payload: str) -> dict[str, Any]:
    return dict(json.loads(base64.b64decode(payload)))


def _encoded(doc: dict[str, Any]) -> str:
    return base64.b64encode(json.dumps(doc).encode()).decode()


def test_the_challenge_is_signed_fresh_and_never_cached(
    intake_app: Flask, intake_client: FlaskClient
) -> None:
    first, second = intake_client.get("/en/challenge"), intake_client.get("/zh-hant/challenge")
    assert first.status_code == 200 and first.mimetype == "application/json"
    assert "no-store" in first.headers["Cache-Control"]
    a, b = first.get_json(), second.get_json()
    assert a["parameters"]["algorithm"] == "PBKDF2/SHA-256" and a["signature"]
    assert a["parameters"]["nonce"] != b["parameters"]["nonce"]
    assert a["parameters"]["expiresAt"] > 0


def test_only_a_solution_to_our_own_unexpired_challenge_counts_once(
    intake_app: Flask, intake_client: FlaskClient
) -> None:
    with intake_app.test_request_context():
        payload = solved_altcha(intake_client)
        doc = _decoded(payload)
        wrong_key = json.loads(json.dumps(doc))
        wrong_key["solution"]["derivedKey"] = "00" * 32
        raised_cost = json.loads(json.dumps(doc))
        raised_cost["challenge"]["parameters"]["cost"] = 1  # the signature covers it
        foreign = altcha.create_challenge("PBKDF2/SHA-256", 10, hmac_secret="someone else's key")
        foreign_solution = altcha.solve_challenge(foreign)
        assert foreign_solution is not None
        for bad in (
            None,
            "",
            "not base64 at all",
            _encoded({"challenge": {}}),
            _encoded(wrong_key),
            _encoded(raised_cost),
            altcha.Payload(foreign, foreign_solution).to_base64(),
            "A" * (proofofwork.MAX_PAYLOAD + 4),
        ):
            assert proofofwork.verify(bad) is False
        assert proofofwork.verify(payload) is True
        assert proofofwork.verify(payload) is False  # spent


def test_an_expired_challenge_is_refused(intake_app: Flask, intake_client: FlaskClient) -> None:
    intake_app.config["ALTCHA_MAX_AGE"] = -5
    payload = solved_altcha(intake_client)
    with intake_app.test_request_context():
        assert proofofwork.verify(payload) is False


def test_a_solved_receipt_check_meets_only_the_global_bucket(
    intake_app: Flask, intake_client: FlaskClient
) -> None:
    """Behind Tor everyone has one address: ten wrong receipts from one
    person would stop everyone's check, unless the check did the work."""
    html = intake_client.post("/en/", data={"narrative": "report"}).get_data(as_text=True)
    found = RECEIPT.search(html)
    assert found is not None
    receipt = found.group(1)
    wrong = new_receipt()  # well formed, so each lookup costs a token
    address = {"REMOTE_ADDR": "198.51.100.20"}
    for _ in range(10):  # the per-address allowance, spent on wrong guesses
        response = intake_client.post("/en/receipt", data={"receipt": wrong}, environ_base=address)
        assert response.status_code == 404
    assert (
        intake_client.post("/en/receipt", data={"receipt": receipt}, environ_base=address).status_code == 429
    )
    proven = {"receipt": receipt, "altcha": solved_altcha(intake_client)}
    assert intake_client.post("/en/receipt", data=proven, environ_base=address).status_code == 200
    # A proof that does not verify is refused with a message, the receipt kept.
    response = intake_client.post(
        "/en/receipt", data={"receipt": receipt, "altcha": "forged"}, environ_base=address
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "did not finish a short automatic check in time" in page and receipt in page


def test_a_flood_of_cheap_guesses_does_not_stop_checks_that_did_the_work(
    intake_app: Flask, intake_client: FlaskClient
) -> None:
    """Behind Tor (one shared address, 127.0.0.1) a script empties the
    global allowance of guesses without doing any work; a reporter whose
    browser did the work still gets in."""
    intake_app.config.update(RECEIPT_GLOBAL_BURST=20, RECEIPT_GLOBAL_INTERVAL=60)
    html = intake_client.post("/en/", data={"narrative": "report"}).get_data(as_text=True)
    found = RECEIPT.search(html)
    assert found is not None
    tor = {"REMOTE_ADDR": "127.0.0.1"}
    statuses = [
        intake_client.post("/en/receipt", data={"receipt": new_receipt()}, environ_base=tor).status_code
        for _ in range(40)
    ]
    assert statuses.count(404) == 20 and statuses.count(429) == 20
    assert (
        intake_client.post("/en/receipt", data={"receipt": found.group(1)}, environ_base=tor).status_code
        == 429
    )
    proven = {"receipt": found.group(1), "altcha": solved_altcha(intake_client)}
    assert intake_client.post("/en/receipt", data=proven, environ_base=tor).status_code == 200
