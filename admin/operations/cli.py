"""Commands for retention and the digest (``flask --app admin purge``, ``digest``)."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from ..errors import ConsoleError
from ..extensions import data_dir, db
from ..sync.client import client_from_config


@click.command("purge")
@click.option("--dry-run", is_flag=True, help="Only list the envelope ids that would be purged.")
@with_appcontext
def purge_command(dry_run: bool) -> None:
    """Remove closed cases older than RETENTION_DAYS_CLOSED (0: keep
    forever) from the console, after the intake confirmed it deleted each
    envelope for this organization (docs/console.md, "Retention and purge").
    No passphrase needed: nothing is decrypted."""
    from . import retention

    days = int(current_app.config["RETENTION_DAYS_CLOSED"])
    if days <= 0 and not dry_run:
        click.echo("RETENTION_DAYS_CLOSED is 0: cases are kept forever; nothing to purge")
        return
    client = None
    if not dry_run:
        try:
            client = client_from_config(current_app.config)
        except ConsoleError as exc:
            raise click.ClickException(str(exc)) from exc

    def report(outcome: retention.PurgeOutcome) -> None:
        extra = "" if outcome.remaining_recipients is None else f" (remaining {outcome.remaining_recipients})"
        click.echo(f"{outcome.envelope_id}\tintake: {outcome.intake}{extra}")

    try:
        if client is not None:
            with client:
                result = retention.purge(db(), data_dir(), client, days, progress=report)
        else:
            result = retention.purge(db(), data_dir(), None, days, dry_run=True)
    except ConsoleError as exc:
        raise click.ClickException(str(exc)) from exc
    if dry_run:
        for envelope_id in result.due:
            click.echo(envelope_id)
        click.echo(
            f"{len(result.due)} cases would be purged (closed {days} days or more ago, with follow-ups)"
        )
        return
    click.echo(f"purged {result.purged}, failed {result.failed} (retried by the next purge)")
    if result.failed:
        raise click.exceptions.Exit(1)


@click.command("digest")
@with_appcontext
def digest_command() -> None:
    """E-mail every active account how many cases wait (new, needs
    information, urgent): counts only, no case, no link; sent also when all
    are zero. Off (exit 0) without ADMIN_SMTP_HOST."""
    from . import digest

    try:
        settings = digest.SmtpSettings.from_config(current_app.config)
        if settings is None:
            click.echo("digest: not configured (set ADMIN_SMTP_HOST to send it)")
            return
        result = digest.send_digest(db(), settings)
    except digest.DigestError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"digest: sent {result.sent}, failed {result.failed}")
    if result.failed:
        raise click.exceptions.Exit(1)
