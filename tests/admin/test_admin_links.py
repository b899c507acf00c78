"""Links between cases: related and duplicate-of, made by case
number or envelope id, shown from both ends with their kind, removed,
audited, and counted once in briefings when they are duplicates."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from admin.auth import accounts
from admin.briefing.build import Period, build
from admin.briefing.record_store import briefing_records, import_records
from admin.briefing.records import CodedRecord
from admin.cases import links
from admin.extensions import DB_EXTENSION
from admin.models import AuditEntry, Case, CaseLink
from admin.operations import retention
from tests.admin.admin_testlib import AuthActions, FakeIntake, synced


def status_of(app: Flask, envelope_id: str) -> str:
    with app.extensions[DB_EXTENSION].session() as session:
        return str(session.scalar(select(Case.status).where(Case.envelope_id == envelope_id)))


def audit_entries(app: Flask, action: str) -> list[tuple[str | None, str]]:
    with app.extensions[DB_EXTENSION].session() as session:
        rows = session.execute(
            select(AuditEntry.object_id, AuditEntry.detail)
            .where(AuditEntry.action == action)
            .order_by(AuditEntry.seq)
        ).all()
        return [(o, d) for o, d in rows]


def link_ids(app: Flask) -> list[int]:
    with app.extensions[DB_EXTENSION].session() as session:
        return list(session.scalars(select(CaseLink.id).order_by(CaseLink.id)))


def test_related_link_by_number_shown_both_ways_then_removed(
    console_app: Flask, console_client: FlaskClient, auth: AuthActions, fake_intake: FakeIntake
) -> None:
    a = fake_intake.add({"narrative": "first"})
    b = fake_intake.add({"narrative": "second"})
    synced(console_app, fake_intake)
    auth.login_as("reviewer")
    done = console_client.post(
        f"/cases/{a.envelope_id}/links", data={"other": str(b.seq), "kind": "related"}, follow_redirects=True
    )
    assert b"Linked." in done.data
    page_a = console_client.get(f"/cases/{a.envelope_id}").get_data(as_text=True)
    page_b = console_client.get(f"/cases/{b.envelope_id}").get_data(as_text=True)
    assert "related to" in page_a and b.envelope_id in page_a.split('id="case-links"')[1]
    assert "related to" in page_b and a.envelope_id in page_b.split('id="case-links"')[1]
    # A related link leaves the dispositions alone.
    assert status_of(console_app, a.envelope_id) == status_of(console_app, b.envelope_id) == "new"
    assert audit_entries(console_app, "case.link") == [(a.envelope_id, f"kind=related other={b.envelope_id}")]

    (link_id,) = link_ids(console_app)
    # Removed from the other end: a link belongs to both cases.
    gone = console_client.post(f"/cases/{b.envelope_id}/links/{link_id}/remove", follow_redirects=True)
    assert b"Link removed." in gone.data
    assert link_ids(console_app) == []
    assert "No linked cases." in console_client.get(f"/cases/{a.envelope_id}").get_data(as_text=True)
    assert audit_entries(console_app, "case.unlink") == [
        (b.envelope_id, f"kind=related other={a.envelope_id}")
    ]


def test_duplicate_by_envelope_id_sets_the_disposition(
    console_app: Flask, console_client: FlaskClient, auth: AuthActions, fake_intake: FakeIntake
) -> None:
    original = fake_intake.add({"narrative": "the incident"})
    dup = fake_intake.add({"narrative": "the incident, again"})
    synced(console_app, fake_intake)
    auth.login_as("reviewer")
    console_client.post(
        f"/cases/{dup.envelope_id}/links",
        data={"other": original.envelope_id.upper(), "kind": "duplicate"},
    )
    assert status_of(console_app, dup.envelope_id) == "duplicate"
    assert status_of(console_app, original.envelope_id) == "new"
    page_dup = console_client.get(f"/cases/{dup.envelope_id}").get_data(as_text=True)
    page_orig = console_client.get(f"/cases/{original.envelope_id}").get_data(as_text=True)
    assert "duplicate of" in page_dup and original.envelope_id in page_dup.split('id="case-links"')[1]
    assert "has a duplicate:" in page_orig and dup.envelope_id in page_orig.split('id="case-links"')[1]
    assert audit_entries(console_app, "case.link") == [
        (dup.envelope_id, f"kind=duplicate other={original.envelope_id} status=duplicate")
    ]
    # Removing the link does not guess the old disposition back.
    (link_id,) = link_ids(console_app)
    console_client.post(f"/cases/{original.envelope_id}/links/{link_id}/remove")
    assert link_ids(console_app) == [] and status_of(console_app, dup.envelope_id) == "duplicate"


def test_links_that_are_refused(
    console_app: Flask, console_client: FlaskClient, auth: AuthActions, fake_intake: FakeIntake
) -> None:
    a, b, c = (fake_intake.add({"narrative": n}) for n in ("a", "b", "c"))
    synced(console_app, fake_intake)
    auth.login_as("reviewer")

    def post(case: str, other: str, kind: str) -> str:
        response = console_client.post(
            f"/cases/{case}/links", data={"other": other, "kind": kind}, follow_redirects=True
        )
        return response.get_data(as_text=True)

    assert "cannot be linked to itself" in post(a.envelope_id, str(a.seq), "related")
    assert "no case with that number" in post(a.envelope_id, "999", "related")
    assert "no case with that number" in post(a.envelope_id, "not-a-ref", "related")
    assert "Linked." in post(a.envelope_id, b.envelope_id, "duplicate")
    assert "Linked." in post(b.envelope_id, c.envelope_id, "duplicate")
    # One link per pair, whichever direction.
    assert "linked already" in post(b.envelope_id, a.envelope_id, "related")
    # A case duplicates one case at most; a chain may not loop back.
    assert "already a duplicate" in post(a.envelope_id, c.envelope_id, "duplicate")
    assert "duplicate of this one" in post(c.envelope_id, a.envelope_id, "duplicate")
    assert status_of(console_app, c.envelope_id) == "new"
    console_client.post(f"/cases/{a.envelope_id}/links", data={"other": b.envelope_id, "kind": "merged"})
    assert len(link_ids(console_app)) == 2
    # A link of another pair cannot be removed through this case's page.
    with console_app.extensions[DB_EXTENSION].session() as session:
        bc = session.scalar(
            select(CaseLink.id).where(CaseLink.kind == "duplicate").order_by(CaseLink.id.desc())
        )
    assert console_client.post(f"/cases/{a.envelope_id}/links/{bc}/remove").status_code == 404
    assert len(link_ids(console_app)) == 2
    assert len(audit_entries(console_app, "case.link")) == 2


def test_purging_a_case_removes_its_links(
    console_app: Flask, auth: AuthActions, fake_intake: FakeIntake
) -> None:
    a = fake_intake.add({"narrative": "a"})
    b = fake_intake.add({"narrative": "b"})
    synced(console_app, fake_intake)
    email = auth.create("reviewer")
    with console_app.extensions[DB_EXTENSION].session() as session:
        case_a = session.scalar(select(Case).where(Case.envelope_id == a.envelope_id))
        user = accounts.find_user(session, email)
        assert case_a is not None and user is not None
        links.add_link(session, case_a, b.envelope_id, "related", user)
        retention.remove_case(session, b.envelope_id)
        session.flush()
        assert session.scalar(select(func.count(CaseLink.id))) == 0
        assert links.links_of(session, case_a) == []


def _coded(case_id: str, envelope_id: str) -> CodedRecord:
    return CodedRecord(
        case_id=case_id,
        envelope_ids=(envelope_id,),
        incident_month="2026-10",
        report_month="2026-11",
        province="CA-ON",
        tactics=("T05",),
        communities=(),
        attribution="C",
        confidence="medium",
        disposition="verified",
        consent_statistics=True,
    )


def test_briefings_count_linked_duplicates_once(
    console_app: Flask, console_client: FlaskClient, auth: AuthActions, fake_intake: FakeIntake
) -> None:
    served = [fake_intake.add({"narrative": f"report {i}"}) for i in range(7)]
    synced(console_app, fake_intake)
    with console_app.extensions[DB_EXTENSION].session() as session:
        import_records(session, [_coded(f"C{i}", s.envelope_id) for i, s in enumerate(served)])
        before = briefing_records(session)
    period = Period.parse("2026-10", "2026-10")
    assert len(before) == 7 and build(before, period, k=5).total == 7

    auth.login_as("reviewer")
    # 6 is a duplicate of 5, and 5 of 4: one incident, three reports.
    console_client.post(
        f"/cases/{served[6].envelope_id}/links", data={"other": str(served[5].seq), "kind": "duplicate"}
    )
    console_client.post(
        f"/cases/{served[5].envelope_id}/links", data={"other": str(served[4].seq), "kind": "duplicate"}
    )
    # Related cases are counted apart.
    console_client.post(
        f"/cases/{served[0].envelope_id}/links", data={"other": str(served[1].seq), "kind": "related"}
    )
    with console_app.extensions[DB_EXTENSION].session() as session:
        after = briefing_records(session)
    assert len(after) == 5
    group = next(r for r in after if served[4].envelope_id in r.envelope_ids)
    assert group.case_id == "C4"
    assert set(group.envelope_ids) == {served[i].envelope_id for i in (4, 5, 6)}
    assert build(after, period, k=5).total == 5
