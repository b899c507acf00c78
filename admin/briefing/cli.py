"""Commands: ``flask --app admin briefing`` and ``flask --app admin coded
import|export``. Output names counts and files, never record content."""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext

from ..extensions import db
from .build import MIN_CELL, Period, PeriodError, Vignette, build
from .records import (
    CodedRecordError,
    briefing_records,
    export_csv,
    export_json,
    import_records,
    read_records,
)
from .render import write_outputs
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
    with_vignettes: bool,
) -> None:
    """Build a briefing: DIR/*.csv, DIR/briefing-{en,fr}.pdf (and .html),
    DIR/disclosure-log.csv. Refuses when the intruder audit fails. With
    --vignettes, the reports print the released vignettes of counted cases
    whose reporters consented to quoting."""
    from .. import audit
    from ..cli import lock_after_command, unlock_from_stdin
    from ..extensions import keyring
    from ..vignettes import for_briefing

    released: list[tuple[str, Vignette]] = []
    try:
        period = Period.parse(start, end)
        if with_vignettes:
            unlock_from_stdin()
            try:
                with db().session() as session:
                    released = for_briefing(session, keyring())
            finally:
                lock_after_command()
        with db().session() as session:
            records = briefing_records(session)
        briefing = build(records, period, k, protection, released=released)
    except (PeriodError, DisclosureError) as exc:
        raise click.ClickException(f"no briefing released: {exc}") from exc
    written = write_outputs(briefing, out_dir, html=not no_html)
    if briefing.vignettes:
        with db().session() as session:
            audit.record(
                session, "cli", audit.Action.BRIEFING_VIGNETTES, None, f"vignettes={len(briefing.vignettes)}"
            )
    if not with_vignettes:
        click.echo("released vignettes of this console not included (--vignettes to include them)", err=True)
    suppressed = len(briefing.protection.suppressed())
    click.echo(f"{briefing.total} cases; {suppressed} cells suppressed; audit passed (k={k}).")
    for path in written:
        click.echo(str(path))


coded_cli = AppGroup("coded", help="Coded records (no free text): import and export for coalition merges.")


@coded_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--source", default=None, help="Label of where the records come from (default: the file name).")
def import_command(path: Path, source: str | None) -> None:
    """Import coded records: another console's export (JSON or CSV) or CSV
    with the columns of shared/cases/coded_cases.csv."""
    try:
        records = read_records(path)
        with db().session() as session:
            result = import_records(session, records, source or path.stem[:64])
    except CodedRecordError as exc:
        raise click.ClickException(f"nothing imported: {exc}") from exc
    click.echo(
        f"added {result.added}, updated {result.updated}, "
        f"merged into existing cases (same envelope) {result.merged}, conflicts {len(result.conflicts)}"
    )
    for case_id in result.conflicts:
        click.echo(f"conflict: case id {case_id} is used by a case with other envelopes; skipped", err=True)


@coded_cli.command("export")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--source", default="local", show_default=True, help="This organization's label in the export.")
def export_command(path: Path, source: str) -> None:
    """Export coded records (codes and envelope ids only: no text, no
    receipt, no envelope content). JSON unless PATH ends in .csv."""
    with db().session() as session:
        records = briefing_records(session)
    data = export_csv(records) if path.suffix.lower() == ".csv" else export_json(records, source)
    path.write_text(data, encoding="utf-8")
    click.echo(f"exported {len(records)} coded cases to {path}")


def register_briefing_commands(app: Flask) -> None:
    """Add ``briefing`` and ``coded`` to ``app.cli``."""
    app.cli.add_command(briefing_command)
    app.cli.add_command(coded_cli)
