"""`flask --app admin sync` reports each page on stderr, counts only
(the command runs from a timer, its output lands in the journal)."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskCliRunner

from tests.admin.admin_testlib import PASSPHRASE, FakeIntake, canary


def test_progress_per_page_on_stderr_counts_only(
    console_app: Flask, console_runner: FlaskCliRunner, fake_intake: FakeIntake
) -> None:
    marks = [canary() for _ in range(5)]
    served = [fake_intake.add({"narrative": m}) for m in marks]
    console_app.config["SYNC_PAGE_SIZE"] = 2
    result = console_runner.invoke(args=["sync"], input=PASSPHRASE + "\n")
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    assert lines == [
        "page 1: 2 envelopes; so far added 2, quarantined 0, skipped 0",
        "page 2: 2 envelopes; so far added 4, quarantined 0, skipped 0",
        "page 3: 1 envelopes; so far added 5, quarantined 0, skipped 0",
    ]
    assert "page" not in result.stdout and "added 5, quarantined 0, skipped 0" in result.stdout
    everything = result.stdout + result.stderr
    for m, s in zip(marks, served, strict=True):
        assert m not in everything and s.envelope_id not in everything

    again = console_runner.invoke(args=["sync"], input=PASSPHRASE + "\n")
    assert again.stderr.splitlines() == ["page 1: 0 envelopes; so far added 0, quarantined 0, skipped 0"]
