"""The `coded` and `briefing` commands, the coalition merge, and the
console page (coordinator or admin only)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from flask import Flask

from admin.briefing.records import export_json, read_records
from tests.admin.admin_testlib import AuthActions


def test_import_csv_then_briefing_command(console_app: Flask, coded_cases_path: Path, tmp_path: Path) -> None:
    runner = console_app.test_cli_runner()
    result = runner.invoke(args=["coded", "import", str(coded_cases_path)])
    assert result.exit_code == 0, result.output
    assert "added 420" in result.output
    again = runner.invoke(args=["coded", "import", str(coded_cases_path)])
    assert "added 0, updated 420" in again.output
    out = tmp_path / "out"
    result = runner.invoke(
        args=["briefing", "--from", "2025-01", "--to", "2026-10", "--out", str(out), "--k", "5"]
    )
    assert result.exit_code == 0, result.output
    names = {p.name for p in out.iterdir()}
    assert {
        "briefing-en.pdf",
        "briefing-fr.pdf",
        "disclosure-log.csv",
        "tactic-family-by-quarter.csv",
    } <= names
    assert "381 cases" in result.output


def test_briefing_below_the_release_threshold_is_refused(
    console_app: Flask, coded_cases_path: Path, tmp_path: Path, auth: AuthActions
) -> None:
    """k under 5 (TAXONOMY.md, "Release thresholds") is refused by the
    command and by the page, and nothing is written or shown."""
    runner = console_app.test_cli_runner()
    assert runner.invoke(args=["coded", "import", str(coded_cases_path)]).exit_code == 0
    out = tmp_path / "out"
    result = runner.invoke(
        args=["briefing", "--from", "2025-01", "--to", "2026-10", "--out", str(out), "--k", "4"]
    )
    assert result.exit_code == 2 and "--k" in result.output
    assert not out.exists()
    client = auth._client
    auth.login_as("coordinator")
    response = client.get("/briefing/?from=2025-01&to=2026-10&k=4")
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert "k must be between 5" in text
    assert "<table" not in text
    csv_response = client.get("/briefing/download/tactic.csv?from=2025-01&to=2026-10&k=2")
    assert csv_response.status_code == 400


def test_merge_counts_a_shared_envelope_once(
    console_app: Flask, coded_cases_path: Path, tmp_path: Path
) -> None:
    runner = console_app.test_cli_runner()
    records = read_records(coded_cases_path)[:30]
    # Another organization coded the same first 10 reports under its own case
    # ids (32-hex envelope ids accepted too), plus 5 new cases.
    theirs = [r.coded_fields() | {"case_id": f"ORG2-{i}"} for i, r in enumerate(records[:10])]
    new_ids = [f"{i:032x}" for i in range(5)]
    theirs += [
        records[10].coded_fields() | {"case_id": f"ORG2-new-{i}", "envelope_ids": e}
        for i, e in enumerate(new_ids)
    ]
    export = {"format": "tnr-coded-records", "version": 1, "source": "org2", "records": theirs}
    (tmp_path / "ours.json").write_text(export_json(records, "org1"))
    (tmp_path / "theirs.json").write_text(json.dumps(export))
    assert "added 30" in runner.invoke(args=["coded", "import", str(tmp_path / "ours.json")]).output
    result = runner.invoke(args=["coded", "import", str(tmp_path / "theirs.json")])
    assert result.exit_code == 0, result.output
    assert "added 5, updated 0, merged into existing cases (same envelope) 10" in result.output
    exported = tmp_path / "all.json"
    runner.invoke(args=["coded", "export", str(exported)])
    doc = json.loads(exported.read_text())
    assert len(doc["records"]) == 35
    allowed = {
        "case_id", "envelope_ids", "incident_month", "report_month", "province", "tactics", "communities",
        "attribution", "confidence", "disposition", "consent_statistics", "consent_quote", "person_ref",
    }  # fmt: skip
    assert all(set(r) <= allowed for r in doc["records"])


def test_import_rejects_values_outside_the_taxonomy(
    console_app: Flask, coded_cases_path: Path, tmp_path: Path
) -> None:
    lines = coded_cases_path.read_text().splitlines()
    bad = lines[1].replace(",CA-", ",XX-", 1)
    path = tmp_path / "bad.csv"
    path.write_text("\n".join([lines[0], bad]) + "\n")
    result = console_app.test_cli_runner().invoke(args=["coded", "import", str(path)])
    assert result.exit_code != 0
    assert "line 2: province" in result.output
    assert "XX-" not in result.output  # names the field, never the value


@pytest.mark.parametrize("name", ["deep.json", "deep.csv"])
def test_import_of_json_nested_thousands_deep_is_refused_in_words(
    console_app: Flask, tmp_path: Path, name: str
) -> None:
    path = tmp_path / name
    path.write_text('{"a":' + "[" * 100_000)  # deeper than the parser's stack
    result = console_app.test_cli_runner().invoke(args=["coded", "import", str(path)])
    assert result.exit_code != 0
    assert "not JSON" in result.output
    assert not isinstance(result.exception, RecursionError)


def test_briefing_page_is_for_coordinators(
    console_app: Flask, auth: AuthActions, coded_cases_path: Path
) -> None:
    console_app.test_cli_runner().invoke(args=["coded", "import", str(coded_cases_path)])
    client = auth._client
    auth.login_as("reviewer")
    assert client.get("/briefing/").status_code == 403
    assert client.get("/briefing/download/briefing-en.pdf?from=2025-01&to=2026-10").status_code == 403
    auth.logout()
    auth.login_as("coordinator")
    page = client.get("/briefing/?from=2025-01&to=2026-10&k=5")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Cases by tactic family and quarter of the incident" in html
    assert "381" in html
    csv_response = client.get("/briefing/download/tactic.csv?from=2025-01&to=2026-10&k=5")
    assert csv_response.status_code == 200
    assert csv_response.headers["Content-Disposition"].startswith("attachment")
    # Files from the page are drafts unless published (tests/briefing/test_briefing_ledger.py).
    assert csv_response.get_data(as_text=True).startswith("DRAFT — NOT FOR RELEASE\nunit,tactic,")
    assert client.get("/briefing/download/secrets.txt?from=2025-01&to=2026-10").status_code == 404
