"""Coming back with a receipt: normalization, the check-digit message,
guess limiting without keeping addresses, the status page, and follow-ups
linked to the same report on both paths."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from core.envelope import RecipientPrivateKey, SealedEnvelope, open_envelope, seal
from core.timing import today_utc
from intake.abuse.throttle import TokenBuckets
from intake.store.models import Envelope

from ..helpers import database_bytes, multipart, solved_altcha

FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def _report(client: FlaskClient) -> str:
    html = client.post("/en/", data={"narrative": "the first report"}).get_data(as_text=True)
    found = re.search(r"<output>([\d ]+)</output>", html)
    assert found is not None
    return found.group(1)


def _check(client: FlaskClient, typed: str, lang: str = "en", address: str = "192.0.2.1") -> Any:
    return client.post(f"/{lang}/receipt", data={"receipt": typed}, environ_base={"REMOTE_ADDR": address})


def _access(html: str) -> str:
    found = re.search(r'name="access" type="hidden" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


def _rows(app: Flask) -> list[Envelope]:
    with app.extensions["intake.db"].sessions() as session:
        rows = list(session.scalars(select(Envelope).order_by(Envelope.seq)))
        session.expunge_all()
        return rows


@pytest.mark.parametrize(
    "variant",
    [
        lambda r: r,
        lambda r: r.replace(" ", ""),
        lambda r: r.replace(" ", "-"),
        lambda r: r.translate(FULL_WIDTH).replace(" ", "\u3000"),
        lambda r: r.translate(FULL_WIDTH).replace(" ", "－"),
        lambda r: r.replace(" ", "，") + "。",
        lambda r: " " + r.replace(" ", "、") + " ",
    ],
)
def test_a_receipt_typed_any_usual_way_opens_the_status_page(
    intake_client: FlaskClient, variant: Any
) -> None:
    receipt = _report(intake_client)
    response = _check(intake_client, variant(receipt))
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Add information or files" in html
    assert f"Received on {today_utc().isoformat()}." in html
    assert receipt not in html and receipt.replace(" ", "") not in html  # never echoed back


@pytest.mark.parametrize(
    ("lang", "phrase"),
    [("en", "typing mistake"), ("zh-hant", "輸入錯誤"), ("zh-hans", "输入错误"), ("fr", "faute de frappe")],
)
def test_a_typo_gets_the_check_digit_message(intake_client: FlaskClient, lang: str, phrase: str) -> None:
    digits = _report(intake_client).replace(" ", "")
    wrong = digits[:5] + str((int(digits[5]) + 1) % 10) + digits[6:]
    response = _check(intake_client, wrong, lang)
    assert response.status_code == 400
    assert phrase in response.get_data(as_text=True)


def test_a_short_receipt_says_how_long_one_is(intake_client: FlaskClient) -> None:
    response = _check(intake_client, "1234 5678")
    assert response.status_code == 400
    assert "28 digits" in response.get_data(as_text=True)


def _valid_but_unknown(n: int) -> list[str]:
    from stdnum import damm

    out = []
    for i in range(n):
        body = f"{i:027d}"
        out.append(body + str(damm.calc_check_digit(body)))
    return out


def test_twenty_wrong_receipts_in_a_row_are_slowed_down_and_no_address_is_kept(
    intake_app: Flask, intake_client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    receipt = _report(intake_client)
    address = "198.51.100.77"
    caplog.set_level(logging.DEBUG)
    statuses = [_check(intake_client, wrong, address=address).status_code for wrong in _valid_but_unknown(20)]
    assert statuses[:10] == [404] * 10
    assert statuses[10:] == [429] * 10
    slowed = _check(intake_client, receipt, address=address)
    assert slowed.status_code == 429
    assert "wait a few minutes" in slowed.get_data(as_text=True)
    # Someone else is not slowed down by it.
    assert _check(intake_client, receipt, address="203.0.113.9").status_code == 200
    # The address is in no log line and no byte of the database.
    assert address not in caplog.text
    assert address.encode() not in database_bytes(intake_app)


def test_behind_a_proxy_one_guesser_cannot_stop_everyones_receipt_check(intake_client: FlaskClient) -> None:
    """Behind nginx or the Tor daemon every reporter arrives from 127.0.0.1:
    only the global bucket applies there, so twenty wrong receipts do not
    lock out the next reporter's right one."""
    receipt = _report(intake_client)
    statuses = [
        _check(intake_client, wrong, address="127.0.0.1").status_code for wrong in _valid_but_unknown(20)
    ]
    assert statuses == [404] * 20
    assert _check(intake_client, receipt, address="127.0.0.1").status_code == 200


