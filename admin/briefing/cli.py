"""Commands: ``flask --app admin briefing`` and ``flask --app admin coded
import|export``. Output names counts and files, never record content."""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext

from ..extensions import db
from .build import MIN_CELL, FilterError, Filters, Period, PeriodError, Vignette, build
from .fonts import MissingGlyphError
from .outputs import write_outputs
from .pages import Issue
from .record_store import briefing_records, import_records
from .records import (
    CodedRecordError,
    export_csv,
    export_json,
    read_records,
    read_release_docs,
)
from .render import check_printable
from .sdc import DisclosureError


@click.command("briefing")
@click.option("--from", "start", required=True, metavar="YYYY-MM", help="First month of incidents.")
@click.option("--to", "end", required=True, metavar="YYYY-MM", help="Last month of incidents.")
@click.option(
    "--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path), help="Output folder."
)
@click.option(
    "--k",
    default=MIN_CELL,
    show_default=True,
    type=click.IntRange(MIN_CELL, 100),
    help=f"Minimum cell, at least {MIN_CELL} (10: anything public).",
)
@click.option(
    "--p", "protection", default=None, type=click.IntRange(1, 99), help="Protection level (default ~k/3)."
)
@click.option("--no-html", is_flag=True, help="Skip the HTML reports.")
@click.option("--province", default=None, metavar="CODE", help="Only cases in this province (CA-ON, …).")
@click.option("--community", default=None, metavar="CODE", help="Only cases of this community (uyghur, …).")
@click.option(
    "--draft",
    is_flag=True,
    help="A draft: not recorded in the release ledger; every page and CSV says DRAFT — NOT FOR RELEASE.",
)
@click.option(
    "--vignettes",
    "with_vignettes",
    is_flag=True,
    help="Include released vignettes (encrypted: the key passphrase comes from stdin or a prompt).",
)
@with_appcontext
def briefing_command(
    start: str,
    end: str,
    out_dir: Path,
    k: int,
    protection: int | None,
    no_html: bool,
    province: str | None,
    community: str | None,
    draft: bool,
    with_vignettes: bool,
) -> None:
    """Publish a briefing: DIR/*.csv, DIR/briefing-{en,fr}.pdf (and .html),
    DIR/disclosure-log.csv, recorded in the release ledger after an audit
    jointly with every earlier release (further suppression where a
    combination would disclose). Refuses, writing and recording nothing,
    when the audit fails. --draft writes a marked draft and records
    nothing. With --vignettes, the reports print the released vignettes of
    counted cases whose reporters consented to quoting."""
    import dataclasses
    from datetime import date

    from ..audit import log as audit
    from ..audit.log import now_utc
    from ..cases.vignettes import for_briefing
    from ..cliutil import lock_after_command, unlock_from_stdin
    from ..extensions import keyring
    from .ledger import protect_across, publish
    from .releases import load_releases

    released: list[tuple[str, Vignette]] = []
    try:
        period = Period.parse(start, end)
        filters = Filters.parse(province, community)
        if with_vignettes:
            unlock_from_stdin()
            try:
                with db().session() as session:
                    released = for_briefing(session, keyring())
            finally:
                lock_after_command()
        with db().session() as session:
            records = briefing_records(session)
            earlier = load_releases(session)
        briefing = build(records, period, k, protection, released=released, filters=filters)
        briefing = protect_across(briefing, earlier)
    except (PeriodError, FilterError, DisclosureError) as exc:
        raise click.ClickException(f"no briefing released: {exc}") from exc
    release_id = None
    when = now_utc()
    # Dated the day it is published (UTC), as the ledger records it.
    issue = Issue.current(date.fromisoformat(when[:10]))
    if not issue.contact:
        click.echo("BRIEFING_CONTACT is not set: the notes name no contact person", err=True)
    if draft:
        briefing = dataclasses.replace(briefing, draft=True)
    try:
        # A character no font has would print as an empty box: refused
        # before anything is written or recorded.
        check_printable(briefing, issue)
    except MissingGlyphError as exc:
        raise click.ClickException(f"no briefing released: {exc}") from exc
    if draft:
        written = write_outputs(briefing, out_dir, html=not no_html, issue=issue)
    else:
        try:
            with db().session() as session:
                # Recorded and written together: a failure to write rolls
                # the record back, a refusal writes nothing.
                release_id = publish(session, briefing, "cli", when).uid
                written = write_outputs(briefing, out_dir, html=not no_html, issue=issue)
        except (DisclosureError, MissingGlyphError) as exc:
            raise click.ClickException(f"no briefing released: {exc}") from exc
    if briefing.vignettes:
        with db().session() as session:
            audit.record(
                session, "cli", audit.Action.BRIEFING_VIGNETTES, None, f"vignettes={len(briefing.vignettes)}"
            )
    if not with_vignettes:
        click.echo("released vignettes of this console not included (--vignettes to include them)", err=True)
    suppressed = len(briefing.protection.suppressed())
    linked = sum(s.value == "linked" for s in briefing.protection.status.values())
    click.echo(
        f"{briefing.total} cases; {suppressed} cells suppressed ({linked} because of earlier releases); "
        f"audit passed (k={k}) against {len(earlier)} earlier releases."
    )
    click.echo("DRAFT — NOT FOR RELEASE: not recorded." if draft else f"published as release {release_id}.")
    for path in written:
        click.echo(str(path))


