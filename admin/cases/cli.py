"""Commands for stored cases (``flask --app admin cases list``, ``cases show``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import click
from flask import current_app
from flask.cli import AppGroup

from ..cliutil import audit_command, lock_after_command, unlock_from_stdin
from ..display import visible_controls
from ..errors import ConsoleError
from ..extensions import db, keyring
from . import reportview
from .service import count_cases, find_case, list_cases, open_case

cases_cli = AppGroup("cases", help="Stored cases.")


@cases_cli.command("list")
@click.option("--page", default=1, type=click.IntRange(min=1), help="Which page of --limit cases.")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=None,
    help="Cases per page (default: CASES_PER_PAGE, 50).",
)
@click.option("--all", "show_all", is_flag=True, help="Every case, however many (read page by page).")
def list_command(page: int, limit: int | None, show_all: bool) -> None:
    """List cases, newest first: seq, envelope id, day, sealed by,
    attachments, status. Either the seq or the envelope id names a case.
    When cases are left out, says how many on stderr and how to see them."""
    per_page = limit or int(current_app.config["CASES_PER_PAGE"])
    with db().session() as session:
        total = count_cases(session)
        click.echo("seq\tenvelope id\tday\tsealed by\tattachments\tstatus")
        while True:
            rows = list_cases(session, keyring(), page=page, per_page=per_page)
            for row in rows:
                click.echo(
                    f"{row.seq}\t{row.envelope_id}\t{row.day.isoformat()}\t{row.sealed_by}\t"
                    f"{row.attachment_count}\t{row.status}"
                )
            if not show_all or len(rows) < per_page:
                break
            page += 1
    more = max(0, total - (page - 1) * per_page - len(rows))
    if more > 0:
        click.echo(
            f"{more} more case(s) not shown: --page {page + 1} for the next {min(more, per_page)}, "
            "--limit N for more per page, --all for every case",
            err=True,
        )


@cases_cli.command("show")
@click.argument("case_ref", metavar="CASE_ID")
def show_command(case_ref: str) -> None:
    """Print a decrypted case (CASE_ID: seq number or envelope id); the key
    passphrase comes from stdin or a prompt."""
    unlock_from_stdin()
    try:
        with db().session() as session:
            opened = open_case(find_case(session, case_ref), keyring())
            s = opened.summary
            interview = reportview.taken_by_interview(session, opened.report, s.sealed_by, s.envelope_id)
            audit_command(session, "CASE_VIEW", opened.summary.envelope_id)
    except ConsoleError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        lock_after_command()
    click.echo(f"case {s.seq}  envelope {s.envelope_id}")
    click.echo(f"day: {s.day.isoformat()}  sealed by: {s.sealed_by}  status: {s.status}")
    for line in report_lines(opened.report, interview=interview):
        click.echo(line)
    click.echo("Attachments" if opened.attachments else "Attachments: none")
    for a in opened.attachments:
        name, media_type = visible_controls(a.name, 300), visible_controls(a.media_type, 100)
        click.echo(f"  [{a.position}] {name}  ({media_type}, {a.size} bytes, sha256 {a.sha256})")


def report_lines(report: Mapping[str, Any], *, interview: bool = False) -> list[str]:
    """The report as the case page shows it (admin/cases/reportview.py: the
    form's labels, codes beside tactics, unknown codes flagged), as lines
    of text for a terminal. Every untrusted text goes through
    :func:`admin.display.visible_controls`: a report is sealed by anyone,
    and an escape sequence printed raw would drive the reviewer's
    terminal (rewrite lines, set its title, and worse)."""
    from .reportview import report_sections

    lines: list[str] = []
    for section in report_sections(report, interview=interview):
        lines.append(section.title)
        for row in section.rows:
            label = visible_controls(row.label, 300)
            if row.pre:
                lines.append(f"  {label}:")
                for value in row.values:
                    lines.extend("    " + part for part in visible_controls(value.text).split("\n"))
                continue
            shown = [
                (f"{visible_controls(v.code, 40)} " if v.code else "")
                + visible_controls(v.text, 1000).replace("\n", " ")
                + (" (not a code of this form)" if v.unknown else "")
                for v in row.values
            ]
            lines.append(f"  {label}: " + ("; ".join(shown) if shown else "—"))
    return lines


# --------------------------------------------------------------------------
# Second-factor recovery and the audit log.