def test_token_buckets_refill_and_forget_full_clients() -> None:
    buckets = TokenBuckets(burst=2, interval=10, global_burst=100, global_interval=0.1, max_clients=1)
    assert buckets.allow("a", now=0) and buckets.allow("a", now=0)
    assert not buckets.allow("a", now=1)
    assert buckets.allow("a", now=11)  # one token back after 10 s
    assert buckets.allow("b", now=100)  # "a" was full again: forgotten
    assert buckets.clients() == 1
    everyone = TokenBuckets(burst=100, interval=1, global_burst=3, global_interval=100)
    assert [everyone.allow(f"10.0.0.{i}", now=0) for i in range(4)] == [True, True, True, False]


def test_token_buckets_peek_takes_nothing() -> None:
    buckets = TokenBuckets(burst=1, interval=10, global_burst=2, global_interval=100)
    assert buckets.peek("a", now=0) and buckets.peek("a", now=0)
    assert buckets.allow("a", now=0)
    assert not buckets.peek("a", now=1)  # the client's bucket is empty
    assert buckets.peek("a", now=1, per_client=False)  # everyone's is not
    assert buckets.allow("b", now=1)
    assert not buckets.peek("c", now=2)  # everyone's is empty now


def test_a_follow_up_without_javascript_joins_the_same_report(
    intake_app: Flask, intake_client: FlaskClient, org_key: RecipientPrivateKey
) -> None:
    receipt = _report(intake_client)
    html = _check(intake_client, receipt.translate(FULL_WIDTH)).get_data(as_text=True)
    body, content_type = multipart(
        {
            "access": _access(html),
            "narrative": "they called again",
            "attachments": (b"%PDF-1.4 more", "letter.pdf", "application/pdf"),
        }
    )
    response = intake_client.post("/zh-hant/followup", data=body, content_type=content_type)
    assert response.status_code == 200
    assert "我們已收到您補充的資料" in response.get_data(as_text=True)
    report, followup = _rows(intake_app)
    assert followup.followup_of == report.seq and report.followup_of is None
    blobs = intake_app.extensions["intake.blobs"]
    sealed = SealedEnvelope(
        followup.header, followup.body, (b"".join(blobs.read_chunks(followup.envelope_id, 0)),)
    )
    opened = open_envelope(sealed, [org_key])
    assert opened.report == {
        "form_version": 2,
        "kind": "followup",
        "language": "zh-Hant",
        "follows": report.envelope_id,
        "narrative": "they called again",
    }
    assert [a.name for a in opened.attachments] == ["letter.pdf"]
    # The same receipt still works, and the status page counts the follow-up.
    again = _check(intake_client, receipt).get_data(as_text=True)
    assert "You have added information 1 time." in again


def test_a_follow_up_needs_a_valid_access_token_and_something_to_add(
    intake_client: FlaskClient, intake_app: Flask
) -> None:
    receipt = _report(intake_client)
    assert intake_client.post("/en/followup", data={"access": "forged", "narrative": "x"}).status_code == 400
    access = _access(_check(intake_client, receipt).get_data(as_text=True))
    empty = intake_client.post("/en/followup", data={"access": access, "narrative": "  "})
    assert empty.status_code == 400
    assert "Please write something or choose a file" in empty.get_data(as_text=True)
    assert len(_rows(intake_app)) == 1


def test_a_browser_sealed_follow_up_is_linked_and_must_go_to_the_same_organizations(
    intake_app: Flask, intake_client: FlaskClient, org_key: RecipientPrivateKey
) -> None:
    receipt = _report(intake_client)
    access = _access(_check(intake_client, receipt).get_data(as_text=True))
    [report] = _rows(intake_app)

    def post(recipients: list[Any], token: str = access) -> Any:
        sealed = seal(
            {"form_version": 2, "kind": "followup", "language": "en", "follows": report.envelope_id,
             "narrative": "more"},
            recipients, day=today_utc(), sealed_by="browser",
        )  # fmt: skip
        data, content_type = multipart(
            {
                "access": token,
                "altcha": solved_altcha(intake_client),
                "header": (sealed.header, "header", "application/json"),
                "body": (sealed.body, "body", "application/octet-stream"),
            }
        )
        return intake_client.post("/en/followup/sealed", data=data, content_type=content_type)

    other = RecipientPrivateKey.generate()
    assert post([other.public_key]).get_json()["error"] == "stale"
    assert post([org_key.public_key], token="forged").get_json()["error"] == "expired"
    answer = post([org_key.public_key])
    assert answer.status_code == 200 and answer.get_json() == {"followup": "received"}
    assert [r.followup_of for r in _rows(intake_app)] == [None, report.seq]