coded_cli = AppGroup("coded", help="Coded records (no free text): import and export for coalition merges.")


@coded_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--source", default=None, help="Label of where the records come from (default: the file name).")
def import_command(path: Path, source: str | None) -> None:
    """Import coded records: another console's export (JSON or CSV) or CSV
    with the columns of shared/cases/coded_cases.csv. A JSON export's
    release ledger is imported too: later briefings are audited against
    those releases as against this console's own."""
    from ..audit import log as audit
    from .releases import LedgerError, Release, relabel, store_release

    label = source or path.stem[:64]
    try:
        records = read_records(path)
        releases = [
            relabel(Release.from_json(doc, f"release {i}"), label)
            for i, doc in enumerate(read_release_docs(path), start=1)
        ]
        with db().session() as session:
            result = import_records(session, records, label)
            new = [r.uid for r in releases if store_release(session, r)]
            if new:
                audit.record(
                    session, "cli", audit.Action.BRIEFING_LEDGER_IMPORT, None, f"releases={len(new)}"
                )
    except (CodedRecordError, LedgerError) as exc:
        raise click.ClickException(f"nothing imported: {exc}") from exc
    click.echo(
        f"added {result.added}, updated {result.updated}, "
        f"merged into existing cases (same envelope) {result.merged}, conflicts {len(result.conflicts)}"
    )
    if releases:
        click.echo(f"release ledger: {len(new)} new releases, {len(releases) - len(new)} already here")
    for case_id in result.conflicts:
        click.echo(f"conflict: case id {case_id} is used by a case with other envelopes; skipped", err=True)


@coded_cli.command("export")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--source", default="local", show_default=True, help="This organization's label in the export.")
def export_command(path: Path, source: str) -> None:
    """Export coded records (codes and envelope ids only: no text, no
    receipt, no envelope content). JSON unless PATH ends in .csv."""
    from .releases import as_mapping, load_releases

    with db().session() as session:
        records = briefing_records(session)
        releases = load_releases(session)
    if path.suffix.lower() == ".csv":
        data = export_csv(records)
        if releases:
            click.echo(
                "the release ledger travels only in the JSON export: export to .json to keep it", err=True
            )
    else:
        data = export_json(records, source, as_mapping(releases))
    path.write_text(data, encoding="utf-8")
    click.echo(f"exported {len(records)} coded cases to {path}")
    if path.suffix.lower() != ".csv":
        click.echo(f"with the release ledger: {len(releases)} releases")


def register_briefing_commands(app: Flask) -> None:
    """Add ``briefing`` and ``coded`` to ``app.cli``."""
    app.cli.add_command(briefing_command)
    app.cli.add_command(coded_cli)
