"""Commands for the audit log (``flask --app admin audit verify``)."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from ..extensions import data_dir, db

audit_cli = AppGroup("audit", help="The hash-chained audit log.")


@audit_cli.command("verify")
def audit_verify_command() -> None:
    """Check every entry's hash, the chain and the sequence, and that the log
    reaches the recorded head (DATA_DIR/audit-head.json). Exits 1 naming the
    first bad entry."""
    from . import log as audit

    try:
        head = audit.read_head(data_dir())
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    with db().session() as session:
        result = audit.verify(session, head)
    if not result.ok:
        raise click.ClickException(f"audit log damaged: {result.reason}")
    last = f"head {result.head[0]} {result.head[1]}" if result.head else "empty"
    click.echo(f"audit log intact: {result.count} entries, {last}")