def test_the_reviewer_api_names_the_report_a_follow_up_adds_to(
    intake_app: Flask, intake_client: FlaskClient
) -> None:
    from intake.api.tokens import create_token

    receipt = _report(intake_client)
    access = _access(_check(intake_client, receipt).get_data(as_text=True))
    intake_client.post("/en/followup", data={"access": access, "narrative": "more"})
    with intake_app.extensions["intake.db"].sessions() as session:
        token = create_token(session, "test-org")
    listed = intake_client.get("/api/v1/envelopes", headers={"Authorization": f"Bearer {token}"}).get_json()
    report, followup = listed["envelopes"]
    assert report["follows"] is None
    assert followup["follows"] == report["id"]


@pytest.mark.parametrize("lang", ["en", "zh-hant"])
def test_without_javascript_a_form_sent_again_shows_no_receipt(
    intake_app: Flask, intake_client: FlaskClient, lang: str
) -> None:
    """Back and send again (or reload the receipt page): one envelope, and
    the receipt is not shown a second time, since nothing in a resent plain
    form proves it comes from the reporter rather than from whoever holds the
    device; the receipt page warns of this."""
    data = {"narrative": "sent twice", "submission": "D" * 22}
    first = intake_client.post(f"/{lang}/", data=data).get_data(as_text=True)
    receipt = re.search(r"<output>([\d ]+)</output>", first)
    assert receipt is not None
    assert ("cannot be shown again" in first) == (lang == "en")
    assert ("無法再次顯示" in first) == (lang == "zh-hant")
    again = intake_client.post(f"/{lang}/", data=data)
    assert again.status_code == 200
    text = again.get_data(as_text=True)
    assert receipt.group(1) not in text and receipt.group(1).replace(" ", "") not in text
    assert "<output>" not in text
    assert len(_rows(intake_app)) == 1


def test_an_expired_check_page_names_its_own_button(intake_app: Flask) -> None:
    intake_app.config["WTF_CSRF_ENABLED"] = True
    response = intake_app.test_client().post("/fr/receipt", data={"receipt": "1234"})
    assert response.status_code == 400
    assert "Appuyez de nouveau sur «\u00a0Continuer\u00a0»." in response.get_data(as_text=True)


def test_the_follow_up_page_speaks_of_what_was_added_and_names_its_own_button(
    intake_app: Flask, intake_client: FlaskClient
) -> None:
    """The follow-up page's button is “Send” and the reader is adding to a
    report: its messages say so, while the form's name “Send report”."""
    html = _check(intake_client, _report(intake_client)).get_data(as_text=True)
    assert "Sending what you added, encrypted" in html and "Sending the encrypted report" not in html
    assert "before what you added was stored" in html
    access = _access(html)
    intake_app.config["WTF_CSRF_ENABLED"] = True
    intake_client.get("/en/")  # the session cookie is there, the page's token is not: expired
    # From the page itself (as the browser says), so the CSRF check answers.
    expired = intake_client.post(
        "/en/followup",
        data={"access": access, "narrative": "more"},
        headers={"Sec-Fetch-Site": "same-origin"},
    )
    assert expired.status_code == 400
    assert "The page expired. Please press “Send” again." in expired.get_data(as_text=True)
    form = intake_client.post(
        "/en/", data={"narrative": "a report"}, headers={"Sec-Fetch-Site": "same-origin"}
    ).get_data(as_text=True)
    assert "The page expired. Please press “Send report” again." in form
    # The browser uploads answer the same way, each naming its page's button.
    for path, button in (("/en/followup/sealed", "“Send”"), ("/en/sealed", "“Send report”")):
        data, content_type = multipart({"access": access})
        answer = intake_client.post(path, data=data, content_type=content_type)
        assert answer.get_json()["error"] == "csrf"
        assert f"Please press {button} again." in answer.get_json()["message"]


@pytest.mark.parametrize("lang", ["en", "fr", "zh-hant", "zh-hans"])
def test_opening_the_follow_up_address_again_leads_back_to_the_receipt_check(
    intake_client: FlaskClient, lang: str
) -> None:
    """A reporter who bookmarks, shares or reopens the address a follow-up
    was sent to (a GET, with no access token) lands on the receipt check in
    their language, not on a "page not found" that reads like the report is
    gone."""
    response = intake_client.get(f"/{lang}/followup")
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/{lang}/receipt")
    assert intake_client.get(response.headers["Location"]).status_code == 200
