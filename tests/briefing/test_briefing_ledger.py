"""The release ledger and the audit across releases, tried as a journalist
or a hostile analyst would: subtract two published briefings of the same
coded cases, cell by cell, and look for counts between 1 and k-1.

Each attack is first shown to work on briefings built independently (what
the console did before it kept a ledger), then shown to fail on what the
command publishes: the second briefing is further protected (cells linked
to the earlier release suppressed, the disclosure log says why) or refused.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import random
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from flask import Flask
from sqlalchemy import func, select

from admin.briefing import outputs, render
from admin.briefing.build import Briefing, Filters, Period, build
from admin.briefing.records import CodedRecord, export_csv, read_records
from admin.briefing.sdc import Status
from admin.extensions import DB_EXTENSION
from admin.models import AuditEntry, BriefingRelease
from tests import pgtest
from tests.admin.admin_testlib import AuthActions

K = 5
Cells = dict[tuple[str, str, str], int]


def cells_of_csv(files: dict[str, str]) -> Cells:
    """``(table, row, column) -> number`` of every published cell of a
    briefing's table CSVs (``x`` left out); a draft's first line skipped."""
    out: Cells = {}
    for name, text in files.items():
        if name == "disclosure-log.csv" or not name.endswith(".csv"):
            continue
        rows = list(csv.reader(io.StringIO(text)))
        if rows[0] == [render.DRAFT_MARK]:
            rows = rows[1:]
        cols = rows[0][4:]
        for row in rows[1:]:
            for col, value in zip(cols, row[4:], strict=True):
                if value != render.SUPPRESSED:
                    out[(name, row[1], col)] = int(value)
    return out


def cells_of_dir(folder: Path) -> Cells:
    return cells_of_csv({p.name: p.read_text(encoding="utf-8") for p in folder.glob("*.csv")})


def cells_of_briefing(b: Briefing) -> Cells:
    return cells_of_csv({f"{t.spec.id}.csv": outputs.table_csv(b, t).decode() for t in b.tables})


def small_differences(a: Cells, b: Cells, k: int = K) -> list[tuple[tuple[str, str, str], int]]:
    """Every cell published in both whose difference is a count in 1..k-1."""
    return sorted((c, a[c] - b[c]) for c in a.keys() & b.keys() if 1 <= abs(a[c] - b[c]) <= k - 1)


def publish(app: Flask, out: Path, *args: str) -> str:
    result = app.test_cli_runner().invoke(args=["briefing", "--out", str(out), "--no-html", *args])
    assert result.exit_code == 0, result.output
    return result.output


def releases(app: Flask) -> list[BriefingRelease]:
    with app.extensions[DB_EXTENSION].session() as session:
        rows = session.scalars(select(BriefingRelease).order_by(BriefingRelease.id)).all()
        session.expunge_all()
        return list(rows)


def audit_count(app: Flask, action: str) -> int:
    with app.extensions[DB_EXTENSION].session() as session:
        return session.scalar(select(func.count()).where(AuditEntry.action == action)) or 0


@pytest.fixture
def coded(coded_cases_path: Path) -> list[CodedRecord]:
    return read_records(coded_cases_path)


@pytest.fixture
def other_database() -> Iterator[Callable[[], str | None]]:
    """A database URL for another console of the same test (PostgreSQL: a
    fresh schema; SQLite: None, the console's own file in its data folder)."""
    made: list[str] = []

    def make() -> str | None:
        if not pgtest.ON_POSTGRES:
            return None
        name, url = pgtest.new_schema("a")
        made.append(name)
        return url

    yield make
    for name in made:
        pgtest.drop_schema(name)


# -- overlapping periods ----------------------------------------------------------


def test_overlapping_periods_cannot_be_subtracted(
    console_app: Flask, coded_cases_path: Path, tmp_path: Path
) -> None:
    """Jan 2025 - Dec 2026, then Jan 2025 - Sep 2026, of the same cases."""
    records = read_records(coded_cases_path)
    long, short = Period.parse("2025-01", "2026-12"), Period.parse("2025-01", "2026-09")
    # The attack works on briefings built apart: a province's (or a
    # tactic's, a community's) last-quarter cases, which the longer
    # briefing suppressed, are the difference of two published totals.
    apart = cells_of_briefing(build(records, long)), cells_of_briefing(build(records, short))
    leak = small_differences(*apart)
    assert len(leak) >= 10, leak

    assert (
        console_app.test_cli_runner().invoke(args=["coded", "import", str(coded_cases_path)]).exit_code == 0
    )
    first, second = tmp_path / "long", tmp_path / "short"
    publish(console_app, first, "--from", "2025-01", "--to", "2026-12")
    output = publish(console_app, second, "--from", "2025-01", "--to", "2026-09")
    assert "because of earlier releases" in output and "against 1 earlier releases" in output
    assert small_differences(cells_of_dir(first), cells_of_dir(second)) == []
    ledger = releases(console_app)
    assert len(ledger) == 2 and [(r.period_start, r.period_end) for r in ledger] == [
        ("2025-01", "2026-12"),
        ("2025-01", "2026-09"),
    ]
    assert audit_count(console_app, "briefing.publish") == 2
    # The disclosure log says why, naming the earlier release.
    log = (second / "disclosure-log.csv").read_text()
    assert "linked: " in log and ledger[0].uid in log
    # The ledger holds numbers that left the console, never a coded case.
    body = ledger[0].body
    assert not any(e in body for r in records for e in r.envelope_ids)
    assert not any(r.case_id in body for r in records)


def test_a_period_whose_total_differs_by_less_than_k_is_refused(
    console_app: Flask, coded_cases_path: Path, tmp_path: Path
) -> None:
    """The grand total cannot be suppressed: a briefing whose total differs
    from an earlier one by 1..k-1 cases (here: three cases coded in
    November 2026) is refused, nothing written or recorded, and the refusal
    names the cell and the release."""
    records = read_records(coded_cases_path)
    late = [
        dataclasses.replace(
            r,
            case_id=f"LATE-{i}",
            envelope_ids=(f"{i + 1:032x}",),
            incident_month="2026-11",
            report_month="2026-11",
            consent_statistics=True,
        )
        for i, r in enumerate(records[:3])
    ]
    path = tmp_path / "cases.csv"
    path.write_text(export_csv([*records, *late]))
    runner = console_app.test_cli_runner()
    assert runner.invoke(args=["coded", "import", str(path)]).exit_code == 0
    publish(console_app, tmp_path / "a", "--from", "2025-01", "--to", "2026-10")
    out = tmp_path / "b"
    result = runner.invoke(args=["briefing", "--out", str(out), "--from", "2025-01", "--to", "2026-11"])
    assert result.exit_code != 0
    assert "no briefing released: with earlier releases: grand total with release" in result.output
    assert releases(console_app)[0].uid in result.output and "difference would be 3 cases" in result.output
    assert not out.exists()
    assert len(releases(console_app)) == 1 and audit_count(console_app, "briefing.publish") == 1


# -- nested filters ---------------------------------------------------------------


def nested_filter_cases() -> list[CodedRecord]:
    """480 invented cases in 2025, all Uyghur but ten (five Tibetan, five
    Hong Konger, in February in Ontario), three of which are attributed B:
    every community has at least k cases, yet a briefing about Uyghur cases
    subtracted from one about all cases shows 3 non-Uyghur cases with
    attribution B."""
    rng = random.Random(16)  # noqa: S311 (invented data, not a secret)
    tactics = ["T03", "T04", "T05", "T06", "T10", "T01"]
    out = []
    for i in range(480):
        other = i < 10
        month = "2025-02" if other else f"2025-{i % 12 + 1:02d}"
        out.append(
            CodedRecord(
                case_id=f"S-{i:04d}",
                envelope_ids=(f"{rng.getrandbits(128):032x}",),
                incident_month=month,
                report_month=month,
                province="CA-ON" if other else ["CA-ON", "CA-BC", "CA-QC", "CA-AB"][i % 4],
                tactics=("T04",) if other else (tactics[(i // 4) % 6],),
                communities=(("tibetan" if i < 5 else "hong_konger") if other else "uyghur",),
                attribution=("B" if i < 3 else "A") if other else "ABCD"[(i // 3) % 4],
                confidence="high",
                disposition="verified",
                consent_statistics=True,
            )
        )
    return out


def test_nested_filters_cannot_be_subtracted(console_app: Flask, tmp_path: Path) -> None:
    records = nested_filter_cases()
    period = Period.parse("2025-01", "2025-12")
    leak = small_differences(
        cells_of_briefing(build(records, period)),
        cells_of_briefing(build(records, period, filters=Filters(community="uyghur"))),
    )
    assert leak, "the attack works on briefings built apart"

    path = tmp_path / "cases.csv"
    path.write_text(export_csv(records))
    assert console_app.test_cli_runner().invoke(args=["coded", "import", str(path)]).exit_code == 0
    everyone, uyghur = tmp_path / "all", tmp_path / "uyghur"
    publish(console_app, everyone, "--from", "2025-01", "--to", "2025-12")
    publish(console_app, uyghur, "--from", "2025-01", "--to", "2025-12", "--community", "uyghur")
    assert small_differences(cells_of_dir(everyone), cells_of_dir(uyghur)) == []
    assert "linked: " in (uyghur / "disclosure-log.csv").read_text()
    assert releases(console_app)[1].filters == "community=uyghur"


# -- coalition merges ----------------------------------------------------------------


def test_coalition_merge_cannot_be_subtracted_from_one_organizations_release(
    other_database: Callable[[], str | None],
    make_console: Callable[..., Flask],
    coded_cases_path: Path,
    tmp_path: Path,
) -> None:
    """Organization A publishes from its own cases and exports them (with
    its ledger); the coalition console merges A's and B's exports and
    publishes the same period. Coalition minus A would be B's cases."""
    records = read_records(coded_cases_path)
    ours, theirs = records[:340], records[340:]
    period = Period.parse("2025-01", "2026-10")
    apart = cells_of_briefing(build(records, period)), cells_of_briefing(build(ours, period))
    leak = small_differences(*apart)
    assert leak, "the attack works without the ledger"

    org_a = make_console(DATA_DIR=str(tmp_path / "org-a"), DATABASE_URL=other_database())
    (tmp_path / "a.csv").write_text(export_csv(ours))
    (tmp_path / "b.csv").write_text(export_csv(theirs))
    assert org_a.test_cli_runner().invoke(args=["coded", "import", str(tmp_path / "a.csv")]).exit_code == 0
    publish(org_a, tmp_path / "out-a", "--from", "2025-01", "--to", "2026-10")
    exported = tmp_path / "a.json"
    result = org_a.test_cli_runner().invoke(args=["coded", "export", str(exported), "--source", "org-a"])
    assert "with the release ledger: 1 releases" in result.output
    doc = json.loads(exported.read_text())
    assert len(doc["releases"]) == 1 and doc["releases"][0]["uid"] == releases(org_a)[0].uid

    coalition = make_console(DATA_DIR=str(tmp_path / "coalition"), DATABASE_URL=other_database())
    runner = coalition.test_cli_runner()
    result = runner.invoke(args=["coded", "import", str(exported), "--source", "org-a"])
    assert result.exit_code == 0, result.output
    assert "release ledger: 1 new releases" in result.output
    again = runner.invoke(args=["coded", "import", str(exported), "--source", "org-a"])
    assert "release ledger: 0 new releases, 1 already here" in again.output
    result = runner.invoke(args=["coded", "import", str(tmp_path / "b.csv"), "--source", "org-b"])
    assert result.exit_code == 0, result.output
    (imported,) = releases(coalition)
    assert imported.origin == "org-a" and imported.uid == releases(org_a)[0].uid
    assert audit_count(coalition, "briefing.ledger_import") == 1

    output = publish(coalition, tmp_path / "out-all", "--from", "2025-01", "--to", "2026-10")
    assert "against 1 earlier releases" in output
    assert small_differences(cells_of_dir(tmp_path / "out-a"), cells_of_dir(tmp_path / "out-all")) == []
    assert "from org-a" in (tmp_path / "out-all" / "disclosure-log.csv").read_text()


# -- drafts and the console page ------------------------------------------------------


def _pdf_pages_text(data: bytes) -> list[str]:
    doc = pdfium.PdfDocument(data)
    try:
        texts = []
        for page in doc:
            textpage = page.get_textpage()
            texts.append(textpage.get_text_range())
            textpage.close()
            page.close()
        return texts
    finally:
        doc.close()


def test_a_draft_is_marked_everywhere_and_recorded_nowhere(
    console_app: Flask, coded_cases_path: Path, tmp_path: Path
) -> None:
    runner = console_app.test_cli_runner()
    assert runner.invoke(args=["coded", "import", str(coded_cases_path)]).exit_code == 0
    out = tmp_path / "draft"
    result = runner.invoke(
        args=["briefing", "--out", str(out), "--from", "2025-01", "--to", "2026-10", "--draft"]
    )
    assert result.exit_code == 0, result.output
    assert "DRAFT — NOT FOR RELEASE: not recorded." in result.output
    assert releases(console_app) == [] and audit_count(console_app, "briefing.publish") == 0
    for path in out.glob("*.csv"):
        assert path.read_text(encoding="utf-8").startswith("DRAFT — NOT FOR RELEASE\n"), path.name
    for lang in ("en", "fr"):
        assert "DRAFT — NOT FOR RELEASE" in (out / f"briefing-{lang}.html").read_text(encoding="utf-8")
        pages = _pdf_pages_text((out / f"briefing-{lang}.pdf").read_bytes())
        assert len(pages) >= 2
        assert all("DRAFT — NOT FOR RELEASE" in text for text in pages)
    # A published briefing carries no mark.
    publish(console_app, tmp_path / "real", "--from", "2025-01", "--to", "2026-10")
    assert not (tmp_path / "real" / "tactic.csv").read_text().startswith("DRAFT")


def test_console_drafts_and_publishes(console_app: Flask, auth: AuthActions, coded_cases_path: Path) -> None:
    console_app.test_cli_runner().invoke(args=["coded", "import", str(coded_cases_path)])
    client = auth._client
    form = {"from": "2025-01", "to": "2026-12", "k": "5"}
    auth.login_as("reviewer")
    assert client.post("/briefing/publish", data=form).status_code == 403
    assert client.post("/briefing/draft", data=form).status_code == 403
    auth.logout()
    auth.login_as("coordinator")
    page = client.get("/briefing/?from=2025-01&to=2026-12&k=5").get_data(as_text=True)
    assert 'action="/briefing/publish"' in page and 'action="/briefing/draft"' in page
    assert "No briefing has been published yet." in page

    draft = client.post("/briefing/draft", data=form)
    assert draft.status_code == 200 and draft.mimetype == "application/zip"
    with zipfile.ZipFile(io.BytesIO(draft.data)) as archive:
        csvs = [n for n in archive.namelist() if n.endswith(".csv")]
        assert csvs and all(archive.read(n).decode().startswith("DRAFT — NOT FOR RELEASE\n") for n in csvs)
    assert releases(console_app) == []

    first = client.post("/briefing/publish", data=form)
    assert first.status_code == 200 and first.mimetype == "application/zip"
    (release,) = releases(console_app)
    assert (
        release.actor.startswith("coordinator")
        and f"briefing-{release.uid}.zip" in first.headers["Content-Disposition"]
    )
    with zipfile.ZipFile(io.BytesIO(first.data)) as archive:
        long = cells_of_csv(
            {n.split("/")[-1]: archive.read(n).decode() for n in archive.namelist() if n.endswith(".csv")}
        )
    # The shorter period, published from the page, is protected against it.
    second = client.post("/briefing/publish", data=form | {"to": "2026-09"})
    assert second.status_code == 200, second.get_data(as_text=True)
    with zipfile.ZipFile(io.BytesIO(second.data)) as archive:
        short = cells_of_csv(
            {n.split("/")[-1]: archive.read(n).decode() for n in archive.namelist() if n.endswith(".csv")}
        )
    assert small_differences(long, short) == []
    assert audit_count(console_app, "briefing.publish") == 2
    ledger_page = client.get("/briefing/").get_data(as_text=True)
    assert release.uid in ledger_page
    # A refusal records nothing and says why.
    before = len(releases(console_app))
    refused = client.post("/briefing/publish", data=form | {"from": "2025-02"})
    if refused.status_code == 400:
        assert "Not published: with earlier releases" in refused.get_data(as_text=True)
        assert len(releases(console_app)) == before


def test_linked_cells_keep_the_audit_guarantee(coded: list[CodedRecord]) -> None:
    """After further protection, no published cell is below k and every
    primary or linked cell keeps an interval of at least p+1 values."""
    from admin.briefing.ledger import protect_across, release_of
    from admin.briefing.sdc import check

    earlier = release_of(build(coded, Period.parse("2025-01", "2026-12")), "test", "2026-12-01T00:00:00Z")
    b = protect_across(build(coded, Period.parse("2025-01", "2026-09")), [earlier])
    assert any(s is Status.LINKED for s in b.protection.status.values())
    check(b.protection, b.values, b.relations)
    for kk, iv in b.protection.intervals.items():
        assert iv.width >= b.protection.p, kk


def test_publishing_audits_against_the_ledger_as_it_is_then(console_app: Flask) -> None:
    """A briefing protected against an older ledger (another coordinator
    published meanwhile) is refused at the moment of recording."""
    from admin.audit.log import now_utc
    from admin.briefing.ledger import publish as record
    from admin.briefing.sdc import DisclosureError

    records = nested_filter_cases()
    period = Period.parse("2025-01", "2025-12")
    everyone = build(records, period)
    uyghur = build(records, period, filters=Filters(community="uyghur"))  # built before the first is out
    database = console_app.extensions[DB_EXTENSION]
    with database.session() as session:
        record(session, everyone, "first@example.org", now_utc())
    with pytest.raises(DisclosureError, match="ledger changed"), database.session() as session:
        record(session, uyghur, "second@example.org", now_utc())
    assert [r.actor for r in releases(console_app)] == ["first@example.org"]
