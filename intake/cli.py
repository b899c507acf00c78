"""``flask --app intake …`` commands for the operator."""

from __future__ import annotations

import click
from flask import Flask, current_app

from core.db import Database

from .api.tokens import create_token
from .keyring import current_keyring
from .store.blobs import BlobStore
from .store.envelopes import remove_orphans


def register_cli(app: Flask) -> None:
    """Add the intake's commands to ``app.cli``."""

    @app.cli.group("api-token")
    def api_token() -> None:
        """Reviewer API tokens."""

    @api_token.command("create")
    @click.argument("recipient_id")
    def api_token_create(recipient_id: str) -> None:
        """Create a token for RECIPIENT_ID; prints it once, alone on the last
        line. Only its hash is stored."""
        if recipient_id not in current_keyring().recipient_ids:
            raise click.ClickException(f"no key in the keys directory has recipient id {recipient_id!r}")
        db: Database = current_app.extensions["intake.db"]
        with db.sessions() as session:
            token = create_token(session, recipient_id)
        click.echo(
            f"API token for {recipient_id} (shown once, store it in the console's ADMIN_INTAKE_TOKEN):"
        )
        click.echo(token)

    @app.cli.command("db-upgrade")
    def db_upgrade() -> None:
        """Run database migrations to the latest revision."""
        db: Database = current_app.extensions["intake.db"]
        db.upgrade()
        click.echo("database is up to date")

    @app.cli.command("remove-orphans")
    def remove_orphan_blobs() -> None:
        """Delete attachment blobs left without an envelope by a crash."""
        db: Database = current_app.extensions["intake.db"]
        blobs: BlobStore = current_app.extensions["intake.blobs"]
        with db.sessions() as session:
            click.echo(f"removed {remove_orphans(session, blobs)} orphan blob folders")
