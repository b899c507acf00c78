"""Commands for alarms (``flask --app admin alarms list``)."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from ..extensions import db

alarms_cli = AppGroup("alarms", help="Alarms: what only a seized or tampered intake would do.")


@alarms_cli.command("list")
@click.option("--all", "show_all", is_flag=True, help="Also the acknowledged ones (newest 200).")
def alarms_list_command(show_all: bool) -> None:
    """List the unacknowledged alarms (id, raised, times, kind, detail).
    Exits 1 while any is open, so a timer or a monitoring script can act on
    it. A coordinator acknowledges them on the console's Alarms page."""
    from . import service as alarms

    with db().session() as session:
        rows = alarms.recent_alarms(session) if show_all else alarms.open_alarms(session)
        for a in rows:
            state = "open" if a.acknowledged_at is None else f"acknowledged {a.acknowledged_at}"
            click.echo(f"{a.id}\t{a.raised_at}\t{a.count}\t{state}\t{a.kind}\t{a.detail}")
        still_open = alarms.count_open(session)
    click.echo(f"{still_open} unacknowledged", err=True)
    if still_open:
        raise click.exceptions.Exit(1)
