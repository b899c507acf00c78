"""Commands for the sync and the watch of the intake (``flask --app admin sync``, ``intake check``)."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from ..cliutil import audit_command, lock_after_command, unlock_from_stdin
from ..errors import ConsoleError, SyncBusyError
from ..extensions import data_dir, db, keyring
from .client import client_from_config
from .limits import limits_from_config
from .run import SyncProgress, sync
from .storage import SyncResult


@click.command("sync")
@click.option(
    "--rescan",
    is_flag=True,
    help="List every envelope again from the start (after the intake was restored from a backup, or a "
    "cap was raised): those stored are skipped, those in quarantine are tried again.",
)
@with_appcontext
def sync_command(rescan: bool) -> None:
    """Pull new envelopes from the intake (key passphrase from stdin or a
    prompt)."""
    try:
        client = client_from_config(current_app.config)
    except ConsoleError as exc:
        raise click.ClickException(str(exc)) from exc
    unlock_from_stdin()

    def report(step: SyncProgress) -> None:
        # Counts only (stderr, so a timer's journal shows the run moving):
        # never an envelope id, which would tie the journal to the intake.
        click.echo(
            f"page {step.page}: {step.envelopes} envelopes; so far added {step.added}, "
            f"quarantined {step.quarantined}, skipped {step.skipped}",
            err=True,
        )

    result = SyncResult()
    # The rescan moves the cursor inside the sync, under its lock: never
    # while another process's sync would move it on again.
    how = " (rescan from the start)" if rescan else ""
    try:
        with client:
            sync(
                db(),
                keyring(),
                data_dir(),
                client,
                int(current_app.config["SYNC_PAGE_SIZE"]),
                progress=report,
                into=result,
                from_start=rescan,
                limits=limits_from_config(current_app.config),
            )
        with db().session() as session:
            audit_command(session, "SYNC", None, result.counts() + how)
    except ConsoleError as exc:
        # What was stored before the failure stays stored: say so, and
        # audit it, so the log's counts add up to the cases. A busy sync
        # lock means nothing was done at all, the rescan included.
        done = "" if isinstance(exc, SyncBusyError) else how
        with db().session() as session:
            audit_command(session, "SYNC_FAILED", None, f"{exc.__class__.__name__} {result.counts()}{done}")
        click.echo(f"stored before it stopped: {result}", err=True)
        raise click.ClickException(str(exc)) from exc
    finally:
        lock_after_command()
    click.echo(str(result))
    if current_app.config.get("INTAKE_CHECK_ON_SYNC", True):
        differences, failure = check_intake_now()
        if failure is not None:
            click.echo(f"intake check: {failure}", err=True)
        result.alarms.extend(f"intake check: {line}" for line in differences)
    if result.alarms:
        # Stored and alarmed; the timer's run fails so someone looks now.
        for detail in result.alarms:
            click.echo(f"ALARM: {detail}", err=True)
        raise click.ClickException(
            f"{len(result.alarms)} alarm(s) raised (see the console's Alarms page and "
            "docs/threat-model.md, 'Seized intake')"
        )


intake_cli = AppGroup("intake", help="The public intake, watched from the console.")


def check_intake_now(actor: str = "cli") -> tuple[list[str], str | None]:
    """:func:`admin.sync.watch.check_now` with the current app's settings."""
    from . import watch

    return watch.check_now(current_app.config, db(), data_dir(), actor=actor)


@intake_cli.command("check")
def intake_check_command() -> None:
    """Fetch the intake's public pages in every language, its key set
    (/keys.json) and every script and stylesheet they load, and compare
    them with the pinned roster and this console's copy of the release.
    Each difference raises an alarm and is printed; exits 1 if any. No
    passphrase needed. Through Tor: ADMIN_INTAKE_CHECK_PROXY."""
    differences, failure = check_intake_now()
    for line in differences:
        click.echo(f"ALARM: intake check: {line}", err=True)
    if failure is not None and not differences:
        raise click.ClickException(failure)
    if failure is not None:
        click.echo(failure, err=True)
    if differences:
        raise click.ClickException(
            f"the intake differs from the pinned roster or this release in {len(differences)} way(s); "
            "alarms raised (docs/threat-model.md, 'Seized intake')"
        )
    click.echo("intake check: the intake serves the pinned keys and this release")
