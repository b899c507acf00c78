"""Triage on the case page: disposition, urgency, tags, assignment, notes
(sealed), the reviewer's TNR coding (apart from the reporter's), inbox
filters and paging, the quarantine page."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from admin.briefing.record_store import local_records
from admin.cases import triage
from admin.extensions import DB_EXTENSION, KEYRING_EXTENSION
from admin.models import Case, CaseNote
from tests.admin.admin_testlib import AuthActions, FakeIntake, canary, files_containing, synced, unlock


def case_row(app: Flask, envelope_id: str) -> Case:
    with app.extensions[DB_EXTENSION].session() as session:
        case = session.scalar(select(Case).where(Case.envelope_id == envelope_id))
        assert case is not None
        return case


def test_disposition_urgency_and_tags(
    console_app: Flask, console_client: FlaskClient, auth: AuthActions, fake_intake: FakeIntake
) -> None:
    served = fake_intake.add({"narrative": "x"})
    synced(console_app, fake_intake)
    auth.login_as("reviewer")
    url = f"/cases/{served.envelope_id}"
    done = console_client.post(
        f"{url}/triage",
        data={"status": "needs_information", "urgent": "y", "tags": "Follow-up, translation"},
        follow_redirects=True,
    )
    assert b"Saved." in done.data
    case = case_row(console_app, served.envelope_id)
    assert case.status == "needs_information" and case.urgent
    page = console_client.get(url).get_data(as_text=True)
    assert "Imminent danger" in page and "follow-up translation" in page

    bad = console_client.post(f"{url}/triage", data={"status": "deleted", "tags": ""}, follow_redirects=True)
    assert b"Choose a disposition." in bad.data
    bad_tag = console_client.post(
        f"{url}/triage", data={"status": "new", "tags": "<b>"}, follow_redirects=True
    )
    assert b"Tags may use" in bad_tag.data
    assert case_row(console_app, served.envelope_id).status == "needs_information"


def test_coding_is_stored_apart_from_the_reporters_ticks(
    console_app: Flask, console_client: FlaskClient, auth: AuthActions, fake_intake: FakeIntake
) -> None:
    served = fake_intake.add({"narrative": "x", "tactics": ["T01"], "province": "CA-BC"})
    synced(console_app, fake_intake)
    auth.login_as("reviewer")
    url = f"/cases/{served.envelope_id}/coding"
    response = console_client.post(
        url,
        data={
            "tactics": ["T04", "T05"],
            "communities": ["uyghur"],
            "province": "CA-ON",
            "state": "prc",
            "attribution": "B",
            "confidence": "medium",
            "incident_month": "2026-10",
        },
        follow_redirects=True,
    )
    assert b"Coding saved." in response.data
    with console_app.extensions[DB_EXTENSION].session() as session:
        case = session.scalar(select(Case).where(Case.envelope_id == served.envelope_id))
        assert case is not None
        coding = triage.coding_of(session, case)
        assert coding == triage.Coding(("T04", "T05"), ("uyghur",), "CA-ON", "prc", "B", "medium", "2026-10")
        records = local_records(session)
    # What a briefing counts of it (its input, admin/briefing/records.py).
    assert [
        (r.case_id, r.incident_month, r.report_month, r.province, r.tactics, r.communities)
        + (r.attribution, r.confidence, r.disposition)
        for r in records
    ] == [
        (served.envelope_id, "2026-10", "2026-11", "CA-ON", ("T04", "T05"), ("uyghur",))
        + ("B", "medium", "new")
    ]
    # The reporter's own ticks are untouched, inside the sealed report.
    page = console_client.get(f"/cases/{served.envelope_id}").get_data(as_text=True)
    assert "CA-BC" in page and "T01" in page

    for bad in (
        {"tactics": ["T16"]},
        {"province": "CA-XX"},
        {"attribution": "B"},  # without a confidence
        {"incident_month": "2026-13"},
        {"incident_month": "2099-01"},
    ):
        console_client.post(url, data=bad)
    with console_app.extensions[DB_EXTENSION].session() as session:
        case = session.scalar(select(Case).where(Case.envelope_id == served.envelope_id))
        assert case is not None
        assert triage.coding_of(session, case) == coding  # unchanged


def test_coding_validation() -> None:
    with pytest.raises(triage.TriageError, match="attribution and confidence"):
        triage.Coding(confidence="low").validate()
    assert triage.Coding(tactics=("T05", "T01", "T05")).validate().tactics == ("T01", "T05")
    this_month = datetime.now(UTC).strftime("%Y-%m")
    assert triage.Coding(incident_month=this_month).validate().incident_month == this_month
    with pytest.raises(triage.TriageError, match="future"):
        triage.Coding(incident_month=f"{datetime.now(UTC).year + 1}-01").validate()
    with pytest.raises(triage.TriageError, match="1950-01 or later"):
        triage.Coding(incident_month="0000-01").validate()
    with pytest.raises(triage.TriageError, match="YYYY-MM"):
        triage.Coding(incident_month="\uff12\uff10\uff12\uff14-01").validate()  # full-width digits


def test_notes_are_sealed(
    console_app: Flask, console_client: FlaskClient, auth: AuthActions, fake_intake: FakeIntake
) -> None:
    served = fake_intake.add({"narrative": "x"})
    synced(console_app, fake_intake)
    auth.login_as("reviewer")
    secret = canary()
    url = f"/cases/{served.envelope_id}"
    assert (
        b"Note added."
        in console_client.post(f"{url}/notes", data={"body": secret}, follow_redirects=True).data
    )
    assert secret in console_client.get(url).get_data(as_text=True)
    assert files_containing(Path(console_app.config["DATA_DIR"]), secret.encode()) == []
    with console_app.extensions[DB_EXTENSION].session() as session:
        assert len(session.scalars(select(CaseNote)).all()) == 1

    console_app.extensions[KEYRING_EXTENSION].lock()
    locked = console_client.get(url).get_data(as_text=True)
    assert secret not in locked and "Notes are encrypted" in locked
    refused = console_client.post(f"{url}/notes", data={"body": "another"}, follow_redirects=True)
    assert b"Unlock the organization key to write notes." in refused.data


def test_take_and_assign(
    console_app: Flask, console_client: FlaskClient, auth: AuthActions, fake_intake: FakeIntake
) -> None:
    served = fake_intake.add({"narrative": "x"})
    synced(console_app, fake_intake)
    reviewer = auth.create("reviewer", email="rev@example.org")
    auth.login_as("coordinator")
    with console_app.extensions[DB_EXTENSION].session() as session:
        from admin.auth.accounts import find_user

        rev = find_user(session, reviewer)
        assert rev is not None
        rev_id = rev.id
    url = f"/cases/{served.envelope_id}"
    console_client.post(f"{url}/assign", data={"assignee": str(rev_id)})
    assert case_row(console_app, served.envelope_id).assignee_id == rev_id
    assert "rev@example.org" in console_client.get(url).get_data(as_text=True)
    console_client.post(f"{url}/take")
    assert case_row(console_app, served.envelope_id).assignee_id != rev_id
    console_client.post(f"{url}/assign", data={"assignee": ""})
    assert case_row(console_app, served.envelope_id).assignee_id is None


def test_inbox_filters_and_order(
    console_app: Flask, console_client: FlaskClient, auth: AuthActions, fake_intake: FakeIntake
) -> None:
    served = [fake_intake.add({"narrative": f"number-{n}-end"}) for n in range(6)]
    synced(console_app, fake_intake)
    auth.login_as("coordinator")
    console_client.post(
        f"/cases/{served[1].envelope_id}/triage", data={"status": "verified", "urgent": "y", "tags": "a"}
    )
    console_client.post(f"/cases/{served[2].envelope_id}/triage", data={"status": "verified", "tags": "b"})
    console_client.post(f"/cases/{served[3].envelope_id}/coding", data={"tactics": ["T09"]})
    console_client.post(f"/cases/{served[4].envelope_id}/take")

    def listed(query: str) -> list[int]:
        page = console_client.get("/" + query).get_data(as_text=True)
        return [n for n in range(6) if f"number-{n}-end" in page]

    first = console_client.get("/").get_data(as_text=True)
    assert first.index("number-1-end") < first.index("number-5-end")  # urgent first
    assert listed("?status=verified") == [1, 2]
    assert listed("?urgent=yes") == [1]
    assert listed("?tactic=T09") == [3]
    assert listed("?assignee=me") == [4]
    assert listed("?assignee=none") == [0, 1, 2, 3, 5]
    assert listed("?tag=b") == [2]
    assert listed("?status=bogus") == [0, 1, 2, 3, 4, 5]  # unknown values are ignored
    assert listed("?from=2030-01-01") == []

    console_app.config["CASES_PER_PAGE"] = 1
    page = console_client.get("/?status=verified").get_data(as_text=True)
    assert "Page 1 of 2" in page and "status=verified" in page  # paging keeps the filter


def test_inbox_page_uses_indexes(console_app: Flask) -> None:
    if console_app.extensions[DB_EXTENSION].engine.dialect.name != "sqlite":
        pytest.skip("query plan text is SQLite's")
    with console_app.extensions[DB_EXTENSION].engine.connect() as conn:
        plan = " ".join(
            str(row[-1])
            for row in conn.exec_driver_sql(
                "EXPLAIN QUERY PLAN SELECT id FROM cases WHERE status = 'new' "
                "ORDER BY urgent DESC, seq DESC LIMIT 50"
            )
        )
        assert "ix_cases_status_urgent_seq" in plan and "TEMP B-TREE" not in plan
        plan = " ".join(
            str(row[-1])
            for row in conn.exec_driver_sql(
                "EXPLAIN QUERY PLAN SELECT case_id FROM case_coding_tactics WHERE code = 'T05'"
            )
        )
        assert "ix_case_coding_tactics_code_case_id" in plan or "pk_case_coding_tactics" in plan.lower()


def test_quarantine_page(
    console_app: Flask, console_client: FlaskClient, auth: AuthActions, fake_intake: FakeIntake
) -> None:
    bad = fake_intake.add({"narrative": "x"})
    bad.body = bad.body[:100] + bytes([bad.body[100] ^ 1]) + bad.body[101:]
    synced(console_app, fake_intake)
    auth.login_as("reviewer")
    assert b"1 envelopes in quarantine." in console_client.get("/").data
    page = console_client.get("/quarantine").get_data(as_text=True)
    assert bad.envelope_id in page and "TamperedEnvelopeError" in page


def test_refused_case_forms_come_back_as_typed(
    console_app: Flask, console_client: FlaskClient, auth: AuthActions, fake_intake: FakeIntake
) -> None:
    """A note, vignette, coding or triage change that is refused (too long,
    key locked, a bad value) comes back on the case page with what was
    typed and why, never lost behind a redirect."""
    served = fake_intake.add({"narrative": "x", "consent": {"quote": True}})
    synced(console_app, fake_intake)
    auth.login_as("reviewer")
    url = f"/cases/{served.envelope_id}"

    long_note = canary() + " " + "n" * 20_000
    refused = console_client.post(f"{url}/notes", data={"body": long_note})
    assert refused.status_code == 400
    page = refused.get_data(as_text=True)
    assert "Write the note first (at most 20,000 characters)." in page and long_note in page

    console_app.extensions[KEYRING_EXTENSION].lock()
    note = canary()
    locked = console_client.post(f"{url}/notes", data={"body": note})
    assert locked.status_code == 409
    page = locked.get_data(as_text=True)
    assert "Unlock the organization key to write notes." in page and note in page
    with console_app.extensions[DB_EXTENSION].session() as session:
        assert session.scalars(select(CaseNote)).all() == []
    unlock(console_app)

    vignette = "v" * 1201
    refused = console_client.post(f"{url}/vignette", data={"text_en": vignette, "text_fr": "court"})
    assert refused.status_code == 400
    page = refused.get_data(as_text=True)
    assert vignette in page and "court" in page and "at most 1200 characters" in page

    future = f"{datetime.now(UTC).year + 1}-03"
    coding = {"tactics": ["T04"], "province": "CA-ON", "incident_month": future}
    refused = console_client.post(f"{url}/coding", data=coding)
    assert refused.status_code == 400
    page = refused.get_data(as_text=True)
    assert "cannot be in the future" in page and f'value="{future}"' in page
    assert 'value="T04" id="tactic-T04" checked' in page

    too_long = console_client.post(f"{url}/triage", data={"status": "new", "tags": "t" * 401})
    assert too_long.status_code == 400
    assert "Tags: at most 400 characters." in too_long.get_data(as_text=True)
    refused = console_client.post(
        f"{url}/triage", data={"status": "verified", "urgent": "y", "tags": "ok Bad_Tag"}
    )
    assert refused.status_code == 400
    page = refused.get_data(as_text=True)
    assert 'value="ok Bad_Tag"' in page
    assert case_row(console_app, served.envelope_id).status == "new"


def test_line_breaks_count_once_as_in_the_browser(
    console_app: Flask, console_client: FlaskClient, auth: AuthActions, fake_intake: FakeIntake
) -> None:
    """A browser posts each line break as CRLF, while its maxlength counted
    one character: a vignette of 1200 characters in 10 lines is taken."""
    served = fake_intake.add({"narrative": "x"})
    synced(console_app, fake_intake)
    auth.login_as("reviewer")
    text = "\r\n".join(["w" * 119] * 10) + "w"  # 1200 with LF, 1209 with CRLF
    assert len(text.replace("\r\n", "\n")) == 1200
    url = f"/cases/{served.envelope_id}/vignette"
    saved = console_client.post(url, data={"text_en": text}, follow_redirects=True)
    assert b"Vignette saved." in saved.data


def test_numbers_past_a_database_integer_are_not_found_not_a_server_error(
    console_app: Flask, console_client: FlaskClient, auth: AuthActions, fake_intake: FakeIntake
) -> None:
    served = fake_intake.add({"narrative": "x"})
    synced(console_app, fake_intake)
    auth.login_as("reviewer")
    huge = "9" * 25
    assert console_client.get(f"/?page={huge}").status_code == 200
    assert console_client.get(f"/?page=-{huge}").status_code == 200
    assert console_client.get(f"/?assignee={huge}").status_code == 200
    assert console_client.get(f"/cases/{huge}").status_code == 404
    refused = console_client.post(
        f"/cases/{served.envelope_id}/links", data={"other": huge, "kind": "related"}
    )
    assert refused.status_code == 400
    assert "no case with that number" in refused.get_data(as_text=True)
    for path in (
        "attachments/{n}",
        "attachments/{n}/inspect",
        "attachments/{n}/redacted",
        "attachments/{n}/preview.png",
    ):
        assert console_client.get(f"/cases/{served.envelope_id}/" + path.format(n=huge)).status_code == 404
    assert console_client.post(f"/cases/{served.envelope_id}/links/{huge}/remove").status_code == 404
